// An edge restarted on a large disk cache listens at once and serves while the index loads: misses go to the origin, fills and deletes made meanwhile win.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import type { BeforeBatch } from "../../src/cache/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import { withTimeout } from "../guard/guard-fixture.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { answer, createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

// Several batches of the loader (one per cache subdirectory at least).
const STORED = 200;

describe("edge cache on disk: the index loads in the background", { timeout: 90_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  const config = (url: string) => ({ distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url }] }] });

  async function request(path: string, method: "GET" | "POST" = "GET") {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    try {
      return await viewerRequest(client, { path, host: "shop.test", method, ...(method === "POST" ? { body: "x" } : {}) });
    } finally {
      await client.close();
    }
  }

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    for (let i = 0; i < STORED; i++) origin.script(`/s/${i}`, answer({ "cache-control": "max-age=3600" }, `stored ${i}`));
    origin.script("/fresh", (req, res, count) => answer({ "cache-control": "max-age=3600" }, `fresh v${count}`)(req, res, count));
    origin.script("/gone", (req, res, count) => {
      if (req.method === "POST") return void res.writeHead(204).end();
      answer({ "cache-control": "max-age=3600" }, `gone v${count}`)(req, res, count);
    });
    edge = await startTestEdge(origin.ca, config(origin.origin.url), { clock, keepDataDir: true });
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    for (const path of [...Array.from({ length: STORED }, (_, i) => `/s/${i}`), "/fresh", "/gone"]) {
      // A memory hit means the disk commit (which comes first) is done.
      let isHit = false;
      for (let i = 0; i < 50 && !isHit; i++) isHit = (await viewerRequest(client, { path, host: "shop.test" })).headers["x-cache"] === "Hit from moat";
      assert.ok(isHit, `${path} never became a hit`);
    }
    await client.close();
    await edge.close();
  });

  after(async () => {
    await edge.close();
    await origin.close();
    await rm(edge.dataDir, { recursive: true, force: true });
  });

  test("listens and serves while loading is paused; a fill or a delete made meanwhile is not undone by the loader", async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let isPaused = false;
    let reachPause = () => {};
    const pauseReached = new Promise<void>((resolve) => (reachPause = resolve));
    // Paused before the first batch is read: nothing is loaded until the test says so.
    const beforeDiskBatch: BeforeBatch = () => {
      if (isPaused) return;
      isPaused = true;
      reachPause();
      return released;
    };
    edge = await startTestEdge(origin.ca, config(origin.origin.url), { clock, keepDataDir: true, dataDir: edge.dataDir, masterKey: edge.masterKey, beforeDiskBatch });
    assert.ok(edge.logs.some((line) => line.msg === "edge listening"));
    // The loader lists the cache's directories before its first batch: on a busy machine the edge may listen
    // first. Either way nothing is loaded before the pause, which comes before any entry is read.
    await withTimeout("the disk loader to reach its first batch", pauseReached);

    // A stored entry not loaded yet is a miss: the origin answers it (and it is stored again).
    const miss = await request("/s/7");
    assert.deepEqual([miss.status, miss.body, miss.headers["x-cache"], origin.count("/s/7")], [200, "stored 7", "Miss from moat", 2]);
    const fresh = await request("/fresh");
    assert.deepEqual([fresh.body, fresh.headers["x-cache"]], ["fresh v2", "Miss from moat"]);
    assert.equal((await request("/gone", "POST")).status, 204); // RFC 9111 §4.4: invalidates /gone, stored but not loaded yet
    assert.equal(edge.logs.some((line) => line.msg === "cache disk index loaded"), false, "still loading");

    release();
    const loaded = await edge.waitForLog((line) => line.msg === "cache disk index loaded");
    assert.equal(loaded.entries, STORED - 1, "every stored entry but the ones refilled or deleted meanwhile");
    assert.equal(typeof loaded.ms, "number");
    assert.equal(typeof loaded.bytes, "number");

    const hit = await request("/s/8");
    assert.deepEqual([hit.body, hit.headers["x-cache"], origin.count("/s/8")], ["stored 8", "Hit from moat", 1]);
    const kept = await request("/fresh");
    assert.deepEqual([kept.body, kept.headers["x-cache"], origin.count("/fresh")], ["fresh v2", "Hit from moat", 2], "the fill made while loading won");
    const gone = await request("/gone");
    assert.deepEqual([gone.body, gone.headers["x-cache"]], ["gone v3", "Miss from moat"], "the deleted entry was not resurrected");
  });
});
