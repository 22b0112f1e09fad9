// Origin connections are pooled and TLS sessions resumed: counts the handshakes that must not happen.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

const MISS_BODY = Buffer.alloc(1024, "m");

describe("origin connection pooling", () => {
  let ca: CertificateAuthority;
  let origin: https.Server;
  let edge: TestEdge;
  const handshakes: Array<{ isResumed: boolean; protocol: string | null }> = [];

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      // "/close" makes the origin end the connection after answering, so the next request needs a new one.
      if (req.url === "/close") res.writeHead(200, { connection: "close" });
      // "/miss…": a 1 KiB no-store answer, so that every request is a cache miss (a body read whole, or as a stream).
      else if (req.url?.startsWith("/miss")) return void res.writeHead(200, { "content-type": "text/plain", "content-length": "1024", "cache-control": "no-store" }).end(MISS_BODY);
      else res.writeHead(200);
      res.end(String((req.socket as TLSSocket).getPeerX509Certificate()?.subjectAltName));
    });
    origin.on("secureConnection", (socket: TLSSocket) => handshakes.push({ isResumed: socket.isSessionReused(), protocol: socket.getProtocol() }));
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    edge = await startTestEdge(ca, {
      distributions: [{ id: "pool", aliases: ["pool.test"], origins: [{ id: "api", url: `https://localhost:${(origin.address() as AddressInfo).port}` }] }],
    });
  });

  after(async () => {
    await edge.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  });

  test("sequential requests share one origin connection, and a new connection resumes the TLS session", async () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "pool.test" });
    for (let i = 0; i < 10; i++) {
      const res = await viewerRequest(client, { path: `/n${i}`, host: "pool.test" });
      assert.equal(res.status, 200);
      assert.match(res.body, /spiffe:\/\/moat\.internal\/distribution\/pool\/origin\/api/);
    }
    assert.equal(handshakes.length, 1, "ten requests, one handshake");
    assert.equal(handshakes[0]?.isResumed, false);

    await viewerRequest(client, { path: "/close", host: "pool.test" });
    const res = await viewerRequest(client, { path: "/after-close", host: "pool.test" });
    await client.close();
    assert.equal(res.status, 200, "the resumed session still carries the client certificate");
    assert.equal(handshakes.length, 2);
    assert.equal(handshakes[1]?.isResumed, true, "the second connection resumed the first one's session");
  });

  test("hundreds of misses, sequential and concurrent, open no more origin connections than requests were in flight at once", async () => {
    const lanes = 8;
    const clients = Array.from({ length: lanes }, () => createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "pool.test" }));
    const before = handshakes.length;
    let misses = 0;
    const miss = async (client: (typeof clients)[number], path: string) => {
      const res = await viewerRequest(client, { path, host: "pool.test" });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, MISS_BODY.length);
      assert.match(String(res.headers["cache-status"]), /fwd=uri-miss/);
      misses++;
    };
    try {
      // One request at a time: one connection, reused by each.
      for (let i = 0; i < 50; i++) await miss(clients[0] as (typeof clients)[number], `/miss/sequential?i=${i}`);
      // Up to `lanes` at a time, on one path (uncacheable, so not collapsed) and on distinct ones.
      await Promise.all(clients.map(async (client, lane) => {
        for (let i = 0; i < 40; i++) await miss(client, i % 2 === 0 ? "/miss/same" : `/miss/lane${lane}?i=${i}`);
      }));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
    assert.equal(misses, 50 + lanes * 40);
    const opened = handshakes.length - before;
    assert.ok(opened <= lanes, `${misses} misses opened ${opened} origin connections; at most ${lanes} requests were in flight at once`);
  });
});
