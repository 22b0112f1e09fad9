// The idle memory release: one collection when the event loop was idle and RSS grew, none while busy or without growth, none after stop (mocked timers and probes); and V8's last-resort collection shrinks the young generation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getHeapSpaceStatistics } from "node:v8";
import { exposeGc, releaseMemoryWhenIdle } from "../../../src/edge/runtime/idle-memory.ts";
import type { IdleMemoryProbes } from "../../../src/edge/runtime/idle-memory.ts";
import { createLogger } from "../../../src/observe/index.ts";

const MB = 1024 * 1024;
const log = createLogger({ level: "silent" });

/** Probes whose utilization and RSS the test sets; each collection drops RSS to `rssAfterCollect`. */
function scriptedProbes(state: { utilization: number; rss: number; rssAfterCollect: number; isAvailable?: boolean; heapUsed?: number }): IdleMemoryProbes & { collections: number } {
  const probes = {
    collections: 0,
    utilizationSinceLastCall: () => state.utilization,
    rssBytes: () => state.rss,
    heapUsedBytes: () => state.heapUsed ?? 30 * MB,
    collect: () => {
      if (state.isAvailable === false) return false;
      probes.collections += 1;
      state.rss = state.rssAfterCollect;
      return true;
    },
  };
  return probes;
}

test("collects once the event loop was idle and RSS grew 4 MB since the last collection (after the first, only after 30 s idle in a row), never while busy", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const state = { utilization: 0.9, rss: 120 * MB, rssAfterCollect: 80 * MB };
  const probes = scriptedProbes(state);
  const release = releaseMemoryWhenIdle(log, probes);
  t.after(() => release.stop());
  t.mock.timers.tick(2_000);
  assert.equal(probes.collections, 0, "busy: no collection");
  state.utilization = 0.01;
  t.mock.timers.tick(2_000);
  assert.equal(probes.collections, 1, "idle and grown: one collection");
  t.mock.timers.tick(30_000);
  assert.equal(probes.collections, 1, "still idle (30 s in a row), but nothing grew since");
  state.rss = 83 * MB;
  t.mock.timers.tick(2_000);
  assert.equal(probes.collections, 1, "3 MB of growth is not enough");
  // A burst (busy), then a lull: its growth is given back after 30 s of idleness in a row, not at the first idle check.
  state.utilization = 0.9;
  state.rss = 110 * MB;
  t.mock.timers.tick(2_000);
  state.utilization = 0.01;
  t.mock.timers.tick(14 * 2_000);
  assert.equal(probes.collections, 1, "a lull of 28 s: the next requests are not slowed by a collection");
  state.utilization = 0.9;
  t.mock.timers.tick(2_000);
  state.utilization = 0.01;
  t.mock.timers.tick(14 * 2_000);
  assert.equal(probes.collections, 1, "a busy check starts the count again");
  t.mock.timers.tick(2_000);
  assert.equal(probes.collections, 2, "30 s idle in a row: a later burst's growth is given back too");
  release.stop();
  state.rss = 200 * MB;
  t.mock.timers.tick(10_000);
  assert.equal(probes.collections, 2, "nothing after stop");
});

test("a heap past 256 MiB is not collected, however idle: the whole heap's collection would pause every request", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  // A memory tier of a million small entries: a last-resort collection there pauses the event loop for about a second.
  const state = { utilization: 0.01, rss: 1_300 * MB, rssAfterCollect: 1_250 * MB, heapUsed: 700 * MB };
  const probes = scriptedProbes(state);
  const release = releaseMemoryWhenIdle(log, probes);
  t.after(() => release.stop());
  t.mock.timers.tick(10_000);
  assert.equal(probes.collections, 0, "idle and grown, but a large heap");
  state.heapUsed = 200 * MB;
  t.mock.timers.tick(2_000);
  assert.equal(probes.collections, 1, "once the heap is back under the limit, collected as before");
});

test("without a gc() from V8 it stops trying", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const state = { utilization: 0, rss: 120 * MB, rssAfterCollect: 80 * MB, isAvailable: false };
  let asked = 0;
  const probes = scriptedProbes(state);
  const release = releaseMemoryWhenIdle(log, { ...probes, collect: () => (asked += 1, probes.collect()) });
  t.after(() => release.stop());
  t.mock.timers.tick(10_000);
  assert.equal(asked, 1);
});

test("the last-resort collection, without --expose-gc, shrinks a grown young generation to its smallest", () => {
  const newSpaceBytes = () => getHeapSpaceStatistics().find((space) => space.space_name === "new_space")!.space_size;
  const gc = exposeGc(log);
  assert.ok(gc, "V8 gave a gc()");
  assert.equal(typeof globalThis.gc, "undefined", "and no global one");
  gc({ type: "major", flavor: "last-resort" });
  const smallest = newSpaceBytes();
  // Short-lived garbage at a high rate makes V8 grow the semi-spaces.
  let kept: object[] = [];
  for (let i = 0; i < 3_000_000; i++) {
    kept.push({ i });
    if (kept.length > 100_000) kept = [];
  }
  assert.ok(newSpaceBytes() > smallest, "the young generation grew");
  gc({ type: "major", flavor: "last-resort" });
  assert.ok(newSpaceBytes() <= smallest, `young generation back to ${smallest} bytes, is ${newSpaceBytes()}`);
});
