// The edge cache end to end on loopback, per RFC 9111 point, against an origin that counts requests; time moves only by the injected clock.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import type { Client } from "undici";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { answer, createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

describe("edge cache (RFC 9111, shared)", { timeout: 60_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  let client: Client;
  const get = (path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" | "POST" = "GET") =>
    viewerRequest(client, { path, host: "shop.test", headers, method, ...(method === "POST" ? { body: "x" } : {}) });

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    edge = await startTestEdge(
      origin.ca,
      {
        cache: { disk: "off", maxObjectSize: "64KiB" },
        distributions: [
          {
            id: "shop",
            aliases: ["shop.test"],
            origins: [{ id: "api", url: origin.origin.url }],
            behaviors: [
              { path: "/policy/*", target: "api", cache: { minTtl: "10s", defaultTtl: "1h", maxTtl: "1d", key: { query: ["v"], headers: ["x-tenant"], cookies: ["lang"] } } },
              { path: "/nocache/*", target: "api", cache: "off" },
              { path: "*", target: "api" },
            ],
          },
        ],
      },
      { clock, logLevel: "debug" },
    );
    client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
  });

  after(async () => {
    await client.close();
    await edge.close();
    await origin.close();
  });

  test("§4.2 a fresh response is served from the cache: one origin request, Age, Cache-Status and X-Cache", async () => {
    origin.script("/fresh", answer({ "cache-control": "max-age=60" }, "v#"));
    const first = await get("/fresh");
    clock.advance(5_000);
    const second = await get("/fresh");
    assert.equal(origin.count("/fresh"), 1);
    assert.equal(first.headers["x-cache"], "Miss from moat");
    assert.match(String(first.headers["cache-status"]), /^moat; fwd=uri-miss; fwd-status=200; detail=storing/);
    assert.equal(second.headers["x-cache"], "Hit from moat");
    assert.equal(second.headers["cache-status"], "moat; hit; ttl=55");
    assert.equal(second.headers.age, "5");
    assert.equal(second.body, "v1");
  });

  test("§4.2.3 Age counts the Age the origin sent", async () => {
    origin.script("/aged", answer({ "cache-control": "max-age=100", age: "30" }));
    await get("/aged");
    clock.advance(10_000);
    const hit = await get("/aged");
    assert.equal(hit.headers.age, "40");
    assert.equal(hit.headers["cache-status"], "moat; hit; ttl=60");
  });

  test("§5.1 hits on several entries within a second and the next each get their own Age and ttl (the texts are shared, not the values)", async () => {
    origin.script("/texts/a", answer({ "cache-control": "max-age=100" }));
    origin.script("/texts/b", answer({ "cache-control": "max-age=100", age: "30" }));
    origin.script("/texts/c", answer({ "cache-control": "max-age=90" }));
    // Past the first hour, whose texts are kept: made afresh each time.
    origin.script("/texts/old", answer({ "cache-control": "max-age=10000", age: "5000" }));
    for (const path of ["/texts/a", "/texts/b", "/texts/c", "/texts/old"]) await get(path);
    const hit = async (path: string) => {
      const { headers } = await get(path);
      return [headers.age, headers["cache-status"]];
    };
    clock.advance(10_000);
    assert.deepEqual(await hit("/texts/a"), ["10", "moat; hit; ttl=90"]);
    assert.deepEqual(await hit("/texts/b"), ["40", "moat; hit; ttl=60"]);
    assert.deepEqual(await hit("/texts/c"), ["10", "moat; hit; ttl=80"]);
    assert.deepEqual(await hit("/texts/old"), ["5010", "moat; hit; ttl=4990"]);
    clock.advance(1_000);
    assert.deepEqual(await hit("/texts/b"), ["41", "moat; hit; ttl=59"]);
    assert.deepEqual(await hit("/texts/a"), ["11", "moat; hit; ttl=89"]);
    assert.deepEqual(await hit("/texts/old"), ["5011", "moat; hit; ttl=4989"]);
    assert.deepEqual(await hit("/texts/c"), ["11", "moat; hit; ttl=79"]);
    for (const path of ["/texts/a", "/texts/b", "/texts/c", "/texts/old"]) assert.equal(origin.count(path), 1, path);
  });

  test("a binary body (every byte value) comes back from a hit byte for byte, whole and as a range", async () => {
    const bytes = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 131) % 256));
    origin.script("/binary", (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length, "cache-control": "max-age=60" });
      res.end(bytes);
    });
    const raw = (headers: Record<string, string> = {}) => client.request({ path: "/binary", method: "GET", headers: { host: "shop.test", ...headers } }).then(async (res) => ({ status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }));
    assert.deepEqual((await raw()).body, bytes);
    const hit = await raw();
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.headers["content-length"], "700");
    assert.deepEqual(hit.body, bytes);
    const range = await raw({ range: "bytes=250-509" });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, bytes.subarray(250, 510));
    assert.equal(origin.count("/binary"), 1);
  });

  test("§4.3 a stale response is revalidated with its ETag, and the 304's headers are merged", async () => {
    origin.script("/validated", (req, res, count) => {
      if (count > 1 && req.headers["if-none-match"] === '"e1"') {
        res.writeHead(304, { etag: '"e1"', "cache-control": "max-age=60", "x-version": "2" });
        return res.end();
      }
      res.writeHead(200, { etag: '"e1"', "cache-control": "max-age=60", "x-version": "1", "content-type": "text/plain" });
      res.end("body");
    });
    await get("/validated");
    clock.advance(61_000);
    const refreshed = await get("/validated");
    assert.equal(origin.count("/validated"), 2);
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body, "body");
    assert.equal(refreshed.headers["x-version"], "2");
    assert.equal(refreshed.headers["x-cache"], "RefreshHit from moat");
    assert.match(String(refreshed.headers["cache-status"]), /fwd=stale; fwd-status=304/);
    const after = await get("/validated");
    assert.equal(after.headers["x-cache"], "Hit from moat");
    assert.equal(origin.count("/validated"), 2);
  });

  test("§3 no-store, private and Set-Cookie responses are not stored", async () => {
    origin.script("/no-store", answer({ "cache-control": "no-store, max-age=60" }));
    origin.script("/private", answer({ "cache-control": "private, max-age=60" }));
    origin.script("/cookie", answer({ "cache-control": "max-age=60", "set-cookie": "s=1" }));
    for (const path of ["/no-store", "/private", "/cookie"]) {
      const first = await get(path);
      await get(path);
      assert.equal(origin.count(path), 2, path);
      assert.match(String(first.headers["cache-status"]), /detail=(no-store|private|set-cookie)/);
    }
  });

  test("§5.2.2.4 no-cache is stored but revalidated on every use", async () => {
    origin.script("/no-cache", (req, res) => {
      if (req.headers["if-none-match"] === '"n"') return void res.writeHead(304, { etag: '"n"' }).end();
      res.writeHead(200, { "cache-control": "no-cache", etag: '"n"', "content-type": "text/plain" }).end("n");
    });
    await get("/no-cache");
    const second = await get("/no-cache");
    assert.equal(origin.count("/no-cache"), 2);
    assert.equal(second.body, "n");
    assert.equal(second.headers["x-cache"], "RefreshHit from moat");
  });

  test("§4.2.2 Last-Modified gives heuristic freshness to a 200 without explicit lifetime", async () => {
    origin.script("/heuristic", (_req, res) => {
      res.writeHead(200, { "last-modified": new Date(clock.now() - 1_000_000_000).toUTCString(), "content-type": "text/plain" }).end("h");
    });
    await get("/heuristic");
    clock.advance(60_000);
    await get("/heuristic");
    assert.equal(origin.count("/heuristic"), 1);
  });

  test("HEAD is answered from a cached GET, with its Content-Length", async () => {
    origin.script("/head", answer({ "cache-control": "max-age=60" }, "twelve bytes"));
    await get("/head");
    const head = await get("/head", {}, "HEAD");
    assert.equal(origin.count("/head"), 1);
    assert.equal(head.headers["content-length"], "12");
    assert.equal(head.body, "");
    assert.equal(head.headers["x-cache"], "Hit from moat");
  });

  test("§4.4 a successful unsafe request invalidates its target and its Location", async () => {
    origin.script("/item", (req, res) => {
      if (req.method === "POST") return void res.writeHead(201, { location: "/other" }).end();
      answer({ "cache-control": "max-age=60" })(req, res, 0);
    });
    origin.script("/other", answer({ "cache-control": "max-age=60" }));
    await get("/item");
    await get("/other");
    const post = await get("/item", {}, "POST");
    assert.equal(post.headers["cache-status"], "moat; fwd=method");
    await get("/item");
    await get("/other");
    assert.equal(origin.count("/item"), 3);
    assert.equal(origin.count("/other"), 2);
  });

  test("collapsed forwarding: concurrent misses make one origin request", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    origin.script("/burst", (_req, res) => {
      void released.then(() => res.writeHead(200, { "cache-control": "max-age=60", "content-type": "text/plain" }).end("burst"));
    });
    const waits = edge.logs.filter((line) => String(line.msg).startsWith("waiting for the same request")).length;
    // One connection each: a single HTTP/1.1 connection would send them one after another.
    const clients = Array.from({ length: 8 }, () => createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" }));
    const responses = clients.map((c) => viewerRequest(c, { path: "/burst", host: "shop.test" }));
    await origin.waitForCount("/burst", 1);
    // Release only once the other seven wait on the first: deterministic, no timing involved.
    await new Promise<void>((resolve) => {
      const check = () => (edge.logs.filter((line) => String(line.msg).startsWith("waiting for the same request")).length >= waits + 7 ? resolve() : setImmediate(check));
      check();
    });
    release();
    const all = await Promise.all(responses);
    await Promise.all(clients.map((c) => c.close()));
    assert.equal(origin.count("/burst"), 1);
    assert.ok(all.every((res) => res.status === 200 && res.body === "burst"));
    assert.equal(all.filter((res) => String(res.headers["cache-status"]).includes("collapsed")).length, 7);
  });

  test("collapsed requests go to the origin themselves when the response turns out uncacheable", async () => {
    origin.script("/uncacheable", answer({ "cache-control": "no-store" }));
    const clients = Array.from({ length: 4 }, () => createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" }));
    const all = await Promise.all(clients.map((c) => viewerRequest(c, { path: "/uncacheable", host: "shop.test" })));
    await Promise.all(clients.map((c) => c.close()));
    assert.ok(all.every((res) => res.status === 200));
    assert.equal(origin.count("/uncacheable"), 4);
  });

  test("RFC 5861 stale-if-error: a failing origin is covered by the stale response; must-revalidate is not", async () => {
    let isDown = false;
    const flaky = (headers: Record<string, string>) => (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
      if (isDown) return void req.socket.destroy();
      answer(headers, "kept")(req, res, 0);
    };
    origin.script("/sie", flaky({ "cache-control": "max-age=1, stale-if-error=600" }));
    origin.script("/strict", flaky({ "cache-control": "max-age=1, stale-if-error=600, must-revalidate" }));
    origin.script("/sie-503", (req, res, count) => (count === 1 ? answer({ "cache-control": "max-age=1, stale-if-error=600" }, "kept")(req, res, 0) : void res.writeHead(503).end()));
    await get("/sie");
    await get("/strict");
    await get("/sie-503");
    clock.advance(30_000);
    isDown = true;
    const stale = await get("/sie");
    const strict = await get("/strict");
    const after503 = await get("/sie-503");
    isDown = false;
    assert.equal(stale.status, 200);
    assert.equal(stale.body, "kept");
    assert.match(String(stale.headers["cache-status"]), /detail=stale-if-error/);
    assert.equal(strict.status, 502);
    assert.equal(strict.headers["x-cache"], "Error from moat");
    assert.equal(after503.status, 200);
    assert.match(String(after503.headers["cache-status"]), /fwd-status=503/);
  });

  test("RFC 5861 stale-while-revalidate: served stale at once, refreshed in the background", async () => {
    origin.script("/swr", answer({ "cache-control": "max-age=1, stale-while-revalidate=600" }, "r#"));
    await get("/swr");
    clock.advance(30_000);
    const stale = await get("/swr");
    assert.equal(stale.body, "r1");
    assert.match(String(stale.headers["cache-status"]), /detail=stale-while-revalidate/);
    await origin.waitForCount("/swr", 2);
    // The refreshed entry lands once its body is stored; a request then finds it.
    let fresh = await get("/swr");
    while (fresh.body !== "r2") fresh = await get("/swr");
    assert.equal(origin.count("/swr"), 2);
  });

  test("§4.1 Vary: one stored response per variant of the named request header", async () => {
    origin.script("/vary", (req, res) => answer({ "cache-control": "max-age=60", vary: "Accept-Language" }, `lang=${req.headers["accept-language"]}`)(req, res, 0));
    const en = await get("/vary", { "accept-language": "en" });
    const fr = await get("/vary", { "accept-language": "fr" });
    const enAgain = await get("/vary", { "accept-language": "en" });
    assert.equal(en.body, "lang=en");
    assert.equal(fr.body, "lang=fr");
    assert.equal(enAgain.body, "lang=en");
    assert.equal(enAgain.headers["x-cache"], "Hit from moat");
    assert.equal(origin.count("/vary"), 2);
  });

  test("§3.5 a request with Authorization is stored only when the response says public", async () => {
    origin.script("/auth", answer({ "cache-control": "max-age=60" }));
    origin.script("/auth-public", answer({ "cache-control": "public, max-age=60" }));
    await get("/auth", { authorization: "Bearer a" });
    await get("/auth", { authorization: "Bearer a" });
    await get("/auth-public", { authorization: "Bearer a" });
    await get("/auth-public", { authorization: "Bearer b" });
    assert.equal(origin.count("/auth"), 2);
    assert.equal(origin.count("/auth-public"), 1);
  });

  test("Range is answered from the cached full object (206, 416)", async () => {
    origin.script("/range", answer({ "cache-control": "max-age=60" }, "0123456789"));
    await get("/range");
    const part = await get("/range", { range: "bytes=2-5" });
    const suffix = await get("/range", { range: "bytes=-3" });
    const outside = await get("/range", { range: "bytes=50-" });
    assert.equal(part.status, 206);
    assert.equal(part.body, "2345");
    assert.equal(part.headers["content-range"], "bytes 2-5/10");
    assert.equal(suffix.body, "789");
    assert.equal(outside.status, 416);
    assert.equal(origin.count("/range"), 1);
  });

  test("a viewer's If-None-Match is answered 304 from the cache", async () => {
    origin.script("/inm", answer({ "cache-control": "max-age=60", etag: '"v1"' }));
    await get("/inm");
    const res = await get("/inm", { "if-none-match": '"v1"' });
    assert.equal(res.status, 304);
    assert.equal(origin.count("/inm"), 1);
  });

  test("a body the origin cuts short is never stored", async () => {
    origin.script("/cut", (_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": "100" });
      res.write("only half");
      setImmediate(() => res.socket?.destroy());
    });
    await assert.rejects(get("/cut"));
    await assert.rejects(get("/cut"));
    assert.equal(origin.count("/cut"), 2);
  });

  test("an object above maxObjectSize is streamed whole and not stored", async () => {
    const big = "x".repeat(100 * 1024);
    origin.script("/big", answer({ "cache-control": "max-age=60" }, big));
    const first = await get("/big");
    await get("/big");
    assert.equal(first.body.length, big.length);
    assert.equal(origin.count("/big"), 2);
    assert.match(String(first.headers["cache-status"]), /detail=too-large/);
  });

  test("cache policy: TTLs clamp the origin's, the key takes the listed query parameter, header and cookie", async () => {
    origin.script("/policy/a", answer({ "cache-control": "max-age=1" }, "p#"));
    await get("/policy/a?v=1&utm=x", { "x-tenant": "t1", cookie: "lang=en; session=1" });
    clock.advance(5_000); // max-age=1, but minTtl is 10s
    const same = await get("/policy/a?utm=y&v=1", { "x-tenant": "t1", cookie: "session=2; lang=en" });
    assert.equal(same.headers["x-cache"], "Hit from moat");
    await get("/policy/a?v=2", { "x-tenant": "t1", cookie: "lang=en" });
    await get("/policy/a?v=1", { "x-tenant": "t2", cookie: "lang=en" });
    await get("/policy/a?v=1", { "x-tenant": "t1", cookie: "lang=fr" });
    assert.equal(origin.count("/policy/a"), 4);
    origin.script("/policy/default", answer({}, "d"));
    await get("/policy/default");
    clock.advance(30 * 60_000); // no Cache-Control: defaultTtl 1h
    assert.equal((await get("/policy/default")).headers["x-cache"], "Hit from moat");
  });

  test("a behavior with cache: off always goes to the origin and says bypass", async () => {
    origin.script("/nocache/x", answer({ "cache-control": "max-age=60" }));
    const first = await get("/nocache/x");
    await get("/nocache/x");
    assert.equal(origin.count("/nocache/x"), 2);
    assert.equal(first.headers["cache-status"], "moat; fwd=bypass");
    assert.equal(first.headers["x-cache"], "Miss from moat");
  });

  test("compression: gzip and br per encoding, Accept-Encoding normalised, identity untouched", async () => {
    const text = "compress me ".repeat(200);
    origin.script("/text", answer({ "cache-control": "max-age=60", etag: '"t"' }, text));
    const raw = (path: string, ae: string) => client.request({ path, method: "GET", headers: { host: "shop.test", "accept-encoding": ae } }).then(async (res) => ({ headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }));
    const gzip = await raw("/text", "gzip, deflate");
    const gzipAgain = await raw("/text", "deflate, gzip;q=0.8");
    const br = await raw("/text", "gzip, br");
    const identity = await raw("/text", "identity");
    assert.equal(gzip.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gzip.body).toString(), text);
    assert.equal(gzipAgain.headers["x-cache"], "Hit from moat");
    assert.equal(br.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(br.body).toString(), text);
    assert.equal(identity.headers["content-encoding"], undefined);
    assert.equal(identity.body.toString(), text);
    assert.equal(gzip.headers.etag, 'W/"t"');
    assert.match(String(gzip.headers.vary), /Accept-Encoding/);
    assert.equal(origin.count("/text"), 3);
  });

  test("a Range request, or Accept-Encoding: identity, hits the whole uncompressed object whatever encodings others asked for", async () => {
    // Not compressible (an image): one entry for every viewer, first stored for a viewer that accepts gzip and br.
    const image = Buffer.alloc(5000, 7).toString("latin1");
    origin.script("/image.png", (req, res, count) => answer({ "cache-control": "max-age=60", "content-type": "image/png" }, image)(req, res, count));
    const first = await get("/image.png", { "accept-encoding": "gzip, br" });
    assert.equal(first.headers["content-encoding"], undefined);
    const ranged = await get("/image.png", { range: "bytes=0-9" });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers["x-cache"], "Hit from moat");
    assert.equal((await get("/image.png", { "accept-encoding": "identity" })).headers["x-cache"], "Hit from moat");
    assert.equal(origin.count("/image.png"), 1);
    // Compressible: the uncompressed variant is stored apart from the compressed one, and a Range request hits it.
    const text = "range me ".repeat(300);
    origin.script("/range.txt", answer({ "cache-control": "max-age=60" }, text));
    const plain = await get("/range.txt", { "accept-encoding": "identity" });
    assert.match(String(plain.headers.vary), /Accept-Encoding/, "its representation varies with Accept-Encoding");
    const gzip = await client.request({ path: "/range.txt", method: "GET", headers: { host: "shop.test", "accept-encoding": "gzip" } });
    assert.equal(gzip.headers["content-encoding"], "gzip");
    await gzip.body.arrayBuffer();
    const part = await get("/range.txt", { range: "bytes=9-17" });
    assert.deepEqual([part.status, part.body, part.headers["x-cache"]], [206, "range me ", "Hit from moat"]);
    assert.equal(origin.count("/range.txt"), 2);
  });

  test("RFC 9110 §14.6 several ranges of a stored object: one multipart/byteranges body; too many or overlapping ranges: the whole object (§14.2)", async () => {
    const body = "0123456789abcdefghij";
    origin.script("/multi.txt", answer({ "cache-control": "max-age=60", "content-type": "text/plain" }, body));
    await get("/multi.txt");
    const multi = await get("/multi.txt", { range: "bytes=0-1, 15-16, -2" });
    assert.equal(multi.status, 206);
    assert.equal(multi.headers["x-cache"], "Hit from moat");
    const boundary = /^multipart\/byteranges; boundary=(.+)$/.exec(String(multi.headers["content-type"]))?.[1];
    assert.ok(boundary, String(multi.headers["content-type"]));
    assert.equal(Number(multi.headers["content-length"]), Buffer.byteLength(multi.body));
    assert.ok(multi.body.endsWith(`\r\n--${boundary}--\r\n`));
    const parts = multi.body.split(`\r\n--${boundary}`).slice(1, -1).map((part) => {
      const [head = "", data = ""] = part.split("\r\n\r\n");
      return { range: /Content-Range: (.+)/.exec(head)?.[1], type: /Content-Type: (.+)/.exec(head)?.[1], data };
    });
    assert.deepEqual(parts, [
      { range: "bytes 0-1/20", type: "text/plain", data: "01" },
      { range: "bytes 15-16/20", type: "text/plain", data: "fg" },
      { range: "bytes 18-19/20", type: "text/plain", data: "ij" },
    ]);
    const overlapping = await get("/multi.txt", { range: "bytes=0-5, 3-8" });
    assert.deepEqual([overlapping.status, overlapping.body], [200, body]);
    const many = Array.from({ length: 17 }, (_, i) => `${i}-${i}`).join(",");
    const tooMany = await get("/multi.txt", { range: `bytes=${many}` });
    assert.deepEqual([tooMany.status, tooMany.body], [200, body]);
    const sixteen = await get("/multi.txt", { range: `bytes=${Array.from({ length: 16 }, (_, i) => `${i}-${i}`).join(",")}` });
    assert.equal(sixteen.status, 206);
    const unsatisfiable = await get("/multi.txt", { range: "bytes=30-40, 50-" });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(origin.count("/multi.txt"), 1);
  });

  test("edge-made errors carry Cache-Status and X-Cache too", async () => {
    const res = await viewerRequest(client, { path: "/../x", host: "shop.test" });
    assert.equal(res.status, 400);
    assert.equal(res.headers["x-cache"], "Error from moat");
    assert.match(String(res.headers["cache-status"]), /^moat; detail=bad-request-target/);
  });
});
