// Revocation reaches a running edge: the revoked certificate in use is replaced at once, its pooled connections and sessions dropped, and the CRL published over HTTP.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { generateMasterKey, initCertificateAuthority, publishCrl, revokeCertificate, splitCrlPem } from "../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { within } from "../support/mtls-viewer.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

describe("revocation in a running edge", () => {
  let dataDir: string;
  let masterKey: MasterKey;
  let ca: CertificateAuthority;
  let origin: https.Server;
  let certificate: Awaited<ReturnType<CertificateAuthority["issueServerCertificate"]>>;
  let edge: TestEdge;
  /** The client certificate serial of each request, as the origin saw it on its connection. */
  const seen: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "moat-revoke-"));
    masterKey = generateMasterKey();
    ca = await initCertificateAuthority({ dataDir, masterKey });
    certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      seen.push((req.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    edge = await startTestEdge(
      ca,
      { distributions: [{ id: "rev", aliases: ["rev.test"], origins: [{ id: "api", url: `https://localhost:${(origin.address() as AddressInfo).port}` }] }] },
      { dataDir, masterKey },
    );
  });

  after(async () => {
    await edge.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });

  test("a revoked origin client certificate is replaced at once and its pooled connection is not used again", async () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "rev.test" });
    assert.equal((await viewerRequest(client, { path: "/1", host: "rev.test" })).status, 200);
    const revoked = seen.at(-1) ?? "";
    await revokeCertificate({ dataDir, serialHex: revoked, reason: "keyCompromise" });
    await edge.waitForLog((l) => l.msg === "snapshot applied" && !JSON.stringify(l.originClients).includes(revoked));
    // The origin now refuses the revoked certificate at the TLS layer too.
    const crl = await publishCrl({ ca, dataDir, masterKey });
    origin.setSecureContext({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, crl: splitCrlPem(crl.bundlePem) });
    const res = await viewerRequest(client, { path: "/2", host: "rev.test" });
    await client.close();
    assert.equal(res.status, 200);
    assert.notEqual(seen.at(-1), revoked, "the request went on a connection with the new certificate");
  });

  test("a revoked viewer certificate is replaced, and connections that used it are dropped", async () => {
    const before = await freshViewerSerial(edge.edge.httpsPort, ca.bundlePem);
    await revokeCertificate({ dataDir, serialHex: before, reason: "superseded" });
    const dropped = await edge.waitForLog((l) => l.msg?.toString().startsWith("revoked viewer certificate replaced") === true);
    assert.deepEqual(dropped.serials, [before]);
    const after = await freshViewerSerial(edge.edge.httpsPort, ca.bundlePem);
    assert.notEqual(after, before);
  });

  test("a revoked viewer certificate also drops resumed TLS 1.2 connections that named no server", async () => {
    // TLS 1.2 resumption skips SNI: the edge can't tell which certificate the session was made with.
    const full = await tls12Request(edge.edge.httpsPort, ca.bundlePem, {});
    assert.ok(full.session, "a TLS 1.2 session ticket");
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const resumed = await tls12Request(edge.edge.httpsPort, ca.bundlePem, { session: full.session, agent });
      assert.equal(resumed.status, 200);
      assert.equal(resumed.socket.isSessionReused(), true, "the session resumed");
      const closed = new Promise((resolve) => resumed.socket.once("close", resolve));
      await revokeCertificate({ dataDir, serialHex: full.serial, reason: "superseded" });
      await edge.waitForLog((l) => l.msg?.toString().startsWith("revoked viewer certificate replaced") === true && JSON.stringify(l.serials) === JSON.stringify([full.serial]));
      await within(closed, "the resumed connection to close");
    } finally {
      agent.destroy();
    }
  });

  test("the CRL and the CA bundle are published on the plain-HTTP port", async () => {
    const get = (path: string) =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: edge.edge.httpPort ?? 0, path }, (res) => {
            let body = "";
            res.on("data", (d: Buffer) => (body += d.toString("latin1")));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
          })
          .on("error", reject);
      });
    const crl = await get("/.well-known/moat/crl-bundle.pem");
    assert.equal(crl.status, 200);
    assert.match(crl.body, /-----BEGIN X509 CRL-----/);
    const bundle = await get("/.well-known/moat/ca-bundle.pem");
    assert.equal(bundle.body, ca.bundlePem);
    const der = await get("/.well-known/moat/crl.der");
    assert.equal(der.type, "application/pkix-crl");
  });
});

function freshViewerSerial(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, servername: "rev.test", ca: caPem, path: "/", headers: { host: "rev.test" }, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
      res.resume();
      res.on("end", () => resolve(serial));
    });
    req.on("error", reject);
    req.end();
  });
}

/** One TLS 1.2 request for rev.test: its status, the edge certificate's serial, the session ticket and the socket. */
function tls12Request(port: number, caPem: string, options: { session?: Buffer; agent?: https.Agent }): Promise<{ status: number; serial: string; session: Buffer | undefined; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    const request: https.RequestOptions = { host: "127.0.0.1", port, servername: "rev.test", ca: caPem, maxVersion: "TLSv1.2", path: "/", headers: { host: "rev.test" }, agent: options.agent ?? false };
    const req = https.request({ ...request, ...(options.session ? { session: options.session } : {}) } as https.RequestOptions, (res) => {
      const socket = res.socket as TLSSocket;
      const serial = socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, serial, session, socket }));
    });
    req.on("socket", (socket) => socket.on("session", (ticket: Buffer) => (session = ticket)));
    req.on("error", reject);
    req.end();
  });
}
