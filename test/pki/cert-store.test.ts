// The issued-certificate store: reuses what is fresh and right, re-issues otherwise, and keeps keys private on disk.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test, type TestContext } from "node:test";
import { CertificateRequestInvalidError } from "../../src/errors.ts";
import {
  createEphemeralCertificateAuthority,
  createIssuedCertificateStore,
  generateMasterKey,
  openPrivateKey,
  sealPrivateKey,
  type CertificateAuthority,
} from "../../src/pki/index.ts";

const masterKey = generateMasterKey();

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const viewer = { name: "viewer-shop", dnsNames: ["shop.example.test"], validityMs: 3 * HOUR_MS };
const identity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3 * HOUR_MS };

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
before(async () => {
  [ca, otherCa] = await Promise.all([createEphemeralCertificateAuthority(), createEphemeralCertificateAuthority()]);
});

/** A store over a fresh data dir with a clock the test moves. */
async function setup(t: TestContext, storeCa = ca) {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-store-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const clock = { now: new Date() };
  const store = createIssuedCertificateStore({ ca: storeCa, dataDir, masterKey, clock: () => clock.now });
  const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));
  return { dataDir, store, clock, advance };
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

test("a fresh server certificate is written privately and reused", async (t) => {
  const { dataDir, store } = await setup(t);
  const first = await store.serverCertificate(viewer);
  const second = await store.serverCertificate(viewer);
  assert.equal(second.serialHex, first.serialHex);
  assert.equal(second.keyPem, first.keyPem);
  assert.equal(second.chainPem, first.chainPem);
  const slot = join(dataDir, "certs", "server", "viewer-shop");
  assert.deepEqual((await readdir(slot)).sort(), ["active", first.serialHex].sort());
  assert.equal((await readFile(join(slot, "active"), "utf8")).trim(), first.serialHex);
  const dir = join(slot, first.serialHex);
  assert.deepEqual((await readdir(dir)).sort(), ["chain.pem", "key.pem"]);
  assert.equal(await modeOf(join(dir, "key.pem")), 0o600);
  for (const d of ["certs", "certs/server", "certs/server/viewer-shop", `certs/server/viewer-shop/${first.serialHex}`]) assert.equal(await modeOf(join(dataDir, d)), 0o700, d);
  const keyFile = await readFile(join(dir, "key.pem"), "utf8");
  assert.doesNotMatch(keyFile, /BEGIN PRIVATE KEY/, "the key is encrypted at rest");
  assert.equal(openPrivateKey(keyFile, masterKey, "key.pem").keyPem, first.keyPem);
});

test("re-issues at two thirds of the life, less the serial's jitter (at most a tenth of the life)", async (t) => {
  const { store, advance } = await setup(t);
  const first = await store.serverCertificate(viewer);
  advance(100 * MINUTE_MS); // 100 of 181 min: before 181 × (2/3 − 0.1) ≈ 102.6
  assert.equal((await store.serverCertificate(viewer)).serialHex, first.serialHex);
  advance(21 * MINUTE_MS); // 121 of 181 min: past 181 × 2/3 ≈ 120.7
  const renewed = await store.serverCertificate(viewer);
  assert.notEqual(renewed.serialHex, first.serialHex);
  assert.notEqual(renewed.keyPem, first.keyPem);
});

test("re-issues when the requested names differ", async (t) => {
  const { store } = await setup(t);
  const first = await store.serverCertificate(viewer);
  const more = await store.serverCertificate({ ...viewer, dnsNames: ["shop.example.test", "www.shop.example.test"] });
  assert.notEqual(more.serialHex, first.serialHex);
  assert.deepEqual(more.sans, ["DNS:shop.example.test", "DNS:www.shop.example.test"]);
  const fewer = await store.serverCertificate(viewer);
  assert.notEqual(fewer.serialHex, more.serialHex);
  assert.equal((await store.serverCertificate({ ...viewer, dnsNames: ["SHOP.example.test"] })).serialHex, fewer.serialHex);
});

test("re-issues when the CA differs", async (t) => {
  const { dataDir, store } = await setup(t);
  const first = await store.serverCertificate(viewer);
  const otherStore = createIssuedCertificateStore({ ca: otherCa, dataDir, masterKey });
  const second = await otherStore.serverCertificate(viewer);
  assert.notEqual(second.serialHex, first.serialHex);
  assert.equal(new X509Certificate(second.certPem).verify(new X509Certificate(otherCa.intermediatePem).publicKey), true);
});

