// WebSocket through the edge, on loopback: a `ws` client → edge (TLS, HTTP/1.1 Upgrade or HTTP/2 extended CONNECT) → a `ws` server behind an mTLS origin; the behavior switch, viewer mTLS, limits, origin refusals and failures, drain.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { ClientOptions } from "ws";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import { startWebSocketOrigin } from "../support/websocket-origin.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";

/** A `ws` client to the edge: TLS to 127.0.0.1 with the distribution's SNI and Host. */
function viewerSocket(port: number, caPem: string, options: { host: string; path: string; protocols?: string[]; headers?: Record<string, string>; cert?: { chainPem: string; keyPem: string } }): WebSocket {
  // ws hands its options to https.request, whose servername its types leave out.
  const tlsOptions: ClientOptions & { servername: string } = {
    ca: caPem,
    servername: options.host,
    headers: { host: options.host, ...options.headers },
    ...(options.cert ? { cert: options.cert.chainPem, key: options.cert.keyPem } : {}),
  };
  return new WebSocket(`wss://127.0.0.1:${port}${options.path}`, options.protocols ?? [], tlsOptions);
}

/** Resolves with the edge's answer when the handshake is refused (ws's 'unexpected-response'); fails if it opens. */
function refusedHandshake(ws: WebSocket): Promise<{ status: number; headers: IncomingMessage["headers"] }> {
  return new Promise((resolve, reject) => {
    ws.once("open", () => reject(new Error("the handshake was accepted")));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.once("end", () => ws.terminate());
    });
  });
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  if (ws.readyState !== WebSocket.OPEN) await once(ws, "open");
  ws.send(text);
  const [data] = (await once(ws, "message")) as [Buffer];
  return data.toString("utf8");
}

// RFC 6455 §5.2: a client's frame is masked. A minimal text frame encoder and decoder for payloads under 126 bytes, enough for one test over HTTP/2.
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

function unmaskedTextOf(frame: Buffer): string {
  assert.equal(frame[0], 0x81, "a final text frame");
  const length = (frame[1] ?? 0) & 0x7f;
  return frame.subarray(2, 2 + length).toString("utf8");
}

