// An outside attacker's probes of the data plane, one class each: paths that route elsewhere once decoded, headers that override the request behind the cache key, requests pipelined behind a refusal, an HTTP/2 viewer that never opens its window, and exchanges that stall.
import assert from "node:assert/strict";
import { once } from "node:events";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { connectRawH2, errorCodeOf, FLAG, FRAME, H2_ERROR, hpackBlock } from "../support/raw-h2.ts";
import { connectH2, h2Request } from "../support/viewer-client.ts";
import { mtlsRequest } from "../support/mtls-viewer.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";

// A cacheable answer that reflects what a framework would act on: the path it received and the override headers.
function reflectingOrigin(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): void {
  if (req.url === "/huge-head") return void res.writeHead(200, { "x-big": "a".repeat(64 * 1024) }).end("never relayed");
  // A body of that many bytes, written 16 KiB at a time (as a body arrives from a real origin), cached.
  if (req.url?.startsWith("/big/")) {
    const bytes = Number(req.url.slice(5));
    res.writeHead(200, { "content-type": "application/octet-stream", "cache-control": "max-age=600", "content-length": bytes });
    for (let sent = 0; sent < bytes; sent += 16_384) res.write(Buffer.alloc(Math.min(16_384, bytes - sent), "b"));
    return void res.end();
  }
  // Answers once the whole upload is in: what it received, in bytes.
  if (req.url?.startsWith("/upload")) {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end(`received ${bytes}`));
    return;
  }
  res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=600" });
  res.end(`${req.method} ${req.url} original=${String(req.headers["x-original-url"] ?? "")} forwarded=${String(req.headers.forwarded ?? "")}`);
}

