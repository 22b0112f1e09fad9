// Cases from the http-tests cache-tests suite (cache-tests.fyi) that span the pipeline, named by the suite's test ids; shared-cache expectations.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Client } from "undici";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { connectH2, createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { answer, createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

describe("edge cache conformance (cache-tests ids)", { timeout: 60_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  let client: Client;
  const get = (path: string, headers: Record<string, string> = {}) => viewerRequest(client, { path, host: "shop.test", headers });
  /** Answers the first request with `first`, later conditional ones with a 304 carrying `notModified`. */
  const revalidated = (first: Record<string, string>, notModified: Record<string, string>) => (req: IncomingMessage, res: ServerResponse, count: number) => {
    if (count > 1 && req.headers["if-none-match"] === '"v1"') return void res.writeHead(304, { etag: '"v1"', ...notModified }).end();
    answer({ etag: '"v1"', ...first }, "body")(req, res, count);
  };

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    edge = await startTestEdge(
      origin.ca,
      { cache: { disk: "off" }, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }], behaviors: [{ path: "*", target: "api" }] }] },
      { clock, logLevel: "info" },
    );
    client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
  });

  after(async () => {
    await client.close();
    await edge.close();
    await origin.close();
  });

  test("RFC 8297 a 103 (Early Hints) from the origin reaches the viewer, over HTTP/1.1 and HTTP/2, and is never stored", async () => {
    const link = "</style.css>; rel=preload; as=style";
    origin.script("/early-hints", (req, res, count) => {
      res.writeEarlyHints({ link });
      answer({ "cache-control": "max-age=60" }, "hinted")(req, res, count);
    });
    const interim: { statusCode: number; link: unknown }[] = [];
    const first = await client.request({ path: "/early-hints", method: "GET", headers: { host: "shop.test" }, onInfo: (info) => interim.push({ statusCode: info.statusCode, link: info.headers.link }) });
    assert.equal(await first.body.text(), "hinted");
    assert.deepEqual(interim, [{ statusCode: 103, link }]);
    const hit = await get("/early-hints");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers.link, undefined, "the hints are not part of the stored response");
    // A POST bypasses the cache: the edge's plain proxy path forwards the hints too.
    origin.script("/early-hints-post", (req, res, count) => {
      res.writeEarlyHints({ link });
      answer({ "cache-control": "no-store" }, "hinted post")(req, res, count);
    });
    const postInterim: unknown[] = [];
    const posted = await client.request({ path: "/early-hints-post", method: "POST", body: "x", headers: { host: "shop.test" }, onInfo: (info) => postInterim.push([info.statusCode, info.headers.link]) });
    assert.equal(await posted.body.text(), "hinted post");
    assert.deepEqual(postInterim, [[103, link]]);
    origin.script("/early-hints-h2", (req, res, count) => {
      res.writeEarlyHints({ link });
      answer({ "cache-control": "no-store" }, "hinted h2")(req, res, count);
    });
    const session = await connectH2(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    try {
      const stream = session.request({ ":path": "/early-hints-h2", ":authority": "shop.test" });
      const h2Interim: unknown[] = [];
      stream.on("headers", (headers) => h2Interim.push([headers[":status"], headers.link]));
      const status = await new Promise((resolve, reject) => {
        stream.on("response", (headers) => resolve(headers[":status"]));
        stream.on("error", reject);
      });
      stream.resume();
      await new Promise((resolve) => stream.on("end", resolve));
      assert.equal(status, 200);
      assert.deepEqual(h2Interim, [[103, link]]);
    } finally {
      session.close();
    }
  });

  test("head-writethrough, head-200-retain, head-200-freshness-update, head-200-update: §4.3.5 a HEAD goes as a HEAD, and its 200 updates the stored GET response", async () => {
    const methods: string[] = [];
    origin.script("/head-update", (req, res, count) => {
      methods.push(req.method ?? "");
      if (req.method === "HEAD") return void res.writeHead(200, { etag: '"h"', "cache-control": "max-age=1000", "template-a": "2", "content-type": "text/plain", "content-length": "4" }).end();
      answer({ etag: '"h"', "cache-control": "max-age=1", "template-a": "1", "template-b": "kept" }, "body")(req, res, count);
    });
    await get("/head-update");
    clock.advance(2_000);
    const head = await viewerRequest(client, { path: "/head-update", host: "shop.test", method: "HEAD" });
    assert.deepEqual([head.status, head.headers["template-a"], head.body], [200, "2", ""]);
    const hit = await get("/head-update");
    assert.deepEqual(methods, ["GET", "HEAD"], "the HEAD went as a HEAD; the GET after it was served from the cache");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.deepEqual([hit.body, hit.headers["template-a"], hit.headers["template-b"]], ["body", "2", "kept"]);
  });

  test("§4.3.5 a HEAD whose 200 describes another representation (another ETag) invalidates the stored GET response", async () => {
    origin.script("/head-other", (req, res, count) => {
      if (req.method === "HEAD") return void res.writeHead(200, { etag: '"v2"', "cache-control": "max-age=1000", "content-length": "4" }).end();
      answer({ etag: `"v${count === 1 ? 1 : 2}"`, "cache-control": "max-age=1" }, "body")(req, res, count);
    });
    await get("/head-other");
    clock.advance(2_000);
    await viewerRequest(client, { path: "/head-other", host: "shop.test", method: "HEAD" });
    const next = await get("/head-other");
    assert.equal(next.headers["x-cache"], "Miss from moat");
    assert.equal(next.headers.etag, '"v2"');
  });

  test("cdn-fresh-cc-nostore (RFC 9213): CDN-Cache-Control decides for the edge; Cache-Control goes on to the viewer; Moat-CDN-Cache-Control is Moat's alone", async () => {
    origin.script("/targeted", answer({ "cdn-cache-control": "max-age=3600", "moat-cdn-cache-control": "max-age=600", "cache-control": "no-store" }, "body"));
    await get("/targeted");
    const hit = await get("/targeted");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(origin.count("/targeted"), 1);
    assert.equal(hit.headers["cache-control"], "no-store", "browsers still get the origin's Cache-Control");
    assert.equal(hit.headers["cdn-cache-control"], "max-age=3600");
    assert.equal(hit.headers["moat-cdn-cache-control"], undefined);
    clock.advance(601_000);
    await get("/targeted");
    assert.equal(origin.count("/targeted"), 2, "Moat-CDN-Cache-Control's 600 s, not CDN-Cache-Control's hour");
  });

  test("stale-close-no-cache: §4.2.4 a no-cache response is never served without a successful revalidation, even when the origin is down", async () => {
    let isDown = false;
    origin.script("/no-cache-down", (req, res, count) => (isDown ? void req.socket.destroy() : answer({ "cache-control": "max-age=3600, no-cache, stale-if-error=600", etag: '"n"' })(req, res, count)));
    await get("/no-cache-down");
    isDown = true;
    const second = await get("/no-cache-down");
    isDown = false;
    assert.equal(second.status, 502);
    assert.equal(second.headers["x-cache"], "Error from moat");
  });

  test("§4.3.4 a 304 that makes the response no-store or private removes it from the cache", async () => {
    origin.script("/became-private", revalidated({ "cache-control": "max-age=1" }, { "cache-control": "private, max-age=60" }));
    await get("/became-private");
    clock.advance(2_000);
    const refreshed = await get("/became-private");
    assert.equal(refreshed.body, "body");
    const next = await get("/became-private");
    assert.equal(origin.count("/became-private"), 3, "the private response must not be reused");
    assert.notEqual(next.headers["x-cache"], "Hit from moat");
  });

  test("§4.3.4 a 304's Set-Cookie reaches its own viewer's request only, never the stored response", async () => {
    origin.script("/cookie-304", revalidated({ "cache-control": "max-age=1" }, { "cache-control": "max-age=60", "set-cookie": "session=secret" }));
    await get("/cookie-304");
    clock.advance(2_000);
    const refreshed = await get("/cookie-304");
    assert.equal(refreshed.headers["set-cookie"], "session=secret");
    const hit = await get("/cookie-304");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers["set-cookie"], undefined);
  });

  test("§4.2.3 after a 304 the age is the 304's own: an old Age on the stored response does not shorten the new lifetime", async () => {
    origin.script("/aged-304", revalidated({ "cache-control": "max-age=60", age: "50" }, { "cache-control": "max-age=60" }));
    await get("/aged-304");
    clock.advance(11_000);
    const refreshed = await get("/aged-304");
    assert.equal(refreshed.headers["x-cache"], "RefreshHit from moat");
    clock.advance(30_000);
    const hit = await get("/aged-304");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers.age, "30");
    assert.equal(origin.count("/aged-304"), 2);
  });

  test("headers-store-Proxy-Authentication-Info: §3.1 proxy-specific fields are not stored", async () => {
    origin.script("/proxy-info", answer({ "cache-control": "max-age=60", "proxy-authentication-info": "nextnonce=abc", "test-header": "kept" }));
    await get("/proxy-info");
    const hit = await get("/proxy-info");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers["test-header"], "kept");
    assert.equal(hit.headers["proxy-authentication-info"], undefined);
  });

  test("status-200-must-understand and status-599-must-understand: §5.2.2.3 must-understand overrides no-store for an understood status only", async () => {
    const mustUnderstand = { "cache-control": "max-age=3600, no-store, must-understand" };
    origin.script("/understood", answer(mustUnderstand));
    origin.script("/not-understood", (req, res, count) => {
      res.writeHead(599, { "content-type": "text/plain", "content-length": "4", ...mustUnderstand });
      res.end("nope");
      void req;
      void count;
    });
    await get("/understood");
    const hit = await get("/understood");
    await get("/not-understood");
    await get("/not-understood");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(origin.count("/understood"), 1);
    assert.equal(origin.count("/not-understood"), 2);
  });

  test("conditional-lm-fresh-no-lm: §4.3.2 If-Modified-Since is compared with Date when the stored response has no Last-Modified", async () => {
    origin.script("/no-lm", answer({ "cache-control": "max-age=600" }));
    await get("/no-lm");
    const storedDate = new Date(clock.now()).toUTCString();
    clock.advance(5_000);
    const notModified = await get("/no-lm", { "if-modified-since": storedDate });
    const modified = await get("/no-lm", { "if-modified-since": new Date(clock.now() - 60_000).toUTCString() });
    assert.equal(notModified.status, 304);
    assert.equal(modified.status, 200);
    assert.equal(origin.count("/no-lm"), 1);
  });

  test("RFC 9110 §6.6.1: a response stored without Date gets the time it was received, not the time it is served", async () => {
    clock.advance(3_600_000);
    const receivedAt = new Date(clock.now()).toUTCString();
    origin.script("/no-date", (req, res, count) => {
      res.sendDate = false;
      res.removeHeader("date");
      answer({ "cache-control": "max-age=7200" })(req, res, count);
    });
    await get("/no-date");
    clock.advance(60_000);
    const hit = await get("/no-date");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers.date, receivedAt);
    assert.equal(hit.headers.age, "60");
  });

  test("invalidate-DELETE and invalidate-POST-failed: §4.4 an unsafe method's success invalidates, a failure does not", async () => {
    origin.script("/inv", (req, res, count) => {
      if (req.method === "GET") return answer({ "cache-control": "max-age=3600" }, "v#")(req, res, count);
      res.writeHead(req.headers["x-fail"] ? 500 : 200, { "content-length": "0" }).end();
    });
    const send = (method: string, headers: Record<string, string> = {}) => viewerRequest(client, { path: "/inv", host: "shop.test", method: method as "POST", headers, body: "abc" });
    await get("/inv");
    await send("POST", { "x-fail": "1" });
    assert.equal((await get("/inv")).headers["x-cache"], "Hit from moat");
    await send("DELETE");
    assert.equal((await get("/inv")).headers["x-cache"], "Miss from moat");
  });

  test("vary-syntax-foo-star, vary-syntax-empty-star: §4.1 a Vary containing * anywhere is never reused", async () => {
    for (const [path, vary] of [["/vary-foo-star", "Foo, *"], ["/vary-empty-star", ", *"]] as const) {
      origin.script(path, answer({ "cache-control": "max-age=5000", vary }));
      await get(path, { foo: "1" });
      await get(path, { foo: "1" });
      assert.equal(origin.count(path), 2, vary);
    }
  });
});
