// A real mTLS origin (node:https with `crl`) refuses an edge client certificate once it is revoked and the CRL published, and keeps accepting the others.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  createIssuedCertificateStore,
  generateMasterKey,
  initCertificateAuthority,
  publishCrl,
  revokeCertificate,
  splitCrlPem,
} from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../src/pki/index.ts";

const masterKey = generateMasterKey();

interface Origin {
  port: number;
  /** Why the origin refused each client it refused: OpenSSL's verification error (`socket.authorizationError`), e.g. CERT_REVOKED. */
  refusals: string[];
}

/** An origin as an operator would run it: requires a client certificate from Moat's CA, checked against the CRLs. */
async function startOrigin(t: TestContext, ca: CertificateAuthority, crl: string | string[]): Promise<Origin> {
  const server = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
  const refusals: string[] = [];
  const origin = https.createServer(
    { key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, crl },
    (req, res) => res.end(`hello ${req.socket.remoteAddress}`),
  );
  // Node drops the socket after a failed verification (the error itself is often just a hang-up); the reason is on the socket.
  origin.on("tlsClientError", (error, socket) => refusals.push(String(socket.authorizationError ?? error.message)));
  origin.listen(0, "127.0.0.1");
  await once(origin, "listening");
  t.after(() => new Promise<void>((resolve) => origin.close(() => resolve())));
  return { port: (origin.address() as AddressInfo).port, refusals };
}

/** GET / with a client certificate, sending its chain (leaf + intermediate) as the edge does; resolves with the status or the error. */
function get(port: number, ca: CertificateAuthority, client: IssuedCertificate): Promise<{ status: number } | { error: Error }> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: "127.0.0.1", port, path: "/", servername: "localhost", ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("error", (error) => resolve({ error }));
  });
}

async function setUp(t: TestContext) {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-crl-origin-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
  const request = { trustDomain: "moat.internal", distributionId: "shop", validityMs: 86_400_000 };
  const revoked = await store.originClientCertificate({ ...request, originId: "api" });
  const kept = await store.originClientCertificate({ ...request, originId: "api-dr" });
  return { dataDir, ca, revoked, kept };
}

test("an origin loading the published CRLs refuses the revoked client certificate and accepts another of the same CA", async (t) => {
  const { dataDir, ca, revoked, kept } = await setUp(t);

  const before = await publishCrl({ ca, dataDir, masterKey });
  const originBefore = await startOrigin(t, ca, splitCrlPem(before.bundlePem));
  assert.deepEqual(await get(originBefore.port, ca, revoked), { status: 200 }, "accepted while not revoked");

  await revokeCertificate({ dataDir, serialHex: revoked.serialHex, reason: "keyCompromise", ca });
  const after = await publishCrl({ ca, dataDir, masterKey });
  // What an operator copies to the origin: the bundle file as written.
  const bundleFile = await readFile(join(dataDir, "ca", "crl-bundle.pem"), "utf8");
  assert.equal(bundleFile, after.bundlePem);
  const origin = await startOrigin(t, ca, splitCrlPem(bundleFile));

  const refused = await get(origin.port, ca, revoked);
  assert.ok("error" in refused, "the revoked certificate is refused");
  assert.equal(origin.refusals.length, 1);
  assert.deepEqual(origin.refusals, ["CERT_REVOKED"]);
  assert.deepEqual(await get(origin.port, ca, kept), { status: 200 }, "another certificate of the same CA is still accepted");
  assert.deepEqual(origin.refusals, ["CERT_REVOKED"]);
});

test("the intermediate's CRL alone is not enough: OpenSSL wants the root's CRL for the intermediate too, so Moat publishes the bundle", async (t) => {
  const { dataDir, ca, kept } = await setUp(t);
  const published = await publishCrl({ ca, dataDir, masterKey });
  const origin = await startOrigin(t, ca, published.pem);
  assert.ok("error" in (await get(origin.port, ca, kept)), "refused without the root's CRL");
  assert.deepEqual(origin.refusals, ["UNABLE_TO_GET_CRL"]);
  // Node's `crl` reads one CRL per string and ignores the rest: the bundle must be split (splitCrlPem).
  const unsplit = await startOrigin(t, ca, published.bundlePem);
  assert.ok("error" in (await get(unsplit.port, ca, kept)));
  assert.deepEqual(unsplit.refusals, ["UNABLE_TO_GET_CRL"]);
});