test("re-issues when the validity policy was shortened", async (t) => {
  const { store } = await setup(t);
  const first = await store.serverCertificate(viewer);
  const shorter = await store.serverCertificate({ ...viewer, validityMs: HOUR_MS });
  assert.notEqual(shorter.serialHex, first.serialHex);
});

test("origin client certificates are reused per identity and re-issued when the identity changes", async (t) => {
  const { dataDir, store } = await setup(t);
  const first = await store.originClientCertificate(identity);
  assert.equal((await store.originClientCertificate(identity)).serialHex, first.serialHex);
  assert.deepEqual(first.sans, ["URI:spiffe://moat.internal/distribution/shop/origin/api"]);
  const moved = await store.originClientCertificate({ ...identity, trustDomain: "edge.internal" });
  assert.notEqual(moved.serialHex, first.serialHex);
  assert.equal(await modeOf(join(dataDir, "certs", "origin-client", "shop", "api", moved.serialHex, "key.pem")), 0o600);
});

test("a stored key that does not match its certificate is replaced", async (t) => {
  const { dataDir, store } = await setup(t);
  const first = await store.originClientCertificate(identity);
  const other = await ca.issueOriginClientCertificate(identity);
  await writeFile(join(dataDir, "certs", "origin-client", "shop", "api", first.serialHex, "key.pem"), sealPrivateKey(other.keyPem, masterKey));
  const second = await store.originClientCertificate(identity);
  assert.notEqual(second.serialHex, first.serialHex);
});

test("concurrent requests for one certificate share one issuance", async (t) => {
  const { store } = await setup(t);
  const [a, b] = await Promise.all([store.serverCertificate(viewer), store.serverCertificate(viewer)]);
  assert.equal(a.serialHex, b.serialHex);
});

test("names that could escape the store directory are refused", async (t) => {
  const { store } = await setup(t);
  await assert.rejects(store.serverCertificate({ ...viewer, name: "../ca" }), CertificateRequestInvalidError);
  await assert.rejects(store.originClientCertificate({ ...identity, originId: ".." }), CertificateRequestInvalidError);
});

test("leaves follow the requested key algorithm, and a change of algorithm re-issues", async (t) => {
  const { store } = await setup(t);
  const curveOf = (pem: string) => new X509Certificate(pem).publicKey.asymmetricKeyDetails?.namedCurve;
  const p384 = await store.originClientCertificate({ ...identity, keyAlgorithm: "ecdsa-p384" });
  assert.equal(curveOf(p384.certPem), "secp384r1");
  assert.equal((await store.originClientCertificate({ ...identity, keyAlgorithm: "ecdsa-p384" })).serialHex, p384.serialHex);
  const p256 = await store.originClientCertificate(identity);
  assert.notEqual(p256.serialHex, p384.serialHex, "the CA's default (P-256) replaces the P-384 certificate");
  assert.equal(curveOf(p256.certPem), "prime256v1");
  const viewerP384 = await store.serverCertificate({ ...viewer, keyAlgorithm: "ecdsa-p384" });
  assert.equal(curveOf(viewerP384.certPem), "secp384r1");
});

test("a renewal the caller cannot prove stays next; the current certificate stays active until it expires", async (t) => {
  const { dataDir, store, advance } = await setup(t);
  const first = await store.originClientCertificate(identity);
  advance(125 * MINUTE_MS); // past the renewal point, still valid
  const offered: string[] = [];
  const refused = await store.originClientCertificate(identity, { prove: async (candidate) => (offered.push(candidate.serialHex), false) });
  assert.equal(refused.serialHex, first.serialHex, "the proven certificate stays in use");
  const slot = join(dataDir, "certs", "origin-client", "shop", "api");
  assert.equal((await readFile(join(slot, "active"), "utf8")).trim(), first.serialHex);
  assert.equal((await readFile(join(slot, "next"), "utf8")).trim(), offered[0]);
  // The same candidate is offered again, not a new one each time.
  const accepted = await store.originClientCertificate(identity, { prove: async (candidate) => (offered.push(candidate.serialHex), true) });
  assert.equal(offered[1], offered[0]);
  assert.equal(accepted.serialHex, offered[0]);
  assert.equal((await readFile(join(slot, "active"), "utf8")).trim(), offered[0]);
  // Once the old certificate has expired there is nothing to keep: the renewal goes live unproven.
  advance(200 * MINUTE_MS);
  const forced = await store.originClientCertificate(identity, { prove: async () => false });
  assert.notEqual(forced.serialHex, accepted.serialHex);
});