describe("WebSocket through the edge", { timeout: 30_000 }, () => {
  let ca: CertificateAuthority;
  let origin: Awaited<ReturnType<typeof startWebSocketOrigin>>;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    files = await createFileDir();
    const caBundle = await files.write("partners.pem", partners.certPem);
    origin = await startWebSocketOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
    // Nothing listens on a port that was just free: the origin that refuses connections.
    const closed = https.createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle } },
      distributions: [
        {
          id: "shop",
          aliases: ["shop.test"],
          viewerMtls: { mode: "optional", trustStore: "partners" },
          origins: [
            { id: "api", url: origin.url },
            { id: "gone", url: `https://localhost:${closedPort}` },
          ],
          behaviors: [
            { path: "/ws/*", target: "api", websocket: true },
            { path: "/quiet/*", target: "api", websocket: { idleTimeout: "1s" } },
            { path: "/short/*", target: "api", websocket: { maxLifetime: "1s" } },
            { path: "/partners/*", target: "api", websocket: true, viewerMtls: "required" },
            { path: "/gone/*", target: "gone", websocket: true },
            { path: "*", target: "api" },
          ],
        },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  test("HTTP/1.1: a ws client's messages make the round trip to the origin's ws server, which sees the edge's client certificate", async () => {
    const ws = viewerSocket(port, ca.bundlePem, {
      host: "shop.test",
      path: "/ws/echo?room=1",
      protocols: ["chat"],
      headers: { "moat-viewer-cert-subject": "CN=forged", "x-forwarded-for": "198.51.100.7", origin: "https://shop.test" },
    });
    assert.equal(await echoOnce(ws, "hello through the edge"), "hello through the edge");
    assert.equal(ws.protocol, "chat", "Sec-WebSocket-Protocol passed end to end");
    ws.close(1000);
    await once(ws, "close");
    const seen = origin.seen.find((s) => s.url === "/ws/echo?room=1");
    assert.ok(seen);
    assert.deepEqual(seen.clientIdentities, ["spiffe://moat.internal/distribution/shop/origin/api"]);
    assert.equal(seen.headers["moat-viewer-cert-subject"], undefined, "a viewer's certificate header is dropped as on the normal path");
    assert.equal(seen.headers["moat-viewer-cert-present"], "false", "the edge says the viewer sent no certificate");
    assert.equal(seen.headers["x-forwarded-for"], "198.51.100.7, 127.0.0.1");
    assert.equal(seen.headers.via, "1.1 moat");
    assert.equal(seen.headers.origin, "https://shop.test");
    assert.equal(seen.headers.upgrade, "websocket");
    const line = await edge.waitForLog((l) => l.msg === "request" && l.path === "/ws/echo?room=1");
    assert.equal(line.status, 101);
    // RFC 6455 §7.1.1: after the closing handshake the server closes the TCP connection first.
    assert.equal(line.closedBy, "origin");
  });

  test("HTTP/2: an extended CONNECT (RFC 8441) is bridged to the origin's HTTP/1.1 upgrade", async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: "shop.test" });
    try {
      const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
      assert.equal(settings.enableConnectProtocol, true);
      const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/ws/h2", ":authority": "shop.test", "sec-websocket-version": "13", "sec-websocket-protocol": "chat" }, { endStream: false });
      const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
      assert.equal(headers[":status"], 200);
      assert.equal(headers["sec-websocket-protocol"], "chat");
      assert.equal(headers["sec-websocket-accept"], undefined);
      stream.write(maskedTextFrame("hello over h2"));
      const [frame] = (await once(stream, "data")) as [Buffer];
      assert.equal(unmaskedTextOf(frame), "hello over h2");
      stream.close();
      const off = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/plain/chat", ":authority": "shop.test", "sec-websocket-version": "13" }, { endStream: false });
      const [refused] = (await once(off, "response")) as [http2.IncomingHttpHeaders];
      assert.equal(refused[":status"], 403);
      assert.equal(refused["moat-error"], "websocket-not-enabled");
      off.resume();
      off.end();
    } finally {
      session.close();
      await once(session, "close");
    }
    const seen = origin.seen.find((s) => s.url === "/ws/h2");
    assert.ok(seen?.headers["sec-websocket-key"], "the edge made the HTTP/1.1 handshake's key");
    assert.equal(seen.headers.via, "2 moat");
  });

  test("an Upgrade to anything but websocket is ignored: the request is served as usual, without its Upgrade", async () => {
    const req = https.request({ host: "127.0.0.1", port, servername: "shop.test", ca: ca.bundlePem, path: "/ws/h2c", headers: { host: "shop.test", connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "AAMAAABkAAQCAAAAAAIAAAAA" }, agent: false });
    req.end();
    const [res] = (await once(req, "response")) as [IncomingMessage];
    let body = "";
    for await (const chunk of res) body += String(chunk);
    assert.equal(res.statusCode, 200);
    assert.equal(body, "not a websocket");
  });

  test("a behavior without websocket refuses the handshake with 403 websocket-not-enabled, before the origin", async () => {
    const hits = origin.seen.length;
    const refused = await refusedHandshake(viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/plain/chat" }));
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["moat-error"], "websocket-not-enabled");
    assert.equal(origin.seen.length, hits);
  });

  test("the request checks run first: a path that requires a viewer certificate refuses a handshake without one; a wrong Host gets 421", async () => {
    const refused = await refusedHandshake(viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/partners/chat" }));
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["moat-error"], "client-cert-missing");
    // SNI shop.test, Host other.test.
    const misdirected = await refusedHandshake(viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/ws/x", headers: { host: "other.test" } }));
    assert.equal(misdirected.status, 421);
  });

  test("an origin's refusal (not 101) reaches the viewer as it is", async () => {
    const refused = await refusedHandshake(viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/ws/refuse" }));
    assert.equal(refused.status, 409);
  });

  test("an origin that cannot be reached gives 502 with its Moat-Error", async () => {
    const refused = await refusedHandshake(viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/gone/chat" }));
    assert.equal(refused.status, 502);
    assert.equal(refused.headers["moat-error"], "origin-connect-refused");
  });

  test("a quiet tunnel closes at its idle limit, with a log line naming the limit", async () => {
    const ws = viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/quiet/chat" });
    assert.equal(await echoOnce(ws, "then silence"), "then silence");
    await once(ws, "close");
    const line = await edge.waitForLog((l) => l.msg === "websocket closed by the edge: idle-timeout");
    assert.equal(line.limit, "idle-timeout");
    assert.equal(line.limitMs, 1000);
    assert.equal(line.behavior, "/quiet/*");
  });

  test("a tunnel closes at its lifetime limit, however busy, with a log line naming the limit", async () => {
    const ws = viewerSocket(port, ca.bundlePem, { host: "shop.test", path: "/short/chat" });
    assert.equal(await echoOnce(ws, "hello"), "hello");
    // Keeps talking until the edge closes the tunnel: the idle limit (10 minutes) never runs out.
    const chatter = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("still here"), 50);
    try {
      await once(ws, "close");
    } finally {
      clearInterval(chatter);
    }
    const line = await edge.waitForLog((l) => l.msg === "websocket closed by the edge: max-lifetime");
    assert.equal(line.limitMs, 1000);
    assert.equal(line.behavior, "/short/*");
  });
});

