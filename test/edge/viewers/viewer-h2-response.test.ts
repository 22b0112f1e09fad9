// The viewer listener's two HTTP/2 responses on a real HTTP/2 server over TLS, Node's compatibility one (ViewerH2Response) and the raw stream's (ViewerH2StreamResponse): which frames a response takes (HEADERS + DATA with END_STREAM; HEADERS alone for HEAD, 304 and empty bodies), and that headers, bodies and flow control are Node's.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ViewerH2Response } from "../../../src/edge/viewers/viewer-h2-response.ts";
import { ViewerH2StreamRequest, ViewerH2StreamResponse } from "../../../src/edge/viewers/viewer-h2-stream.ts";
import { createEphemeralCertificateAuthority } from "../../../src/pki/index.ts";
import { connectRawH2, FLAG, FRAME, hpackBlock } from "../../support/raw-h2.ts";
import type { ReceivedFrame } from "../../support/raw-h2.ts";

const HOST = "h2.test";
const LARGE = Buffer.alloc(300 * 1024, "L");

const ca = await createEphemeralCertificateAuthority();
const certificate = await ca.issueServerCertificate({ dnsNames: [HOST], validityMs: 3_600_000 });

/** What the handler answers per path, as the edge does: writeHead, then end with the body in the same turn. */
function answer(req: Http2ServerRequest, res: Http2ServerResponse): void {
  req.resume();
  const path = req.url;
  if (path === "/small") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "5", "x-moat": "yes" });
    res.end(Buffer.from("hello"));
  } else if (path === "/empty" || req.method === "HEAD") {
    res.writeHead(200, { "content-length": "0" });
    res.end();
  } else if (path === "/not-modified") {
    res.writeHead(304, { etag: '"v1"' });
    res.end();
  } else if (path === "/large") {
    res.writeHead(200, { "content-length": String(LARGE.length) });
    res.end(LARGE);
  } else if (path === "/later") {
    // The body comes after I/O: the head goes on its own first.
    res.writeHead(200, { "content-type": "text/plain" });
    setTimeout(() => res.end("late"), 20);
  } else if (path === "/fields") {
    // Fields as Node's writeHead takes them: set before the head, mixed case, an array, Connection (dropped).
    const refused = [":path", "bad name", "x-null"].filter((name) => {
      try {
        res.writeHead(200, { [name]: name === "x-null" ? null : "v" } as Record<string, string>);
        return false;
      } catch {
        return true;
      }
    });
    res.setHeader("x-before", "set");
    res.writeHead(200, { "X-Mixed-Case": "mixed", "set-cookie": ["a=1", "b=2"], connection: "close", "x-after": "plain" });
    const seen = ["x-before", "x-mixed-case", "x-after", "connection"].map((name) => `${name}=${String(res.getHeader(name))}`).join(",");
    res.end(`${seen};refused=${refused.join(",")}`);
  } else if (path === "/trailers") {
    res.addTrailers({ "x-checksum": "abc" });
    res.writeHead(200, {});
    res.end("with trailers");
  }
}

type Kind = "compat" | "stream";
const TITLE: Record<Kind, string> = { compat: "Node's response (ViewerH2Response)", stream: "raw stream (ViewerH2StreamResponse)" };

async function startServer(t: { after(fn: () => void): void }, kind: Kind, handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void = answer): Promise<number> {
  const server =
    kind === "compat"
      ? http2.createSecureServer({ key: certificate.keyPem, cert: certificate.chainPem, Http2ServerResponse: ViewerH2Response as typeof Http2ServerResponse }, handler)
      : http2.createSecureServer({ key: certificate.keyPem, cert: certificate.chainPem }).on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
          const req = new ViewerH2StreamRequest(stream, headers, rawHeaders);
          handler(req as unknown as Http2ServerRequest, new ViewerH2StreamResponse(stream, req) as unknown as Http2ServerResponse);
        });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const session of sessions) session.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** The frames the server sends on stream 1 for one request, until END_STREAM. */
