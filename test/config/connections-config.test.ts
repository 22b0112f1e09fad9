// The `connections` block: viewer connection deadlines and caps, their defaults, and errors that name the path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.ts";
import { assertOnlyIssue, minimal } from "./fixture.ts";

const parse = (document: unknown) => parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });

test("without a connections block, the defaults apply", () => {
  assert.deepEqual(parse(minimal()).connections, {
    handshakeMs: 10_000,
    firstByteMs: 10_000,
    requestHeadMs: 20_000,
    idleMs: 60_000,
    stalledMs: 120_000,
    maxConnections: 20_000,
    maxConnectionsPerAddress: 256,
  });
});

test("each setting is read, durations with their unit", () => {
  const document = { ...minimal(), connections: { timeouts: { handshake: "5s", firstByte: "2s", requestHead: "15s", idle: "75s", stalled: "30s" }, max: { total: 50_000, perAddress: 64 } } };
  assert.deepEqual(parse(document).connections, { handshakeMs: 5_000, firstByteMs: 2_000, requestHeadMs: 15_000, idleMs: 75_000, stalledMs: 30_000, maxConnections: 50_000, maxConnectionsPerAddress: 64 });
  // Settings left out keep their default.
  assert.equal(parse({ ...minimal(), connections: { max: { perAddress: 8 } } }).connections.idleMs, 60_000);
});

test("bad values are refused with their path", () => {
  assertOnlyIssue({ ...minimal(), connections: { timeouts: { idle: 75 } } }, "connections.timeouts.idle", 'a duration needs a unit, as in "75s"');
  assertOnlyIssue({ ...minimal(), connections: { timeouts: { firstByte: "1h" } } }, "connections.timeouts.firstByte", "must be between 1ms and 10m");
  assertOnlyIssue({ ...minimal(), connections: { max: { perAddress: 0 } } }, "connections.max.perAddress", "must be at least 1");
  assertOnlyIssue({ ...minimal(), connections: { max: { total: 1.5 } } }, "connections.max.total", "whole number");
  assertOnlyIssue({ ...minimal(), connections: { timeouts: { keepalive: "75s" } } }, "connections.timeouts.keepalive", "unknown key");
});
