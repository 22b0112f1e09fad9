// A joined edge files the CA node's CRLs as the CA node does: the bundle, the intermediate's crl.der and one crls/<issuer serial>.der per authority.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  activateRootRollover,
  DEFAULT_CA_ROTATION_POLICY,
  generateMasterKey,
  initCertificateAuthority,
  openCertificateAuthority,
  prepareRootRollover,
  publishCrl,
  writeJoinedRevocations,
} from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";

const masterKey = generateMasterKey();

async function tempDir(t: TestContext, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `moat-${name}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** What the CA node publishes to the store: its public certificates. */
const publicCertificates = (ca: CertificateAuthority) => ({ bundlePem: ca.bundlePem, intermediatePem: ca.intermediatePem, previousIntermediatePems: ca.previousIntermediatePems, keyAlgorithm: ca.keyAlgorithm, crlBaseUrl: ca.crlBaseUrl });

async function crlFiles(dataDir: string): Promise<Map<string, Buffer>> {
  const dir = join(dataDir, "ca", "crls");
  const names = (await readdir(dir)).sort();
  return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))] as const)));
}

test("during a root rollover a joined edge holds every authority's CRL, byte for byte the CA node's, under the same names", async (t) => {
  const caDir = await tempDir(t, "ca-node");
  const edgeDir = await tempDir(t, "joined-edge");
  const clock = () => new Date();
  const first = await initCertificateAuthority({ dataDir: caDir, masterKey, crlBaseUrl: "http://cdn.example.test/.well-known/moat/" });
  const revoked = await first.issueServerCertificate({ dnsNames: ["old.example.test"], validityMs: 86_400_000 });
  await prepareRootRollover({ dataDir: caDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
  await activateRootRollover({ dataDir: caDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
  const ca = await openCertificateAuthority({ dataDir: caDir, masterKey });
  await publishCrl({ ca, dataDir: caDir, masterKey });
  const published = { revocations: [{ serialHex: new X509Certificate(revoked.certPem).serialNumber.toLowerCase(), reason: "keyCompromise", revokedAt: new Date().toISOString() }], crlBundlePem: await readFile(join(caDir, "ca", "crl-bundle.pem"), "utf8") };

  await writeJoinedRevocations(edgeDir, published, publicCertificates(ca));

  const expected = await crlFiles(caDir);
  assert.equal(expected.size, 4, "new root and intermediate, old root, retired intermediate");
  assert.deepEqual(await crlFiles(edgeDir), expected);
  assert.deepEqual(await readFile(join(edgeDir, "ca", "crl.der")), await readFile(join(caDir, "ca", "crl.der")));
  assert.equal(await readFile(join(edgeDir, "ca", "crl-bundle.pem"), "utf8"), published.crlBundlePem);
});

test("a CRL signed by an authority the edge has not taken yet is left out, and a file of an authority gone is removed", async (t) => {
  const caDir = await tempDir(t, "ca-node");
  const edgeDir = await tempDir(t, "joined-edge");
  const clock = () => new Date();
  const before = await initCertificateAuthority({ dataDir: caDir, masterKey });
  await prepareRootRollover({ dataDir: caDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
  await activateRootRollover({ dataDir: caDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
  const after = await openCertificateAuthority({ dataDir: caDir, masterKey });
  await publishCrl({ ca: after, dataDir: caDir, masterKey });
  const bundle = await readFile(join(caDir, "ca", "crl-bundle.pem"), "utf8");
  const serial = (pem: string) => `${new X509Certificate(pem).serialNumber.toLowerCase()}.der`;

  // The edge still holds the CA as it was before the rollover: the new intermediate's and new root's CRLs wait.
  await writeJoinedRevocations(edgeDir, { revocations: [], crlBundlePem: bundle }, publicCertificates(before));
  const filed = [...(await crlFiles(edgeDir)).keys()];
  assert.deepEqual(filed, [serial(before.intermediatePem), serial(before.rootPem)].sort());
  assert.deepEqual(await readFile(join(edgeDir, "ca", "crl.der")), await readFile(join(caDir, "ca", "crls", serial(before.intermediatePem))), "crl.der: the intermediate it issues from");

  // Once it takes the new CA, every CRL is filed; after the rollover's finish, the old root's files go.
  await writeJoinedRevocations(edgeDir, { revocations: [], crlBundlePem: bundle }, publicCertificates(after));
  assert.deepEqual(await crlFiles(edgeDir), await crlFiles(caDir));
  assert.deepEqual(await readFile(join(edgeDir, "ca", "crl.der")), await readFile(join(caDir, "ca", "crl.der")));
  const onlyNew = { ...publicCertificates(after), bundlePem: after.rootPem, previousIntermediatePems: [] };
  await writeJoinedRevocations(edgeDir, { revocations: [], crlBundlePem: bundle }, onlyNew);
  assert.deepEqual([...(await crlFiles(edgeDir)).keys()], [serial(after.intermediatePem), serial(after.rootPem)].sort());
});