async function framesFor(port: number, method: string, path: string): Promise<ReceivedFrame[]> {
  const h2 = await connectRawH2({ port, caPem: ca.bundlePem, servername: HOST });
  try {
    h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hpackBlock([[":method", method], [":scheme", "https"], [":authority", HOST], [":path", path]]));
    await h2.waitForFrame((frame) => frame.streamId === 1 && (frame.flags & FLAG.END_STREAM) !== 0);
    return h2.frames.filter((frame) => frame.streamId === 1);
  } finally {
    h2.socket.destroy();
  }
}

const kinds = (frames: ReceivedFrame[]) => frames.map((frame) => `${frame.type === FRAME.HEADERS ? "HEADERS" : frame.type === FRAME.DATA ? "DATA" : frame.type}${frame.flags & FLAG.END_STREAM ? "+END" : ""}`);

/** One request through node:http2's client, verifying the server's certificate against the test CA. */
async function fetchH2(port: number, method: string, path: string): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: HOST });
  try {
    const stream = session.request({ ":method": method, ":path": path, ":authority": HOST }, { endStream: true });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("error", reject);
    });
    let trailers: http2.IncomingHttpHeaders = {};
    stream.once("trailers", (received) => (trailers = received));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { headers, body: Buffer.concat(chunks), trailers };
  } finally {
    session.close();
  }
}

