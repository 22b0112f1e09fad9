// The connection log's rate limit: one line per address and reason per window, then one line with the count of those suppressed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnectionLog } from "../../src/connections/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createLogCapture } from "../support/test-edge.ts";

test("a flood from one address writes one line, then the count of the lines it suppressed", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const capture = createLogCapture();
  const log = createConnectionLog(createLogger({ destination: capture.stream }), { listener: "viewers", windowMs: 1_000 });
  for (let i = 0; i < 500; i++) log.closed("first-byte-timeout", "203.0.113.7");
  log.closed("first-byte-timeout", "198.51.100.1");
  log.closed("not-tls", "203.0.113.7");
  t.mock.timers.tick(1_000);
  // A new window: the address is logged again.
  log.closed("first-byte-timeout", "203.0.113.7");
  log.stop();
  // pino hands lines to the capture stream asynchronously: read them on the next turn.
  return new Promise<void>((resolve) => setImmediate(() => {
    const closed = capture.logs.filter((line) => line.msg === "connection closed");
    assert.deepEqual(closed.map((line) => [line.reason, line.remote, line.listener]), [
      ["first-byte-timeout", "203.0.113.7", "viewers"],
      ["first-byte-timeout", "198.51.100.1", "viewers"],
      ["not-tls", "203.0.113.7", "viewers"],
      ["first-byte-timeout", "203.0.113.7", "viewers"],
    ]);
    const suppressed = capture.logs.filter((line) => line.msg === "connection log lines suppressed");
    assert.deepEqual(suppressed.map((line) => [line.reason, line.remote, line.suppressed]), [["first-byte-timeout", "203.0.113.7", 499]]);
    resolve();
  }));
});

test("past maxAddresses, lines are counted together rather than remembered", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const capture = createLogCapture();
  const log = createConnectionLog(createLogger({ destination: capture.stream }), { listener: "guard", maxAddresses: 2 });
  for (let i = 0; i < 10; i++) log.closed("address-connection-limit", `10.0.0.${i}`);
  log.stop();
  return new Promise<void>((resolve) => setImmediate(() => {
    assert.equal(capture.logs.filter((line) => line.msg === "connection closed").length, 2);
    const overflow = capture.logs.find((line) => line.msg === "connection log lines suppressed (too many addresses)");
    assert.equal(overflow?.suppressed, 8);
    resolve();
  }));
});
