// Rotation under load: many renewals of the viewer and origin client certificates with zero failed requests; a renewal the origin refuses never goes live.
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

/** An mTLS origin that records client serials and can refuse serials it was not told to accept. */
async function startPinningOrigin(ca: CertificateAuthority) {
  const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  const state = { serials: [] as string[], accepted: null as Set<string> | null };
  const server = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    state.serials.push((req.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "");
    req.resume();
    res.end("ok");
  });
  // Refusing right after the handshake, before a byte of HTTP, is what a TLS 1.3 server that
  // rejects a client certificate looks like from the client's side.
  server.on("secureConnection", (socket: TLSSocket) => {
    const serial = socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
    if (state.accepted && !state.accepted.has(serial)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { url: `https://localhost:${(server.address() as AddressInfo).port}`, state, close };
}

describe("certificate rotation under load", () => {
  let ca: CertificateAuthority;
  let origin: Awaited<ReturnType<typeof startPinningOrigin>>;
  let edge: TestEdge;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startPinningOrigin(ca);
    // Six-second certificates renewed at half their life (less up to 10% jitter): a rotation every
    // 2.4 to 3 s, with at least 3 s to spare for a rebuild while this process also runs the load and
    // CI runs other suites on the same two cores (4 s certificates left too little under load).
    edge = await startTestEdge(ca, {
      pki: { clientCertValidity: "6s", serverCertValidity: "6s", renewAtFraction: 0.5 },
      distributions: [{ id: "rot", aliases: ["rot.test"], origins: [{ id: "api", url: origin.url }] }],
    });
  });

  after(async () => {
    await edge.close();
    await origin.close();
  });

  test("ten rotations of the viewer and origin client certificates, zero failed requests", { timeout: 90_000 }, async () => {
    // Ten rotations of each: eleven distinct certificates seen at the origin and by viewers.
    const rotationsWanted = 10;
    const failures: string[] = [];
    const viewerSerials = new Set<string>();
    const originSerials = () => new Set(origin.state.serials).size;
    let isDone = false;
    const isEnough = () => originSerials() > rotationsWanted && viewerSerials.size > rotationsWanted;

    // Keep-alive viewers ride through rotations on their connections...
    const keepAlive = async () => {
      const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "rot.test" });
      while (!isDone) {
        if (isEnough()) isDone = true;
        const res = await viewerRequest(client, { path: "/k", host: "rot.test" }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
        if (res.status !== 200) failures.push(`keep-alive: ${res.status} ${res.body.slice(0, 120)}`);
      }
      await client.close();
    };
    // ...and fresh connections see each new viewer certificate.
    const fresh = async () => {
      while (!isDone) {
        const result = await freshRequest(edge.edge.httpsPort, ca.bundlePem).catch((e: Error) => ({ status: 0, serial: "", error: e.message }));
        if (result.status !== 200) failures.push(`fresh: ${result.status} ${"error" in result ? result.error : ""}`);
        else viewerSerials.add(result.serial);
      }
    };
    // Bounded: the renewals come by themselves; if they stop coming, the test's timeout ends it.
    await Promise.all([keepAlive(), keepAlive(), fresh()]);

    assert.deepEqual(failures, []);
    assert.ok(originSerials() > rotationsWanted, `the origin saw ${originSerials()} client certificates`);
    assert.ok(viewerSerials.size > rotationsWanted, `viewers saw ${viewerSerials.size} viewer certificates`);
  });

  test("a renewed client certificate the origin refuses never goes live; the old one keeps serving, and the retry succeeds once it is trusted", async () => {
    // Accept only the certificates seen so far: the next renewal will be refused.
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "rot.test" });
    assert.equal((await viewerRequest(client, { path: "/pin", host: "rot.test" })).status, 200);
    const known = new Set(origin.state.serials);
    origin.state.accepted = known;
    const refusedAt = edge.logs.length;
    const refused = await edge.waitForLog((l) => l.msg?.toString().startsWith("renewed origin client certificate refused") === true && edge.logs.indexOf(l) >= refusedAt);
    const pinned = String(refused.keeping);
    assert.ok(known.has(pinned), "the certificate kept is one the origin accepts");

    const during = await viewerRequest(client, { path: "/during", host: "rot.test" });
    assert.equal(during.status, 200, "requests keep flowing on the old certificate");
    assert.ok(known.has(origin.state.serials.at(-1) ?? ""));

    origin.state.accepted = null;
    const renewedAt = edge.logs.length;
    await edge.waitForLog((l) => l.msg === "origin client certificate renewed" && edge.logs.indexOf(l) >= renewedAt);
    const after = await viewerRequest(client, { path: "/after", host: "rot.test" });
    await client.close();
    assert.equal(after.status, 200);
    assert.ok(!known.has(origin.state.serials.at(-1) ?? ""), "the renewed certificate is live once the origin accepts it");
  });
});

/** One request on a new TLS connection; returns the status and the viewer certificate's serial. */
function freshRequest(port: number, caPem: string): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, servername: "rot.test", ca: caPem, path: "/f", headers: { host: "rot.test" }, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? "";
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, serial }));
    });
    req.on("error", reject);
    req.end();
  });
}
