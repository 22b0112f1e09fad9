// The reconnect backoff: exponential, bounded, jittered in its upper half.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../../src/store/index.ts";

test("backoff doubles from its base to its bound, and jitter keeps each wait between half and all of it", () => {
  const policy = { baseMs: 500, maxMs: 10_000 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10, 100].map((attempt) => backoffDelay(attempt, policy, () => 1)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  assert.deepEqual([0, 1, 5].map((attempt) => backoffDelay(attempt, policy, () => 0)), [250, 500, 5000]);
  for (let i = 0; i < 100; i++) {
    const wait = backoffDelay(3, policy);
    assert.ok(wait >= 2000 && wait <= 4000, String(wait));
  }
});
