// An origin answer's body: taken whole once it has arrived, or read as a stream (made on first use) with what arrived before it, back-pressure and failures kept.
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createOriginClient } from "../../src/origin/index.ts";
import type { OriginClient, OriginResponse } from "../../src/origin/index.ts";
import { OriginFailureError } from "../../src/errors.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";

const KIB = 1024;
const NGINX_495 = "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

async function readAll(response: OriginResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves once the exchange is over (undici handed the connection back), so that a body that arrived is whole. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("origin answer bodies", () => {
  let ca: CertificateAuthority;
  let origin: https.Server;
  let client: OriginClient;
  const handshakes: number[] = [];
  let releaseHeld: () => void = () => {};

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 }, (req, res) => {
      const bytes = Number(new URL(req.url ?? "/", "https://x").searchParams.get("bytes") ?? "0");
      const body = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i++) body[i] = i % 251;
      if (req.url?.startsWith("/cut")) {
        // The head and half the body, then the connection is cut.
        res.writeHead(200, { "content-length": String(bytes) });
        res.write(body.subarray(0, bytes / 2));
        return void setImmediate(() => req.socket.destroy());
      }
      if (req.url?.startsWith("/refusal-page")) {
        // nginx's page in two writes, the second a turn later: the answer waits for enough of it to tell.
        res.writeHead(400, { "content-type": "text/html", "content-length": String(Buffer.byteLength(NGINX_495)) });
        res.write(NGINX_495.slice(0, 20));
        return void setTimeout(() => res.end(NGINX_495.slice(20)), 20);
      }
      if (req.url?.startsWith("/app-400")) {
        // An application's 400 page, its end held back: the answer goes on without it.
        const page = Buffer.from(`<html><head><title>400 The SSL certificate error</title></head><body>${"x".repeat(bytes)}</body></html>`);
        res.writeHead(400, { "content-type": "text/html; charset=utf-8", "content-length": String(page.length) });
        res.write(page.subarray(0, 200));
        releaseHeld = () => res.end(page.subarray(200));
        return;
      }
      if (req.url?.startsWith("/held")) {
        res.writeHead(200, { "content-length": String(bytes) });
        res.write(body.subarray(0, bytes / 2));
        releaseHeld = () => res.end(body.subarray(bytes / 2));
        return;
      }
      res.writeHead(200, { "content-length": String(bytes) });
      res.end(req.method === "HEAD" ? undefined : body);
    });
    origin.on("secureConnection", () => handshakes.push(Date.now()));
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    const port = (origin.address() as AddressInfo).port;
    const clientCert = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3_600_000 });
    client = createOriginClient({
      distributionId: "shop",
      originId: "api",
      url: `https://localhost:${port}`,
      basePath: "",
      hostHeader: `localhost:${port}`,
      serverName: "localhost",
      caPem: ca.bundlePem,
      trustedCaLabel: "test CA",
      clientCertificate: { chainPem: clientCert.chainPem, keyPem: clientCert.keyPem, identity: "shop/api" },
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 5_000,
    });
  });

  after(async () => {
    await client.destroy();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  });

  test("a body that has arrived is taken whole, once; the stream made after it is empty; the connection is reused", async () => {
    const before = handshakes.length;
    for (let i = 0; i < 5; i++) {
      const response = await client.request({ method: "GET", path: "/small?bytes=1024", headers: {}, body: null });
      await turn();
      const whole = response.wholeBody?.();
      assert.ok(whole, "the 1 KiB body arrived with the head");
      assert.equal(Buffer.concat(whole).length, 1024);
      assert.equal(response.wholeBody?.(), null, "taken once");
      assert.equal((await readAll(response)).length, 0);
    }
    assert.ok(handshakes.length - before <= 1);
  });

  test("a HEAD answer's whole body is empty", async () => {
    const response = await client.request({ method: "HEAD", path: "/small?bytes=1024", headers: {}, body: null });
    await turn();
    assert.deepEqual(response.wholeBody?.(), []);
  });

  test("a body read as a stream is whole and in order, past the point where undici stops reading (back-pressure)", async () => {
    const bytes = 1024 * KIB;
    const response = await client.request({ method: "GET", path: `/large?bytes=${bytes}`, headers: {}, body: null });
    // Let the origin fill what the edge buffers before anyone reads: undici pauses the connection there.
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(response.wholeBody?.(), null, "a megabyte is not there yet: read it as a stream");
    const body = await readAll(response);
    assert.equal(body.length, bytes);
    for (const i of [0, 1, 250, 251, 65_535, 65_536, bytes - 1]) assert.equal(body[i], i % 251, `byte ${i}`);
  });

  test("a body still arriving is not whole; its stream has the bytes that came before it was made, then the rest", async () => {
    const bytes = 64 * KIB;
    const response = await client.request({ method: "GET", path: `/held?bytes=${bytes}`, headers: {}, body: null });
    await turn();
    assert.equal(response.wholeBody?.(), null);
    const reading = readAll(response);
    releaseHeld();
    assert.equal((await reading).length, bytes);
  });

  test("a body cut by the origin before the stream was made: the stream fails", async () => {
    const response = await client.request({ method: "GET", path: "/cut?bytes=65536", headers: {}, body: null });
    // Wait for the cut to reach the edge before the stream exists.
    for (let i = 0; i < 20 && response.wholeBody?.() === null; i++) await turn();
    assert.equal(response.wholeBody?.(), null, "a cut body is never whole");
    await assert.rejects(readAll(response));
  });

  test("a 400 that is nginx's refusal page, arriving in pieces, fails the request as origin-rejected-client-cert", { timeout: 10_000 }, async () => {
    await assert.rejects(client.request({ method: "GET", path: "/refusal-page", headers: {}, body: null }), (error: OriginFailureError) => {
      assert.ok(error instanceof OriginFailureError, String(error));
      assert.equal(error.code, "origin-rejected-client-cert");
      assert.match(error.message, /refused the edge's client certificate shop\/api \(the origin answered 400 "The SSL certificate error" after the TLS handshake/);
      return true;
    });
    // The same request as HEAD has no body to tell by: it is the origin's answer.
    const head = await client.request({ method: "HEAD", path: "/refusal-page", headers: {}, body: null });
    assert.equal(head.statusCode, 400);
  });

  test("an application's 400 page is answered at its first bytes, not held for its end, and its body is whole", { timeout: 10_000 }, async () => {
    const bytes = 256 * KIB;
    const response = await client.request({ method: "GET", path: `/app-400?bytes=${bytes}`, headers: {}, body: null });
    assert.equal(response.statusCode, 400);
    const reading = readAll(response);
    releaseHeld();
    const body = (await reading).toString("latin1");
    assert.equal(body.length, bytes + 83);
    assert.match(body, /^<html><head><title>400 The SSL certificate error<\/title>/);
  });
});
