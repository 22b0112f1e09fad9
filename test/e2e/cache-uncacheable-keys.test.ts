// A key whose origin answers are not stored (no-store) is not collapsed: its concurrent requests reach the origin together; a stored answer brings collapsing back.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import type { Client } from "undici";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

/** Fails the test if `promise` has not settled after `ms` (a bound, not a wait: the test waits on events). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

describe("keys whose answers are not stored are not collapsed", { timeout: 60_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  const clients: Client[] = [];
  const newClient = () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    clients.push(client);
    return client;
  };
  const get = (path: string) => viewerRequest(newClient(), { path, host: "shop.test" });

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    // A collapse timeout longer than the test's bound: a request that waited behind another would fail the test, not just slow it.
    const cache = { collapseTimeout: "120s" };
    edge = await startTestEdge(origin.ca, { cache, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }] }] }, { clock, logLevel: "debug" });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await edge.close();
    await origin.close();
  });

  test("after a no-store answer, concurrent requests for the key all reach the origin at once; a stored answer makes them collapse again", async () => {
    const path = "/account";
    // Requests after the first are held until three are at the origin together: only requests that did not wait behind one another get there.
    const held: ServerResponse[] = [];
    let caching = "no-store";
    origin.script(path, (_req, res, count) => {
      const answer = (r: ServerResponse) => r.writeHead(200, { "content-type": "text/plain", "content-length": "2", "cache-control": caching }).end("ok");
      if (count === 1) return answer(res);
      held.push(res);
      if (held.length === 3) for (const r of held.splice(0)) answer(r);
    });
    const first = await get(path);
    assert.match(String(first.headers["cache-status"]), /fwd=uri-miss.*detail=no-store/);

    const concurrent = await within(Promise.all([get(path), get(path), get(path)]), 15_000, "three concurrent requests for an uncacheable key answered together");
    for (const res of concurrent) {
      assert.equal(res.status, 200);
      assert.doesNotMatch(String(res.headers["cache-status"]), /collapse/);
    }
    assert.equal(origin.count(path), 4);

    // The origin now answers with a cacheable response: the first one is stored and forgets the key.
    caching = "max-age=600";
    origin.script(path, (_req, res) => void res.writeHead(200, { "content-type": "text/plain", "content-length": "2", "cache-control": caching }).end("ok"));
    const stored = await get(path);
    assert.match(String(stored.headers["cache-status"]), /fwd=uri-miss/);
    assert.equal(origin.count(path), 5);
    const hit = await get(path);
    assert.equal(hit.headers["x-cache"], "Hit from moat");

    // Another key, answered no-store (remembered), then cacheable with Vary (stored, so forgotten). A request for
    // another variant misses, and requests after it collapse onto its fill: had the key stayed remembered, they would not.
    const other = "/catalog";
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const cacheable = { "content-length": "2", "cache-control": "max-age=600", vary: "x-variant" };
    origin.script(other, (_req, res, count) => {
      if (count === 1) return void res.writeHead(200, { "content-length": "2", "cache-control": "no-store" }).end("ok");
      if (count === 2) return void res.writeHead(200, cacheable).end("ok");
      // The third: held until released, so that the requests after it find its fill in progress.
      void released.then(() => res.writeHead(200, cacheable).end("ok"));
    });
    const getVariant = (variant: string) => viewerRequest(newClient(), { path: other, host: "shop.test", headers: { "x-variant": variant } });
    await getVariant("a");
    assert.equal((await getVariant("a")).headers["x-cache"], "Miss from moat");
    assert.equal((await getVariant("a")).headers["x-cache"], "Hit from moat");
    const filler = getVariant("b");
    await origin.waitForCount(other, 3);
    const waiters = [getVariant("b"), getVariant("b")];
    let waiting = 0;
    await within(edge.waitForLog((line) => line.msg === "waiting for the same request already on its way to the origin" && line.path === other && ++waiting === 2), 15_000, "both waiters collapsed onto the fill");
    release();
    const answered = await within(Promise.all([filler, ...waiters]), 15_000, "the fill and its waiters");
    for (const res of answered) assert.equal(res.status, 200);
    assert.equal(origin.count(other), 3);
  });
});
