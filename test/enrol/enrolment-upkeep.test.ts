// Keeping an enrolled host current: due work renews and refreshes; a bundle refresh keeps a previous intermediate of a kept root (intermediate rotation) and drops the rest.
import assert from "node:assert/strict";
import { createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createEnrolmentService, createEnrolmentToken, enrolHost, mergeBundles, readEnrolmentState, runDueWork, startEnrolmentServer } from "../../src/enrol/index.ts";
import { GUARD_DIR_FILES } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { openPrivateKey } from "../../src/pki/index.ts";
import { createGuardPki, type GuardPki } from "../guard/guard-pki.ts";

const silent = createLogger({ level: "silent" });

/** A second intermediate under `pki`'s root, as an intermediate rotation makes one; notAfter is chosen by the test. */
async function anotherIntermediate(pki: GuardPki, notAfter: Date): Promise<string> {
  const { keyPem } = openPrivateKey(await readFile(join(pki.dataDir, "ca", "root.key"), "utf8"), pki.masterKey, "root.key");
  const rootKey = createPrivateKey(keyPem).toCryptoKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const root = new x509.X509Certificate(pki.ca.rootPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "01",
    subject: "CN=Moat Intermediate CA 2, O=Moat",
    issuer: root.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: rootKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.AuthorityKeyIdentifierExtension.create(root, false, webcrypto),
    ],
  }, webcrypto);
  return `${cert.toString("pem")}\n`;
}

test("mergeBundles keeps a still-valid previous intermediate of a root that stays, and drops expired ones and those of a root that left", async (t) => {
  const pki = await createGuardPki(t);
  const other = await createGuardPki(t);
  const previous = await anotherIntermediate(pki, new Date(Date.now() + 86_400_000));
  const expired = await anotherIntermediate(pki, new Date(Date.now() - 1_000));
  const fresh = pki.ca.bundlePem + pki.ca.intermediatePem;
  const merged = mergeBundles(pki.ca.bundlePem + previous + expired + other.ca.intermediatePem + pki.ca.intermediatePem, fresh, new Date());
  const fingerprints = merged.split(/(?=-----BEGIN CERTIFICATE-----)/).map((pem) => new X509Certificate(pem).fingerprint256);
  assert.deepEqual(fingerprints, [pki.ca.rootPem, pki.ca.intermediatePem, previous].map((pem) => new X509Certificate(pem).fingerprint256));
  assert.equal(mergeBundles(undefined, fresh, new Date()), fresh);
});

async function enrolled(t: TestContext) {
  const pki = await createGuardPki(t);
  const service = createEnrolmentService({ ca: pki.ca, dataDir: pki.dataDir, masterKey: pki.masterKey });
  const server = await startEnrolmentServer({ service, certificate: await pki.server(), listen: { host: "127.0.0.1", port: 0 }, log: silent });
  t.after(() => server.stop());
  const dir = await mkdtemp(join(tmpdir(), "moat-upkeep-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { token } = await createEnrolmentToken({ dataDir: pki.dataDir, dnsNames: ["localhost"], ipAddresses: [], ttlMs: 60_000, validityMs: 86_400_000, now: new Date() });
  await enrolHost({ url: `https://localhost:${server.port}`, token, caBundlePem: pki.ca.bundlePem, dir });
  return { pki, dir };
}

test("runDueWork does nothing before the renewal and refresh times, and both once they are due", async (t) => {
  const { dir } = await enrolled(t);
  const state = await readEnrolmentState(dir);
  const serial = () => readFile(join(dir, GUARD_DIR_FILES.cert), "utf8").then((pem) => new X509Certificate(pem).serialNumber);
  const before = await serial();
  assert.deepEqual(await runDueWork(dir, new Date(), silent), state);
  assert.equal(await serial(), before);
  const later = new Date(Math.max(new Date(state.renewAt).getTime(), new Date(state.trustRefreshAt).getTime()) + 1_000);
  const after = await runDueWork(dir, later, silent);
  assert.notEqual(await serial(), before);
  assert.notEqual(after.renewAt, state.renewAt);
});