describe("WebSocket and drain", { timeout: 30_000 }, () => {
  test("stopping the edge closes its open tunnels, and the stop completes", async () => {
    const ca = await createEphemeralCertificateAuthority();
    const origin = await startWebSocketOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
    const edge = await startTestEdge(ca, { distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }], behaviors: [{ path: "*", target: "api", websocket: true }] }] });
    try {
      const ws = viewerSocket(edge.edge.httpsPort, ca.bundlePem, { host: "shop.test", path: "/live" });
      assert.equal(await echoOnce(ws, "open"), "open");
      const closed = once(ws, "close");
      await edge.close();
      await closed;
      assert.ok(edge.logs.some((l) => l.msg === "websocket closed by the edge: drain"));
    } finally {
      await origin.close();
    }
  });
});

describe("WebSocket and connection deadlines", { timeout: 30_000 }, () => {
  test("an open HTTP/1.1 tunnel outlives the connection's request-head and idle deadlines: only the tunnel's own limits close it", async () => {
    const ca = await createEphemeralCertificateAuthority();
    const origin = await startWebSocketOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
    const edge = await startTestEdge(ca, {
      connections: { timeouts: { firstByte: "300ms", requestHead: "300ms", idle: "300ms" } },
      distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }], behaviors: [{ path: "*", target: "api", websocket: true }] }],
    });
    try {
      const ws = viewerSocket(edge.edge.httpsPort, ca.bundlePem, { host: "shop.test", path: "/live" });
      assert.equal(await echoOnce(ws, "before the deadlines"), "before the deadlines");
      // Silence for longer than first-byte + request-head + idle together: a deadline that took the tunnel for a stalled head would have cut it.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      assert.equal(ws.readyState, WebSocket.OPEN, "the tunnel is still open");
      assert.equal(await echoOnce(ws, "after the deadlines"), "after the deadlines");
      assert.ok(!edge.logs.some((l) => l.msg === "connection closed"), "no connection deadline acted on the tunnel");
      ws.close(1000);
      await once(ws, "close");
    } finally {
      await edge.close();
      await origin.close();
    }
  });

  test("a quiet tunnel outlives twice the stalled deadline, over HTTP/1.1 and over HTTP/2: only the tunnel's own idle limit closes it", async () => {
    const ca = await createEphemeralCertificateAuthority();
    const origin = await startWebSocketOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
    const edge = await startTestEdge(ca, {
      connections: { timeouts: { stalled: "1s" } },
      distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }], behaviors: [{ path: "*", target: "api", websocket: true }] }],
    });
    const session = http2.connect(`https://127.0.0.1:${edge.edge.httpsPort}`, { ca: ca.bundlePem, servername: "shop.test" });
    session.on("error", () => {});
    try {
      const ws = viewerSocket(edge.edge.httpsPort, ca.bundlePem, { host: "shop.test", path: "/live" });
      assert.equal(await echoOnce(ws, "h1 before"), "h1 before");
      const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/live/h2", ":authority": "shop.test", "sec-websocket-version": "13" }, { endStream: false });
      const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
      assert.equal(headers[":status"], 200);
      // Silent both ways for three stalled deadlines: a connection deadline that took a tunnel for a stalled request would have cut both.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(ws.readyState, WebSocket.OPEN, "the HTTP/1.1 tunnel is still open");
      assert.equal(await echoOnce(ws, "h1 after"), "h1 after");
      assert.equal(session.closed || session.destroyed, false, "the HTTP/2 connection is still open");
      stream.write(maskedTextFrame("h2 after"));
      const [frame] = (await once(stream, "data")) as [Buffer];
      assert.equal(unmaskedTextOf(frame), "h2 after");
      assert.ok(!edge.logs.some((l) => l.msg === "connection closed"), "no connection deadline acted on a tunnel");
      ws.close(1000);
      await once(ws, "close");
      stream.close();
    } finally {
      session.destroy();
      await edge.close();
      await origin.close();
    }
  });
});