for (const kind of ["compat", "stream"] as const) {
  test(`${TITLE[kind]}: writeHead + end(body) in one turn: HEADERS, then one DATA frame that ends the stream`, async (t) => {
    const port = await startServer(t, kind);
    const frames = await framesFor(port, "GET", "/small");
    assert.deepEqual(kinds(frames), ["HEADERS", "DATA+END"]);
    assert.equal(frames[1]?.payload.toString(), "hello");
  });

  test(`${TITLE[kind]}: an empty body, HEAD and 304 are one HEADERS frame that ends the stream`, async (t) => {
    const port = await startServer(t, kind);
    assert.deepEqual(kinds(await framesFor(port, "GET", "/empty")), ["HEADERS+END"]);
    assert.deepEqual(kinds(await framesFor(port, "HEAD", "/small")), ["HEADERS+END"]);
    assert.deepEqual(kinds(await framesFor(port, "GET", "/not-modified")), ["HEADERS+END"]);
  });

  test(`${TITLE[kind]}: headers, status and body arrive as written; HEAD and 304 carry no body`, async (t) => {
    const port = await startServer(t, kind);
    const small = await fetchH2(port, "GET", "/small");
    assert.equal(small.headers[":status"], 200);
    assert.equal(small.headers["content-type"], "text/plain");
    assert.equal(small.headers["x-moat"], "yes");
    assert.ok(small.headers.date, "Node's date header is still sent");
    assert.equal(small.body.toString(), "hello");
    const head = await fetchH2(port, "HEAD", "/small");
    assert.equal(head.headers[":status"], 200);
    assert.equal(head.body.length, 0);
    const notModified = await fetchH2(port, "GET", "/not-modified");
    assert.equal(notModified.headers[":status"], 304);
    assert.equal(notModified.headers.etag, '"v1"');
    assert.equal(notModified.body.length, 0);
  });

  test(`${TITLE[kind]}: a body larger than the flow-control window arrives whole`, async (t) => {
    const port = await startServer(t, kind);
    const large = await fetchH2(port, "GET", "/large");
    assert.equal(large.headers["content-length"], String(LARGE.length));
    assert.ok(large.body.equals(LARGE));
  });

  test(`${TITLE[kind]}: a head whose body comes after I/O is sent on its own, then the body`, async (t) => {
    const port = await startServer(t, kind);
    const frames = await framesFor(port, "GET", "/later");
    assert.deepEqual(kinds(frames), ["HEADERS", "DATA+END"]);
    assert.equal((await fetchH2(port, "GET", "/later")).body.toString(), "late");
  });

  test(`${TITLE[kind]}: fields go as setHeader would store them: lower-cased, Connection dropped, readable with getHeader; invalid names refused`, async (t) => {
    const port = await startServer(t, kind);
    const answered = await fetchH2(port, "GET", "/fields");
    assert.equal(answered.headers["x-before"], "set");
    assert.equal(answered.headers["x-mixed-case"], "mixed");
    assert.equal(answered.headers["x-after"], "plain");
    assert.deepEqual(answered.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(answered.headers.connection, undefined);
    assert.equal(answered.body.toString(), "x-before=set,x-mixed-case=mixed,x-after=plain,connection=undefined;refused=:path,bad name,x-null");
  });

  test(`${TITLE[kind]}: trailers set before the head are still sent`, async (t) => {
    const port = await startServer(t, kind);
    const answered = await fetchH2(port, "GET", "/trailers");
    assert.equal(answered.body.toString(), "with trailers");
    assert.equal(answered.trailers["x-checksum"], "abc");
  });

  test(`${TITLE[kind]}: early hints go before the final head; a Link Node refuses throws, and the response goes on`, async (t) => {
    const port = await startServer(t, kind, (req, res) => {
      req.resume();
      const refused = (() => {
        try {
          res.writeEarlyHints({ link: "not a link" });
          return "no";
        } catch {
          return "yes";
        }
      })();
      res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
      res.writeHead(200, { "content-type": "text/plain", "x-refused": refused });
      res.end("final");
    });
    const frames = await framesFor(port, "GET", "/hinted");
    assert.deepEqual(kinds(frames), ["HEADERS", "HEADERS", "DATA+END"]);
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: HOST });
    t.after(() => session.close());
    const stream = session.request({ ":path": "/hinted", ":authority": HOST }, { endStream: true });
    const hints = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("headers", resolve));
    const final = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
    stream.resume();
    assert.equal((await hints)[":status"], 103);
    assert.equal((await hints).link, "</style.css>; rel=preload; as=style");
    assert.equal((await final)[":status"], 200);
    assert.equal((await final)["x-refused"], "yes");
  });

  test(`${TITLE[kind]}: pipeline(body, res) waits on the viewer's flow control and ends the stream`, async (t) => {
    const chunks = Array.from({ length: 24 }, (_, index) => Buffer.alloc(64 * 1024, 97 + index));
    let piped: Promise<void> | undefined;
    const port = await startServer(t, kind, (req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": String(24 * 64 * 1024) });
      piped = pipeline(Readable.from(chunks), res as unknown as NodeJS.WritableStream);
    });
    const answered = await fetchH2(port, "GET", "/piped");
    assert.ok(answered.body.equals(Buffer.concat(chunks)));
    await piped;
  });

  // Bounded: a response that never hears its stream close would wait for ever.
  test(`${TITLE[kind]}: a viewer that resets its stream closes the response ('close' without an end), and nothing throws`, { timeout: 20_000 }, async (t) => {
    const closed: Promise<{ writableEnded: boolean }>[] = [];
    const port = await startServer(t, kind, (req, res) => {
      req.resume();
      closed.push(new Promise((resolve) => res.once("close", () => resolve({ writableEnded: res.writableEnded }))));
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("part of it");
    });
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: HOST });
    t.after(() => session.close());
    // CANCEL (a browser leaving) and an error code (which Node raises as an 'error' on the server's stream).
    for (const code of [http2.constants.NGHTTP2_CANCEL, http2.constants.NGHTTP2_INTERNAL_ERROR]) {
      const stream = session.request({ ":path": "/hang", ":authority": HOST }, { endStream: true });
      stream.on("error", () => {});
      await new Promise((resolve) => stream.once("data", resolve));
      stream.close(code);
    }
    assert.equal(closed.length, 2);
    for (const close of closed) assert.deepEqual(await close, { writableEnded: false });
  });
}
