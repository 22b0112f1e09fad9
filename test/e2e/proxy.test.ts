// Viewer → edge → mTLS origin, end to end on loopback: methods, streaming, headers, SNI/Host policy, redirects.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { once } from "node:events";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { connectH2, createViewerClient, h2Request, viewerRequest, viewerRequestWithSni } from "../support/viewer-client.ts";

describe("edge proxying to an mTLS origin", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let echo: TestOrigin;
  /** Resolves when the origin sees a request it was still answering go away. */
  let originSawAbort: Promise<void>;
  /** Resolve when the echo origin has a /hold/ request it does not answer, and when that request is cut. */
  let originHolds: Promise<void>;
  let originSawHoldCut: Promise<void>;
  let edge: TestEdge;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
    origin = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
    // Echoes the request body as it arrives, after sending its headers at once: proves streaming both ways.
    let markAbort: () => void = () => {};
    originSawAbort = new Promise((resolve) => (markAbort = resolve));
    let markHolds: () => void = () => {};
    let markHoldCut: () => void = () => {};
    originHolds = new Promise((resolve) => (markHolds = resolve));
    originSawHoldCut = new Promise((resolve) => (markHoldCut = resolve));
    echo = await startTestOrigin({
      certificate,
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        if (req.url?.startsWith("/hold/")) {
          // Never answered: only the edge cutting the request ends it.
          res.on("close", () => {
            if (!res.writableFinished) markHoldCut();
          });
          markHolds();
          return;
        }
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.flushHeaders();
        req.pipe(res);
        req.on("close", () => {
          if (!req.complete) markAbort();
        });
      },
    });
    edge = await startTestEdge(ca, {
      distributions: [
        {
          id: "shop",
          aliases: ["shop.test", "*.cdn.shop.test"],
          origins: [
            { id: "api", url: `${origin.url}/base` },
            { id: "echo", url: echo.url },
          ],
          behaviors: [
            { path: "/echo/*", target: "echo" },
            { path: "/hold/*", target: "echo", cache: "off" },
            { path: "/readonly/*", target: "api", allowedMethods: ["GET", "HEAD"] },
            { path: "*", target: "api" },
          ],
        },
        { id: "strict", aliases: ["strict.test"], tls: { minVersion: "TLSv1.3" }, origins: [{ id: "api", url: origin.url }] },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge.close();
    await origin.close();
    await echo.close();
  });

  test("GET reaches the origin with the distribution's identity and forwarding headers", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const res = await viewerRequest(client, { path: "/hello?x=1", host: "shop.test", headers: { "x-forwarded-for": "198.51.100.7" } });
    await client.close();
    assert.equal(res.status, 200);
    assert.equal(res.body, "GET /base/hello?x=1 0");
    assert.equal(res.headers.via, "1.1 moat");
    const seen = origin.seen.at(-1);
    assert.ok(seen);
    assert.deepEqual(seen.clientIdentities, ["spiffe://moat.internal/distribution/shop/origin/api"]);
    assert.equal(seen.headers["x-forwarded-for"], "198.51.100.7, 127.0.0.1");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
    assert.equal(seen.headers["x-forwarded-host"], "shop.test");
    assert.equal(seen.headers.via, "1.1 moat");
    assert.equal(seen.headers.host, `localhost:${origin.port}`);
  });

  test("fields named in the viewer's Connection header are not forwarded", async () => {
    const req = https.request({ host: "127.0.0.1", port, path: "/conn", servername: "shop.test", ca: ca.bundlePem, headers: { host: "shop.test", connection: "keep-alive, x-drop-me", "x-drop-me": "1", "keep-alive": "timeout=5" } });
    req.end();
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    res.resume();
    await once(res, "end");
    const seen = origin.seen.find((s) => s.url === "/base/conn");
    assert.equal(seen?.headers["x-drop-me"], undefined);
    assert.equal(seen?.headers["keep-alive"], undefined);
  });

  test("POST bodies reach the origin, over HTTP/1.1 and HTTP/2", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const res = await viewerRequest(client, { path: "/items", method: "POST", host: "shop.test", body: "x".repeat(10_000) });
    await client.close();
    assert.equal(res.body, "POST /base/items 10000");

    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const h2 = await h2Request(session, { ":method": "POST", ":path": "/items", ":authority": "shop.test" }, "y".repeat(5000));
    const h2get = await h2Request(session, { ":path": "/h2", ":authority": "shop.test" });
    session.close();
    assert.equal(h2.status, 200);
    assert.equal(h2.body, "POST /base/items 5000");
    assert.equal(h2get.body, "GET /base/h2 0");
    assert.equal(h2get.headers.via, "2 moat");
  });

  test("a wildcard alias serves its subdomains", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "img.cdn.shop.test" });
    const res = await viewerRequest(client, { path: "/a.png", host: "img.cdn.shop.test" });
    await client.close();
    assert.equal(res.status, 200);
  });

  test("bodies stream both ways in lockstep: no side waits for the whole body (HTTP/2)", async () => {
    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const stream = session.request({ ":method": "POST", ":path": "/echo/stream", ":authority": "shop.test" });
    // undici sends the request head with the first body chunk, so the first chunk goes before the response.
    stream.write(Buffer.alloc(64 * 1024, 0));
    const [headers] = (await once(stream, "response")) as [http2Headers];
    assert.equal(headers[":status"], 200);
    await assertLockstep(stream, (chunk) => stream.write(chunk), 20, 64 * 1024);
    stream.end();
    session.close();
  });

  test("bodies stream both ways in lockstep over HTTP/1.1", async () => {
    const req = https.request({ host: "127.0.0.1", port, path: "/echo/h1", method: "POST", servername: "shop.test", ca: ca.bundlePem, headers: { host: "shop.test", "transfer-encoding": "chunked" } });
    req.write(Buffer.alloc(32 * 1024, 0));
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    assert.equal(res.statusCode, 200);
    await assertLockstep(res, (chunk) => req.write(chunk), 10, 32 * 1024);
    req.end();
  });

  test("a viewer that goes away mid-upload aborts the origin request; the origin never sees a short body as complete", async () => {
    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const stream = session.request({ ":method": "POST", ":path": "/echo/cancel", ":authority": "shop.test" });
    stream.write("first");
    await once(stream, "response");
    session.destroy();
    await originSawAbort;
  });

  test("a viewer that goes away before an uncached response's head cuts the origin request", { timeout: 20_000 }, async () => {
    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const stream = session.request({ ":path": "/hold/1", ":authority": "shop.test" });
    stream.on("error", () => {});
    await originHolds;
    session.destroy();
    await originSawHoldCut;
  });

  test("a direct connection to the origin without the edge's certificate is refused", async () => {
    const socket = tls.connect({ host: "127.0.0.1", port: origin.port, servername: "localhost", ca: ca.bundlePem });
    await once(socket, "secureConnect");
    socket.write("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
    // TLS 1.3: the origin's "certificate required" alert ends the connection without an HTTP answer.
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    const [error] = (await once(socket, "error")) as [Error & { code?: string }];
    assert.equal(error.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    assert.equal(answer, "");
    assert.equal(origin.seen.filter((s) => s.clientIdentities.length === 0).length, 0);
  });

  test("a Host of another distribution on this connection gets 421 (HTTP/1.1 and HTTP/2)", async () => {
    const res = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "shop.test", host: "strict.test", path: "/" });
    const unknown = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "shop.test", host: "nowhere.test", path: "/" });
    assert.equal(res.status, 421);
    assert.equal(res.headers["moat-error"], "misdirected-request");
    assert.equal(unknown.status, 421);

    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const h2 = await h2Request(session, { ":path": "/", ":authority": "strict.test" });
    session.close();
    assert.equal(h2.status, 421);
    const line = edge.logs.find((l) => l.msg === "request" && l.error === "misdirected-request");
    assert.ok(line, "the 421 is in the access log");
  });

  test("an unknown SNI name gets no certificate at all", async () => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "nowhere.test", ca: ca.bundlePem });
    const [error] = (await once(socket, "error")) as [Error & { code?: string }];
    assert.match(error.code ?? error.message, /ALERT|ECONNRESET/);
    const refused = edge.logs.find((l) => l.msg === "viewer handshake refused" && l.reason === "sni-unknown");
    assert.ok(refused);
  });

  test("a distribution's TLS minimum holds: TLS 1.2 is refused where 1.3 is required", async () => {
    const old = tls.connect({ host: "127.0.0.1", port, servername: "strict.test", ca: ca.bundlePem, maxVersion: "TLSv1.2" });
    old.on("error", () => {});
    // events.once would reject on the socket's error; only the close matters here.
    await new Promise((resolve) => old.on("close", resolve));
    assert.equal(old.getProtocol(), null, "the connection is gone");
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "strict.test" });
    const res = await viewerRequest(client, { path: "/", host: "strict.test" });
    await client.close();
    assert.equal(res.status, 200);
    assert.ok(edge.logs.some((l) => l.reason === "tls-version-too-old" && l.distribution === "strict"));
    // The TLS 1.2 floor of the other distribution still admits TLS 1.2.
    const ok = tls.connect({ host: "127.0.0.1", port, servername: "shop.test", ca: ca.bundlePem, maxVersion: "TLSv1.2" });
    await once(ok, "secureConnect");
    assert.equal(ok.getProtocol(), "TLSv1.2");
    ok.destroy();
  });

  test("methods outside a behavior's allowed set get 405 with Allow", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const res = await viewerRequest(client, { path: "/readonly/x", method: "DELETE", host: "shop.test" });
    await client.close();
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, "GET, HEAD");
  });

  test("a path with dot-segments is refused before routing", async () => {
    const res = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "shop.test", host: "shop.test", path: "/readonly/%2e%2e/admin" });
    assert.equal(res.status, 400);
    assert.equal(res.headers["moat-error"], "bad-request-target");
    assert.equal(origin.seen.some((s) => s.url.includes("admin")), false);
  });

  test("the plain-HTTP port redirects served hosts to HTTPS and nothing else", async () => {
    const get = (host: string, method = "GET") =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: edge.edge.httpPort ?? 0, path: "/a?b=1", method, headers: { host } }, resolve);
        req.on("error", reject);
        req.end();
      });
    const res = await get("shop.test");
    assert.equal(res.statusCode, 301);
    assert.equal(res.headers.location, `https://shop.test:${port}/a?b=1`);
    res.resume();
    const post = await get("shop.test", "POST");
    assert.equal(post.statusCode, 308);
    post.resume();
    const other = await get("evil.test");
    assert.equal(other.statusCode, 421);
    other.resume();
  });
});

type http2Headers = Record<string, string | number>;

/**
 * Chunk i (filled with byte i) must come back whole before chunk i+1 is sent; chunk 0 is
 * already on its way. A hop that buffered the body would deadlock here.
 */
async function assertLockstep(readable: AsyncIterable<Buffer>, write: (chunk: Buffer) => void, chunks: number, size: number): Promise<void> {
  const reader = readable[Symbol.asyncIterator]();
  for (let i = 0; i < chunks; i++) {
    if (i > 0) write(Buffer.alloc(size, i));
    let received = 0;
    while (received < size) {
      const { value, done } = await reader.next();
      assert.ok(!done, "the echo ended early");
      assert.equal(value[0], i);
      received += value.length;
    }
  }
}
