// ViewerH2Response on a real HTTP/2 server over TLS: which frames a response takes (HEADERS + DATA with END_STREAM; HEADERS alone for HEAD, 304 and empty bodies), and that headers, bodies and flow control are Node's.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { ViewerH2Response } from "../../src/edge/viewer-h2-response.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { connectRawH2, FLAG, FRAME, hpackBlock } from "../support/raw-h2.ts";
import type { ReceivedFrame } from "../support/raw-h2.ts";

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

async function startServer(t: { after(fn: () => void): void }): Promise<number> {
  const server = http2.createSecureServer({ key: certificate.keyPem, cert: certificate.chainPem, Http2ServerResponse: ViewerH2Response as typeof Http2ServerResponse }, answer);
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

test("writeHead + end(body) in one turn: HEADERS, then one DATA frame that ends the stream", async (t) => {
  const port = await startServer(t);
  const frames = await framesFor(port, "GET", "/small");
  assert.deepEqual(kinds(frames), ["HEADERS", "DATA+END"]);
  assert.equal(frames[1]?.payload.toString(), "hello");
});

test("an empty body, HEAD and 304 are one HEADERS frame that ends the stream", async (t) => {
  const port = await startServer(t);
  assert.deepEqual(kinds(await framesFor(port, "GET", "/empty")), ["HEADERS+END"]);
  assert.deepEqual(kinds(await framesFor(port, "HEAD", "/small")), ["HEADERS+END"]);
  assert.deepEqual(kinds(await framesFor(port, "GET", "/not-modified")), ["HEADERS+END"]);
});

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

test("headers, status and body arrive as written; HEAD and 304 carry no body", async (t) => {
  const port = await startServer(t);
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

test("a body larger than the flow-control window arrives whole", async (t) => {
  const port = await startServer(t);
  const large = await fetchH2(port, "GET", "/large");
  assert.equal(large.headers["content-length"], String(LARGE.length));
  assert.ok(large.body.equals(LARGE));
});

test("a head whose body comes after I/O is sent on its own, then the body", async (t) => {
  const port = await startServer(t);
  const frames = await framesFor(port, "GET", "/later");
  assert.deepEqual(kinds(frames), ["HEADERS", "DATA+END"]);
  assert.equal((await fetchH2(port, "GET", "/later")).body.toString(), "late");
});

test("fields go as setHeader would store them: lower-cased, Connection dropped, readable with getHeader; invalid names refused", async (t) => {
  const port = await startServer(t);
  const answered = await fetchH2(port, "GET", "/fields");
  assert.equal(answered.headers["x-before"], "set");
  assert.equal(answered.headers["x-mixed-case"], "mixed");
  assert.equal(answered.headers["x-after"], "plain");
  assert.deepEqual(answered.headers["set-cookie"], ["a=1", "b=2"]);
  assert.equal(answered.headers.connection, undefined);
  assert.equal(answered.body.toString(), "x-before=set,x-mixed-case=mixed,x-after=plain,connection=undefined;refused=:path,bad name,x-null");
});

test("trailers set before the head are still sent", async (t) => {
  const port = await startServer(t);
  const answered = await fetchH2(port, "GET", "/trailers");
  assert.equal(answered.body.toString(), "with trailers");
  assert.equal(answered.trailers["x-checksum"], "abc");
});
