// W3C traceparent checks and the ids the edge makes when a viewer sent none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newTraceparent, RequestTrace, validTraceId } from "../../src/observe/index.ts";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test("validTraceId takes the spec's valid forms and refuses the rest", () => {
  assert.equal(validTraceId(VALID), "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(validTraceId("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), "4bf92f3577b34da6a3ce929d0e0e4736", "not sampled");
  // A later version may carry more after a dash (§4.3).
  assert.equal(validTraceId("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next"), "4bf92f3577b34da6a3ce929d0e0e4736");
  for (const invalid of [
    undefined,
    ["a", "b"],
    "",
    VALID.toUpperCase(),
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    `${VALID}-more`,
    `${VALID}, ${VALID}`,
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  ]) {
    assert.equal(validTraceId(invalid), null, String(invalid));
  }
});

test("newTraceparent makes valid, distinct ids, across refills of its random pool", () => {
  const seen = new Set<string>();
  for (let index = 0; index < 1000; index++) {
    const made = newTraceparent();
    assert.match(made, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(validTraceId(made), null);
    seen.add(made.slice(3, 35));
  }
  assert.equal(seen.size, 1000);
});

test("RequestTrace keeps a valid viewer traceparent and its tracestate, and replaces an invalid one without it", () => {
  const kept = new RequestTrace({ traceparent: VALID, tracestate: "congo=t61rcWkgMzE" });
  assert.deepEqual([kept.traceparent, kept.traceId, kept.tracestate], [VALID, "4bf92f3577b34da6a3ce929d0e0e4736", "congo=t61rcWkgMzE"]);
  const replaced = new RequestTrace({ traceparent: VALID.toUpperCase(), tracestate: "congo=t61rcWkgMzE" });
  assert.notEqual(replaced.traceparent, VALID.toUpperCase());
  assert.equal(replaced.traceId, replaced.traceparent.slice(3, 35));
  assert.equal(replaced.tracestate, undefined);
  // Asked twice, the same: one trace per request.
  const made = new RequestTrace({});
  assert.equal(made.traceId, made.traceId);
  assert.equal(made.traceparent.slice(3, 35), made.traceId);
});

test("with the edge's span, the origin's traceparent names the span; the viewer's tracestate goes on only when the span continues its trace", () => {
  const viewer = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "congo=t61rcWkgMzE" };
  const continued = new RequestTrace(viewer, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", continuesViewer: true });
  assert.equal(continued.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(continued.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");
  assert.equal(continued.tracestate, "congo=t61rcWkgMzE");
  const fresh = new RequestTrace({ tracestate: "congo=t61rcWkgMzE" }, { traceId: "a".repeat(32), traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-00`, continuesViewer: false });
  assert.equal(fresh.traceparent, `00-${"a".repeat(32)}-${"b".repeat(16)}-00`);
  assert.equal(fresh.tracestate, undefined);
});
