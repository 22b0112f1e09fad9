// The primary and its workers read only their own message types: the metrics exchange is theirs, prom-client's cluster messages are not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isFromWorker, isToWorker } from "../../../src/cli/run/worker-messages.ts";

test("metrics messages pass the filters; prom-client's cluster messages (never sent: no AggregatorRegistry is made) would not", () => {
  assert.ok(isToWorker({ type: "metrics-request", id: 1 }));
  assert.ok(isFromWorker({ type: "metrics", id: 1, metrics: [] }));
  assert.ok(!isFromWorker({ type: "metrics-request", id: 1 }), "a request is the primary's, not a worker's");
  assert.ok(!isToWorker({ type: "metrics", id: 1, metrics: [] }));
  for (const type of ["prom-client:getMetricsReq", "prom-client:getMetricsRes"]) {
    assert.ok(!isToWorker({ type, requestId: 0 }), type);
    assert.ok(!isFromWorker({ type, requestId: 0, metrics: [] }), type);
  }
});
