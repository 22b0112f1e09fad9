// The hit-for-miss memory: which keys it keeps, and for how long, when a busy uncacheable URL is marked by every request.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UNCACHEABLE_MEMORY_MS, createUncacheableKeys } from "../../src/cache/uncacheable-keys.ts";

describe("uncacheable keys", () => {
  test("a key marked again within the second keeps its place: it is evicted first when it is the oldest", () => {
    const keys = createUncacheableKeys(2);
    keys.mark("a", 0);
    keys.mark("b", 10);
    keys.mark("a", 500);
    keys.mark("c", 600);
    assert.equal(keys.isUncacheable("a", 700), false);
    assert.equal(keys.isUncacheable("b", 700), true);
    assert.equal(keys.isUncacheable("c", 700), true);
  });

  test("a key marked again after a second moves to the end, with its new time", () => {
    const keys = createUncacheableKeys(2);
    keys.mark("a", 0);
    keys.mark("b", 10);
    keys.mark("a", 1_500);
    keys.mark("c", 1_600);
    assert.equal(keys.isUncacheable("b", 1_700), false);
    assert.equal(keys.isUncacheable("a", UNCACHEABLE_MEMORY_MS + 1_000), true);
    assert.equal(keys.isUncacheable("a", UNCACHEABLE_MEMORY_MS + 1_500), false);
  });

  test("a clock that went back re-marks at once", () => {
    const keys = createUncacheableKeys(2);
    keys.mark("a", 5_000);
    keys.mark("a", 4_000);
    assert.equal(keys.isUncacheable("a", 4_000 + UNCACHEABLE_MEMORY_MS - 1), true);
  });
});
