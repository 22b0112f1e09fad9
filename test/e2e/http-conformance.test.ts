// HTTP conformance at the edge, on raw sockets: one Host (RFC 9112 §3.2), Host and :authority agree (RFC 9113 §8.3.1), absolute-form targets (§3.2.2), Connection-listed fields, no GET/HEAD body, and how HTTP/2 stream errors and floods end.
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
import type { RawH2 } from "../support/raw-h2.ts";
import { connectH2, h2Request } from "../support/viewer-client.ts";

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe("HTTP conformance", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    edge = await startTestEdge(ca, {
      distributions: [
        {
          id: "shop",
          aliases: ["shop.test"],
          origins: [{ id: "app", url: origin.url }],
          behaviors: [
            { path: "/nocache/*", target: "app", cache: "off" },
            { path: "*", target: "app" },
          ],
        },
        { id: "other", aliases: ["other.test"], origins: [{ id: "app", url: origin.url }] },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
  });

  /** Writes `request` as is on a TLS connection (ALPN http/1.1) and reads the one response until the edge closes. */
  async function rawH1(request: string): Promise<RawResponse> {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: ca.bundlePem, servername: "shop.test", ALPNProtocols: ["http/1.1"] });
    await once(socket, "secureConnect");
    socket.write(request);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    await once(socket, "close");
    const text = Buffer.concat(chunks).toString("latin1");
    const [head = "", ...rest] = text.split("\r\n\r\n");
    const [statusLine = "", ...lines] = head.split("\r\n");
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
    return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  }

  const get = (path: string, extra: (readonly [string, string])[] = [], method = "GET") =>
    hpackBlock([[":method", method], [":scheme", "https"], [":authority", "shop.test"], [":path", path], ...extra]);

  describe("HTTP/1.1 request heads", () => {
    test("two Host lines get 400 and a closed connection, never the origin (RFC 9112 §3.2)", async () => {
      const seen = origin.seen.length;
      const res = await rawH1("GET /a HTTP/1.1\r\nHost: shop.test\r\nHost: other.test\r\n\r\n");
      assert.equal(res.status, 400);
      assert.equal(res.headers["moat-error"], "duplicate-host");
      assert.equal(res.headers.connection, "close");
      assert.equal(origin.seen.length, seen);
    });

    test("an absolute-form target for this connection's authority is served in origin-form, whatever Host says (RFC 9112 §3.2.2)", async () => {
      const res = await rawH1("GET https://shop.test/abs?q=1 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n");
      assert.equal(res.status, 200);
      assert.equal(origin.seen.at(-1)?.url, "/abs?q=1");
      assert.equal(origin.seen.at(-1)?.headers["x-forwarded-host"], "shop.test");
      const root = await rawH1("GET https://SHOP.test:443 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
      assert.equal(root.status, 200);
      assert.equal(origin.seen.at(-1)?.url, "/");
    });

    test("an absolute-form target for another authority, or for http://, gets 421; with userinfo, 400", async () => {
      const seen = origin.seen.length;
      const other = await rawH1("GET https://other.test/a HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
      assert.equal(other.status, 421);
      assert.equal(other.headers["moat-error"], "misdirected-request");
      assert.equal((await rawH1("GET http://shop.test/a HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")).status, 421);
      const userinfo = await rawH1("GET https://u:p@shop.test/a HTTP/1.1\r\nHost: shop.test\r\n\r\n");
      assert.equal(userinfo.status, 400);
      assert.equal(userinfo.headers["moat-error"], "bad-request-target");
      assert.equal(origin.seen.length, seen);
    });

    test("a field listed in Connection never reaches the origin: a listed X-Forwarded-For leaves only the edge's client address", async () => {
      const res = await rawH1("GET /conn HTTP/1.1\r\nHost: shop.test\r\nConnection: close, X-Forwarded-For, X-Secret\r\nX-Forwarded-For: 10.0.0.1\r\nX-Secret: s\r\nX-Kept: k\r\n\r\n");
      assert.equal(res.status, 200);
      const seen = origin.seen.at(-1);
      assert.equal(seen?.headers["x-forwarded-for"], "127.0.0.1");
      assert.equal(seen?.headers["x-secret"], undefined);
      assert.equal(seen?.headers["x-kept"], "k");
    });
  });

  describe("GET and HEAD carry no body: 400 request-body-not-allowed, never forwarded or dropped", () => {
    for (const [name, request] of [
      ["GET with Content-Length", "GET /body HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabc"],
      ["GET chunked", "GET /body HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
      ["HEAD with Content-Length", "HEAD /body HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabc"],
    ] as const) {
      test(`HTTP/1.1 ${name}`, async () => {
        const seen = origin.seen.length;
        const res = await rawH1(request);
        assert.equal(res.status, 400);
        assert.equal(res.headers["moat-error"], "request-body-not-allowed");
        assert.equal(res.headers.connection, "close");
        assert.equal(origin.seen.length, seen);
      });
    }

    test("HTTP/1.1 GET with a body on a behavior that bypasses the cache: refused the same", async () => {
      const seen = origin.seen.length;
      const res = await rawH1("GET /nocache/body HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabc");
      assert.equal(res.status, 400);
      assert.equal(res.headers["moat-error"], "request-body-not-allowed");
      assert.equal(origin.seen.length, seen);
    });

    test("HTTP/1.1 GET with Content-Length: 0 is served", async () => {
      const res = await rawH1("GET /empty HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      assert.equal(res.status, 200);
    });

    test("HTTP/2 GET with DATA gets 400; one that ends its stream with an empty DATA frame is served", async () => {
      const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
      const seen = origin.seen.length;
      const withBody = await h2Request(session, { ":path": "/h2body", ":authority": "shop.test" }, "abc");
      assert.equal(withBody.status, 400);
      assert.equal(withBody.headers["moat-error"], "request-body-not-allowed");
      assert.equal(origin.seen.length, seen);
      const emptyEnd = await h2Request(session, { ":path": "/h2empty", ":authority": "shop.test" }, "");
      assert.equal(emptyEnd.status, 200);
      // Past the cache too (a behavior with cache: off).
      const bypassing = await h2Request(session, { ":path": "/nocache/h2empty", ":authority": "shop.test" }, "");
      assert.equal(bypassing.status, 200);
      assert.equal(origin.seen.at(-1)?.url, "/nocache/h2empty");
      assert.equal(origin.seen.at(-1)?.headers["transfer-encoding"], undefined, "no body framing for a GET");
      session.close();
    });
  });

  describe("HTTP/2 request heads", () => {
    test("a host header naming another authority than :authority is malformed: 400 (RFC 9113 §8.3.1); the same one is fine", async () => {
      const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
      const seen = origin.seen.length;
      const mismatch = await h2Request(session, { ":path": "/a", ":authority": "shop.test", host: "other.test" });
      assert.equal(mismatch.status, 400);
      assert.equal(mismatch.headers["moat-error"], "host-authority-mismatch");
      assert.equal(origin.seen.length, seen);
      const same = await h2Request(session, { ":path": "/a", ":authority": "shop.test", host: "SHOP.test:443" });
      assert.equal(same.status, 200);
      session.close();
    });
  });

  describe("HTTP/2 stream errors and floods, in raw frames", { timeout: 20_000 }, () => {
    async function rawSession(): Promise<RawH2> {
      return connectRawH2({ port, caPem: ca.bundlePem, servername: "shop.test" });
    }

    test("DATA that disagrees with Content-Length: RST_STREAM PROTOCOL_ERROR on that stream; the session goes on", async () => {
      const h2 = await rawSession();
      h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS, 1, get("/upload", [["content-length", "5"]], "POST"));
      h2.writeFrame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from("abc"));
      const reset = await h2.waitForFrame((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
      assert.equal(errorCodeOf(reset), H2_ERROR.PROTOCOL_ERROR);
      h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, get("/after"));
      await h2.waitForFrame((frame) => frame.type === FRAME.HEADERS && frame.streamId === 3);
      h2.socket.destroy();
    });

    test("more header fields than maxHeaderListPairs: RST_STREAM ENHANCE_YOUR_CALM", async () => {
      const h2 = await rawSession();
      const many = Array.from({ length: 200 }, (_, index) => [`x-field-${index}`, "v"] as const);
      h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, get("/many", many));
      const reset = await h2.waitForFrame((frame) => frame.type === FRAME.RST_STREAM && frame.streamId === 1);
      assert.equal(errorCodeOf(reset), H2_ERROR.ENHANCE_YOUR_CALM);
      h2.socket.destroy();
    });

    test("rapid reset (CVE-2023-44487): the session ends with GOAWAY ENHANCE_YOUR_CALM, and the origin sees a bounded number of requests", async () => {
      const seen = origin.seen.length;
      const h2 = await rawSession();
      for (let id = 1; id < 2 * 1000; id += 2) {
        h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, get(`/reset/${id}`));
        h2.writeFrame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, H2_ERROR.CANCEL]));
      }
      const goaway = await h2.waitForFrame((frame) => frame.type === FRAME.GOAWAY);
      assert.equal(errorCodeOf(goaway), H2_ERROR.ENHANCE_YOUR_CALM);
      await h2.closed;
      assert.ok(!h2.frames.some((frame) => frame.type === FRAME.GOAWAY && errorCodeOf(frame) !== H2_ERROR.ENHANCE_YOUR_CALM), "no other GOAWAY code");
      await edge.waitForLog((line) => typeof line.msg === "string" && line.msg.includes("rapid reset"));
      // Each stream the edge accepted before the GOAWAY may have started an origin request; never all 1000.
      assert.ok(origin.seen.length - seen < 1000, `${origin.seen.length - seen} origin requests`);
    });

    test("more streams open at once than the advertised 128: GOAWAY PROTOCOL_ERROR (RFC 9113 §5.1.2)", async () => {
      const h2 = await rawSession();
      // GETs whose HEADERS do not end the stream: each stays open, waiting for its end.
      for (let id = 1; id < 2 * 200; id += 2) h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS, id, get(`/open/${id}`));
      const goaway = await h2.waitForFrame((frame) => frame.type === FRAME.GOAWAY);
      assert.equal(errorCodeOf(goaway), H2_ERROR.PROTOCOL_ERROR);
      await h2.closed;
    });

    // Node destroys such a session itself, with GOAWAY INTERNAL_ERROR when it can still write one (or
    // none, when the flood arrives in the read that fails): the code is Node's, no option chooses it.
    const endsOnNodesTerms = (h2: RawH2) => {
      assert.ok(!h2.frames.some((frame) => frame.type === FRAME.HEADERS), "no request was served");
      for (const frame of h2.frames.filter((f) => f.type === FRAME.GOAWAY)) assert.equal(errorCodeOf(frame), H2_ERROR.INTERNAL_ERROR);
    };

    test("CONTINUATION flood (CVE-2024-28182): nghttp2 stops after 8 CONTINUATION frames and the connection closes, no request served", async () => {
      const h2 = await rawSession();
      h2.writeFrame(FRAME.HEADERS, 0, 1, get("/continued"));
      for (let index = 0; index < 100; index++) h2.writeFrame(FRAME.CONTINUATION, 0, 1, hpackBlock([["x-more", "v"]]));
      await h2.closed;
      endsOnNodesTerms(h2);
      await edge.waitForLog((line) => line.msg === "viewer HTTP/2 session failed" && /CONTINUATION/.test(String((line.error as { message?: string })?.message)));
    });

    test("a flood of malformed requests: the session is destroyed after maxSessionInvalidFrames, no request served", async () => {
      const h2 = await rawSession();
      // An upper-case field name makes a request malformed (RFC 9113 §8.2.1): each is an invalid frame.
      for (let id = 1; id < 2 * 500; id += 2) h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, get("/bad", [["X-Upper", "v"]]));
      await h2.closed;
      endsOnNodesTerms(h2);
      await edge.waitForLog((line) => line.msg === "viewer HTTP/2 session failed" && (line.error as { code?: string })?.code === "ERR_HTTP2_TOO_MANY_INVALID_FRAMES");
    });

    test("after every flood, a new connection is served", async () => {
      const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
      assert.equal((await h2Request(session, { ":path": "/still", ":authority": "shop.test" })).status, 200);
      session.close();
    });
  });
});