describe("data plane attacks", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem, handler: reflectingOrigin });
    edge = await startTestEdge(ca, {
      distributions: [
        {
          id: "shop",
          aliases: ["shop.test"],
          origins: [{ id: "app", url: origin.url }],
          behaviors: [
            { path: "/static/*", target: "app" },
            { path: "/account/*", target: "app", cache: "off" },
            { path: "*", target: "app" },
          ],
        },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
  });

  /** Writes `request` as is (ALPN http/1.1) and returns every byte the edge sends until it closes. */
  async function rawH1(request: string): Promise<string> {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: ca.bundlePem, servername: "shop.test", ALPNProtocols: ["http/1.1"] });
    socket.on("error", () => {});
    await once(socket, "secureConnect");
    socket.write(request);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => socket.once("close", resolve));
    return Buffer.concat(chunks).toString("latin1");
  }
  const statusOf = (response: string) => Number(response.split(" ")[1]);

  describe("cache deception by path normalisation: a path that an origin reads as another behavior's is refused", () => {
    // Each reaches /account/* (cache off) at an origin that decodes, splits on \, cuts ;parameters or merges //,
    // while a literal reading routes it to /static/* or * (cached).
    for (const path of ["/static/..;/account/me", "/static/..%2faccount/me", "/static%2F..%2Faccount/me", "/static/..\\account/me", "/static/%2e%2e%2faccount/me", "/static/%252e%252e/account/me", "/%61ccount/me", "//account/me", "/account;x=1/me"]) {
      test(path, async () => {
        const seen = origin.seen.length;
        const response = await rawH1(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(response), 400, response);
        assert.match(response, /moat-error: bad-request-target/i);
        assert.equal(origin.seen.length, seen, "the origin never saw it");
      });
    }

    test("an encoding that stays within its behavior is served, and the cache key is the path the origin received", async () => {
      const path = "/static/a%2Fb%20c.css";
      const first = await rawH1(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(first), 200, first);
      assert.equal(origin.seen.at(-1)?.url, path);
      const seen = origin.seen.length;
      const second = await rawH1(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
      assert.match(second, /cache-status: moat; hit/i);
      assert.equal(origin.seen.length, seen);
      // Another spelling of the same resource is another key, never this one's answer.
      const other = await rawH1(`GET /static/a/b%20c.css HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
      assert.match(other, /GET \/static\/a\/b%20c\.css/);
    });

    test("over HTTP/2 the same", async () => {
      const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
      try {
        const response = await h2Request(session, { ":path": "/static/..;/account/me", ":authority": "shop.test" });
        assert.equal(response.status, 400);
        assert.equal(response.headers["moat-error"], "bad-request-target");
      } finally {
        session.close();
      }
    });
  });

  describe("cache poisoning by unkeyed override headers: none reaches the origin", () => {
    const overrides: Record<string, string> = {
      "x-original-url": "/account/me",
      "x-rewrite-url": "/account/me",
      "x-http-method-override": "DELETE",
      "x-http-method": "DELETE",
      "x-method-override": "DELETE",
      forwarded: "for=203.0.113.9;host=evil.test;proto=http",
      "x-forwarded-port": "8080",
      "x-forwarded-prefix": "/evil",
      "x-forwarded-scheme": "http",
      "x-forwarded-server": "evil.test",
      "x-host": "evil.test",
      "x-original-host": "evil.test",
    };

    test("HTTP/1.1", async () => {
      const lines = Object.entries(overrides).map(([name, value]) => `${name}: ${value}\r\n`).join("");
      const response = await rawH1(`GET /static/override.js HTTP/1.1\r\nHost: shop.test\r\n${lines}X-Kept: yes\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response), 200, response);
      const headers = origin.seen.at(-1)?.headers ?? {};
      for (const name of Object.keys(overrides)) assert.equal(headers[name], undefined, name);
      assert.equal(headers["x-kept"], "yes");
      assert.equal(headers["x-forwarded-host"], "shop.test", "the edge's own forwarding facts");
      assert.match(response, /original= forwarded=\r\n/);
    });

    test("HTTP/2", async () => {
      const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
      try {
        const response = await h2Request(session, { ":path": "/static/override-h2.js", ":authority": "shop.test", ...overrides });
        assert.equal(response.status, 200);
        const headers = origin.seen.at(-1)?.headers ?? {};
        for (const name of Object.keys(overrides)) assert.equal(headers[name], undefined, name);
      } finally {
        session.close();
      }
    });
  });

  test("an origin's response head over the limit is a 502 origin-bad-response that names the limit, not a reset the origin made", async () => {
    const response = await rawH1("GET /huge-head HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    assert.equal(statusOf(response), 502, response.slice(0, 300));
    assert.match(response, /moat-error: origin-bad-response/i);
    const line = await edge.waitForLog((entry) => entry.msg === "origin request failed" && /16 KiB/.test(String((entry.error as { message?: string })?.message)));
    assert.equal((line.error as { code?: string }).code, "origin-bad-response");
  });

  describe("HTTP/2 header and control-frame floods", () => {
    const head = (path: string) => hpackBlock([[":method", "GET"], [":scheme", "https"], [":authority", "shop.test"], [":path", path]]);

    test("an HPACK bomb (one 4000-byte field indexed, then referenced 120 times: 480 KB decoded from 4 KB) is reset with ENHANCE_YOUR_CALM, never forwarded", async () => {
      const seen = origin.seen.length;
      const h2 = await connectRawH2({ port, caPem: ca.bundlePem, servername: "shop.test" });
      try {
        // RFC 7541 §6.2.1: literal with incremental indexing, new name; its value length 4000 as a 7-bit-prefix integer.
        const value = Buffer.alloc(4000, "v");
        const indexed = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from("x-big"), Buffer.from([0x7f, ((4000 - 127) & 0x7f) | 0x80, (4000 - 127) >> 7]), value]);
        // §6.1: an indexed field, dynamic table index 62 (the entry just added), 120 times.
        const references = Buffer.alloc(120, 0x80 | 62);
        h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, Buffer.concat([head("/static/bomb"), indexed, references]));
        const reset = await h2.waitForFrame((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
        assert.equal(errorCodeOf(reset), H2_ERROR.ENHANCE_YOUR_CALM);
        assert.equal(origin.seen.length, seen);
      } finally {
        h2.socket.destroy();
      }
    });

    for (const [name, frame] of [
      ["SETTINGS", { type: FRAME.SETTINGS, payload: Buffer.from([0x00, 0x03, 0, 0, 0, 100]) }],
      ["PING", { type: FRAME.PING, payload: Buffer.alloc(8) }],
    ] as const) {
      // nghttp2 stops once about a thousand answers (SETTINGS or PING ACKs) wait unsent, and ends the session:
      // with GOAWAY when it can still write one, else a bare close. Either way the flood goes unanswered.
      test(`a ${name} flood ends the session long before it is answered`, async () => {
        const h2 = await connectRawH2({ port, caPem: ca.bundlePem, servername: "shop.test" });
        const sent = 100_000;
        for (let index = 0; index < sent && !h2.socket.destroyed; index++) h2.writeFrame(frame.type, 0, 0, frame.payload);
        await h2.closed;
        const answers = h2.frames.filter((received) => received.type === frame.type && received.flags & FLAG.ACK).length;
        assert.ok(answers < sent / 10, `${answers} answers to ${sent}`);
        for (const goaway of h2.frames.filter((received) => received.type === FRAME.GOAWAY)) assert.notEqual(errorCodeOf(goaway), H2_ERROR.NO_ERROR);
      });
    }
  });

  test("the Host spelling never reaches the origin: X-Forwarded-Host is the normal form the cache keys by (an attacker's port is dropped)", async () => {
    for (const [host, expected] of [
      ["SHOP.TEST", "shop.test"],
      ["shop.test.", "shop.test"],
      ["shop.test:443", "shop.test"],
      ["shop.test:", "shop.test"],
      ["shop.test:1234", "shop.test"],
      [`shop.test:${port}`, `shop.test:${port}`],
    ] as const) {
      const response = await rawH1(`GET /account/host HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(response), 200, host);
      assert.equal(origin.seen.at(-1)?.headers["x-forwarded-host"], expected, host);
    }
  });

  describe("HTTP/1.1 pipelining", () => {
    test("a request pipelined behind a refused one (400, Connection: close) never reaches the origin", async () => {
      const seen = origin.seen.length;
      const response = await rawH1("GET /a HTTP/1.1\r\nHost: shop.test\r\nHost: shop.test\r\n\r\nGET /static/smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n");
      assert.equal(response.split("HTTP/1.1 ").length - 1, 1, "one response");
      assert.equal(statusOf(response), 400);
      assert.equal(origin.seen.length, seen);
      // A GET with a body is refused and closes the same way: what follows it is not a request either.
      const withBody = await rawH1("GET /static/b HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabcGET /static/smuggled2 HTTP/1.1\r\nHost: shop.test\r\n\r\n");
      assert.equal(statusOf(withBody), 400);
      assert.equal(origin.seen.length, seen);
    });

    test("pipelined keep-alive requests are all served, in order", async () => {
      const response = await rawH1("GET /static/p1 HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /static/p2 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
      assert.equal(response.split("HTTP/1.1 200").length - 1, 2, response);
      assert.ok(response.indexOf("GET /static/p1") < response.indexOf("GET /static/p2"));
    });
  });
});

describe("a viewer certificate chain past OpenSSL's 100 KiB certificate list", { timeout: 60_000 }, () => {
  test("is refused in the handshake (excessive message size); a long chain under it is verified as usual", async () => {
    const ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    const alice = await partners.issue("valid", "alice");
    const files = await createFileDir();
    const origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle: await files.write("partners.pem", partners.certPem) } },
      distributions: [{ id: "req", aliases: ["req.test"], viewerMtls: { mode: "required", trustStore: "partners" }, origins: [{ id: "app", url: origin.url }] }],
    });
    try {
      const send = (copies: number) =>
        mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "req.test", path: "/chain", cert: { chainPem: alice.certPem + partners.certPem.repeat(copies), keyPem: alice.keyPem } });
      // About 440 bytes of DER each: 100 copies are 44 KB, 400 are 176 KB.
      const long = await send(100);
      assert.ok("status" in long && long.status === 200, JSON.stringify("error" in long ? long.error.message : long.status));
      const huge = await send(400);
      assert.ok("error" in huge, "refused");
      const line = await edge.waitForLog((entry) => entry.msg === "viewer handshake refused" && /EXCESSIVE_MESSAGE_SIZE|excessive message size/i.test(String(entry.detail)));
      assert.equal(line.distribution ?? "req", "req");
    } finally {
      await edge.close();
      await origin.close();
      await files.remove();
    }
  });
});

describe("stalled exchanges: an HTTP/2 viewer that never opens its flow-control window, a request open on a connection silent both ways", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem, handler: reflectingOrigin });
    // A short deadline so that the test waits for it, not for the default two minutes.
    edge = await startTestEdge(ca, { connections: { timeouts: { stalled: "1s" } }, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "app", url: origin.url }] }] });
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
  });

  test("its stream is reset with CANCEL after the stalled deadline, though it keeps the connection busy with PINGs; the connection goes on", async () => {
    const h2 = await connectRawH2({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test" });
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: no stream may be sent a single DATA byte until a WINDOW_UPDATE, which never comes.
    h2.writeFrame(FRAME.SETTINGS, 0, 0, Buffer.from([0x00, 0x04, 0, 0, 0, 0]));
    const request = (id: number, path: string) => h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, hpackBlock([[":method", "GET"], [":scheme", "https"], [":authority", "shop.test"], [":path", path]]));
    request(1, "/stalled");
    // PINGs keep the socket from ever being silent: its timeout is no help here.
    const pings = setInterval(() => h2.writeFrame(FRAME.PING, 0, 0, Buffer.alloc(8)), 100);
    try {
      await h2.waitForFrame((frame) => frame.type === FRAME.HEADERS && frame.streamId === 1);
      const reset = await h2.waitForFrame((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
      assert.equal(errorCodeOf(reset), H2_ERROR.CANCEL);
      assert.ok(!h2.frames.some((frame) => frame.type === FRAME.GOAWAY), "the session is not closed for it");
      await edge.waitForLog((line) => typeof line.msg === "string" && line.msg.startsWith("viewer HTTP/2 stream reset: its response made no progress"));
    } finally {
      clearInterval(pings);
      h2.socket.destroy();
    }
  });

  test("a cached response the viewer reads slowly, a window update at a time, is never reset, over several stalled deadlines", async () => {
    const BYTES = 384 * 1024;
    const PER_UPDATE = 64 * 1024;
    // Cached first, by a viewer that reads at once: the slow viewer below gets a memory hit, every chunk ready at once.
    const warm = await connectH2(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      const response = await h2Request(warm, { ":path": `/big/${BYTES}`, ":authority": "shop.test" });
      assert.equal(response.status, 200);
    } finally {
      warm.close();
    }
    const h2 = await connectRawH2({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test" });
    // SETTINGS_INITIAL_WINDOW_SIZE = 64 KiB - 1 (the default): the stream gets 64 KiB more at each WINDOW_UPDATE below.
    h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hpackBlock([[":method", "GET"], [":scheme", "https"], [":authority", "shop.test"], [":path", `/big/${BYTES}`]]));
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(PER_UPDATE);
    // 64 KiB more every 500 ms, on the stream and on the connection: the body takes three deadlines of 1 s.
    const updates = setInterval(() => {
      h2.writeFrame(WINDOW_UPDATE, 0, 1, increment);
      h2.writeFrame(WINDOW_UPDATE, 0, 0, increment);
    }, 500);
    try {
      const last = await within(h2.waitForFrame((frame) => frame.streamId === 1 && ((frame.type === FRAME.DATA && (frame.flags & FLAG.END_STREAM) !== 0) || frame.type === FRAME.RST_STREAM)), 15_000, "the slow response did not end");
      assert.equal(last.type, FRAME.DATA, "the stream ends with its last DATA, not a reset");
      const received = h2.frames.filter((frame) => frame.type === FRAME.DATA && frame.streamId === 1).reduce((sum, frame) => sum + frame.payload.length, 0);
      assert.equal(received, BYTES);
    } finally {
      clearInterval(updates);
      h2.socket.destroy();
    }
  });

  test("responses the viewer reads are served as before on a session that outlives the deadline", async () => {
    const session = await connectH2(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      for (let index = 0; index < 3; index++) {
        // Each request after the previous deadline sweep: the session lives past several.
        if (index > 0) await new Promise((resolve) => setTimeout(resolve, 1_100));
        const response = await h2Request(session, { ":path": `/read/${index}`, ":authority": "shop.test" });
        assert.equal(response.status, 200);
        assert.match(response.body, new RegExp(`GET /read/${index}`));
      }
    } finally {
      session.close();
    }
  });

  async function openH1(): Promise<tls.TLSSocket> {
    const socket = tls.connect({ host: "127.0.0.1", port: edge.edge.httpsPort, ca: ca.bundlePem, servername: "shop.test", ALPNProtocols: ["http/1.1"] });
    socket.on("error", () => {});
    await once(socket, "secureConnect");
    return socket;
  }

  test("HTTP/1.1: an upload that stops half-way is closed after the stalled deadline, within twice it, and logged", async () => {
    const socket = await openH1();
    const closed = once(socket, "close");
    socket.write("POST /upload/stops HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 1000\r\n\r\n0123456789");
    const lastByteAt = Date.now();
    await within(closed, 6_000, "the stalled connection was not closed");
    const openFor = Date.now() - lastByteAt;
    assert.ok(openFor >= 1_000, `closed ${openFor} ms after its last byte, before the 1 s deadline`);
    const line = await edge.waitForLog((entry) => entry.msg === "connection closed" && entry.reason === "stalled-timeout", 5_000);
    assert.equal(line.listener, "viewers");
  });

  test("HTTP/1.1: an upload that keeps moving, a byte every 300 ms for three deadlines' worth, is never cut and is answered", async () => {
    const socket = await openH1();
    const answer: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => answer.push(chunk));
    socket.write("POST /upload/slow HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\n");
    for (let index = 0; index < 10; index++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(socket.destroyed, false, `cut after ${index} bytes`);
      socket.write(String(index));
    }
    await within(once(socket, "close"), 10_000, "no answer to the whole upload");
    const response = Buffer.concat(answer).toString("latin1");
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.match(response, /received 10\r\n/);
  });

  test("HTTP/2: a stream whose upload stops, on a connection that then says nothing, ends with the connection (GOAWAY)", async () => {
    const h2 = await connectRawH2({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test" });
    try {
      // HEADERS without END_STREAM: a body is announced, and never comes.
      h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS, 1, hpackBlock([[":method", "POST"], [":scheme", "https"], [":authority", "shop.test"], [":path", "/upload/h2-stops"], ["content-length", "1000"]]));
      const sentAt = Date.now();
      await within(h2.waitForFrame((frame) => frame.type === FRAME.GOAWAY), 6_000, "no GOAWAY on the stalled connection");
      assert.ok(Date.now() - sentAt >= 1_000, "not before the deadline");
      // Its log line is the HTTP/1.1 test's (one per address and reason every 10 s); the socket goes a second after the GOAWAY.
      await within(once(h2.socket, "close"), 5_000, "the stalled HTTP/2 connection was not closed");
    } finally {
      h2.socket.destroy();
    }
  });
});

/** RFC 9113 §6.9. */
const WINDOW_UPDATE = 0x8;

/** Rejects with `what` if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);
}