test("after a crash between issuing and switching, the slot still serves the old certificate, and the next one is reused", async (t) => {
  const { dataDir, store } = await setup(t);
  const first = await store.serverCertificate(viewer);
  const slot = join(dataDir, "certs", "server", "viewer-shop");
  // What a kill -9 right after the new files were written leaves: a complete directory and `next`, `active` untouched.
  const orphan = await ca.issueServerCertificate({ dnsNames: viewer.dnsNames, validityMs: viewer.validityMs });
  await mkdir(join(slot, orphan.serialHex), { mode: 0o700 });
  await writeFile(join(slot, orphan.serialHex, "chain.pem"), orphan.chainPem);
  await writeFile(join(slot, orphan.serialHex, "key.pem"), sealPrivateKey(orphan.keyPem, masterKey), { mode: 0o600 });
  await writeFile(join(slot, "next"), orphan.serialHex);
  assert.equal((await store.serverCertificate(viewer)).serialHex, first.serialHex);
  // And a torn write of the new key (half a file) is never served.
  await writeFile(join(slot, orphan.serialHex, "key.pem"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA", { mode: 0o600 });
  assert.equal((await store.serverCertificate(viewer)).serialHex, first.serialHex);
});

test("a slot in the layout before pointers (key.pem and chain.pem at the top) is read, and cleaned up at the next renewal", async (t) => {
  const { dataDir, store, advance } = await setup(t);
  const legacy = await ca.issueServerCertificate({ dnsNames: viewer.dnsNames, validityMs: viewer.validityMs });
  const slot = join(dataDir, "certs", "server", "viewer-shop");
  await mkdir(slot, { recursive: true, mode: 0o700 });
  await writeFile(join(slot, "chain.pem"), legacy.chainPem);
  await writeFile(join(slot, "key.pem"), sealPrivateKey(legacy.keyPem, masterKey), { mode: 0o600 });
  assert.equal((await store.serverCertificate(viewer)).serialHex, legacy.serialHex);
  advance(125 * MINUTE_MS);
  const renewed = await store.serverCertificate(viewer);
  assert.notEqual(renewed.serialHex, legacy.serialHex);
  assert.deepEqual((await readdir(slot)).sort(), ["active", renewed.serialHex].sort(), "the old layout's files are gone");
});

test("a revoked certificate is replaced at once, even where a renewal could not be proven", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-store-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = await createIssuedCertificateStore({ ca, dataDir, masterKey }).originClientCertificate(identity);
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey, revokedSerials: new Set([first.serialHex]) });
  const replaced = await store.originClientCertificate(identity, { prove: async () => false });
  assert.notEqual(replaced.serialHex, first.serialHex);
});

test("an unusable stored certificate is reported with its reason before it is replaced", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-store-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = await createIssuedCertificateStore({ ca, dataDir, masterKey }).originClientCertificate(identity);
  const other = await ca.issueOriginClientCertificate(identity);
  await writeFile(join(dataDir, "certs", "origin-client", "shop", "api", first.serialHex, "key.pem"), sealPrivateKey(other.keyPem, masterKey), { mode: 0o600 });
  const discarded: Array<[string, string]> = [];
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey, onDiscard: (dir, reason) => discarded.push([dir, reason]) });
  assert.notEqual((await store.originClientCertificate(identity)).serialHex, first.serialHex);
  assert.deepEqual(discarded, [[join(dataDir, "certs", "origin-client", "shop", "api", first.serialHex), "the key does not match the certificate"]]);
});

test("a read-only store (a worker's) takes the active certificate, even past its renewal time, and never writes", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-store-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const reader = (clock?: () => Date, revoked?: Set<string>) => createIssuedCertificateStore({ ca, dataDir, masterKey, clock, revokedSerials: revoked, isReadOnly: true });
  await assert.rejects(reader().originClientCertificate(identity), { code: "stored-cert-missing" });
  assert.deepEqual(await readdir(dataDir), [], "nothing written");
  const first = await createIssuedCertificateStore({ ca, dataDir, masterKey }).originClientCertificate(identity);
  const pastRenewal = () => new Date(Date.now() + 2.5 * HOUR_MS);
  assert.equal((await reader(pastRenewal).originClientCertificate(identity, { prove: async () => true })).serialHex, first.serialHex);
  await assert.rejects(reader(undefined, new Set([first.serialHex])).originClientCertificate(identity), { code: "stored-cert-missing" });
  assert.deepEqual(await readdir(join(dataDir, "certs", "origin-client", "shop", "api")), ["active", first.serialHex].sort());
});
