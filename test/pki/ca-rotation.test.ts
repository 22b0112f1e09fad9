// CA rotation on disk: the intermediate renews under its root, a root rolls over in three steps, real TLS origins (OpenSSL, with CRLs) accept what they should at each step, and a crash mid-step leaves a whole CA.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { CaRolloverHeldBackError } from "../../src/errors.ts";
import {
  activateRootRollover,
  caTrustOf,
  createIssuedCertificateStore,
  DEFAULT_CA_ROTATION_POLICY,
  finishRootRollover,
  generateMasterKey,
  initCertificateAuthority,
  isSealedPrivateKey,
  maintainCertificateAuthority,
  openCertificateAuthority,
  planCaRotation,
  prepareRootRollover,
  publishCrl,
  readCaBundle,
  readCaGenerations,
  renewIntermediate,
  revokeCertificate,
  rolloverNewRoot,
  splitCrlPem,
} from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../src/pki/index.ts";

const masterKey = generateMasterKey();
const policy = { ...DEFAULT_CA_ROTATION_POLICY, rolloverOverlapMs: 3_600_000 };
const caDirOf = (dataDir: string) => join(dataDir, "ca");

async function freshCa(t: TestContext): Promise<{ dataDir: string; ca: CertificateAuthority }> {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-ca-rotation-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  return { dataDir, ca: await initCertificateAuthority({ dataDir, masterKey }) };
}

const reopen = (dataDir: string) => openCertificateAuthority({ dataDir, masterKey });

function clientFor(ca: CertificateAuthority, dataDir: string, originId: string): Promise<IssuedCertificate> {
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
  return store.originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId, validityMs: 3_600_000 });
}

/** An origin as an operator runs it: client certificates from the bundle it was given, checked against the CRL bundle it was given. */
async function startOrigin(t: TestContext, server: { keyPem: string; chainPem: string }, trust: { bundlePem: string; crlBundlePem?: string }) {
  const refusals: string[] = [];
  const origin = https.createServer(
    { key: server.keyPem, cert: server.chainPem, ca: trust.bundlePem, requestCert: true, rejectUnauthorized: true, ...(trust.crlBundlePem ? { crl: splitCrlPem(trust.crlBundlePem) } : {}) },
    (_req, res) => res.end("ok"),
  );
  origin.on("tlsClientError", (error, socket) => refusals.push(String(socket.authorizationError ?? error.message)));
  origin.listen(0, "127.0.0.1");
  await once(origin, "listening");
  t.after(() => new Promise<void>((resolve) => origin.close(() => resolve())));
  return { port: (origin.address() as AddressInfo).port, refusals };
}

function get(port: number, bundlePem: string, client: IssuedCertificate): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get({ host: "127.0.0.1", port, path: "/", servername: "localhost", ca: bundlePem, cert: client.chainPem, key: client.keyPem, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", (error) => resolve(error.message));
  });
}

const crlBundle = (dataDir: string) => readFile(join(caDirOf(dataDir), "crl-bundle.pem"), "utf8");
const subjectCn = (pem: string) => /CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1];

test("renewing the intermediate: a new key and name under the same root; leaves of the old one keep working and can still be revoked", async (t) => {
  const { dataDir, ca } = await freshCa(t);
  const oldLeaf = await clientFor(ca, dataDir, "old");
  const oldIntermediate = new X509Certificate(ca.intermediatePem);

  const result = await renewIntermediate({ dataDir, masterKey, clock: () => new Date(), policy });
  assert.equal(result.from, oldIntermediate.serialNumber.toLowerCase());

  const renewed = await reopen(dataDir);
  assert.equal(renewed.rootPem, ca.rootPem, "same root");
  assert.equal(renewed.bundlePem, ca.bundlePem, "peers need nothing new");
  assert.equal(subjectCn(renewed.intermediatePem), "Moat Intermediate CA G2");
  assert.notEqual(new X509Certificate(renewed.intermediatePem).publicKey.export({ format: "der", type: "spki" }).toString("hex"), oldIntermediate.publicKey.export({ format: "der", type: "spki" }).toString("hex"), "a fresh key");
  assert.deepEqual(renewed.previousIntermediatePems, [ca.intermediatePem]);
  const retiredKey = join(caDirOf(dataDir), "retired", `intermediate-${result.from}`, "intermediate.key");
  assert.equal((await stat(retiredKey)).mode & 0o777, 0o600);
  assert.ok(isSealedPrivateKey(await readFile(retiredKey, "utf8")), "the retired key stays encrypted");

  // The store keeps the old leaf only as a fallback: asked again, it issues from the new intermediate.
  const newLeaf = await clientFor(renewed, dataDir, "old");
  assert.notEqual(newLeaf.serialHex, oldLeaf.serialHex);
  assert.ok(new X509Certificate(newLeaf.certPem).checkIssued(new X509Certificate(renewed.intermediatePem)));
  const otherLeaf = await clientFor(renewed, dataDir, "other");

  await revokeCertificate({ dataDir, serialHex: oldLeaf.serialHex, reason: "keyCompromise" });
  await publishCrl({ ca: renewed, dataDir, masterKey });
  const crls = splitCrlPem(await crlBundle(dataDir));
  assert.equal(crls.length, 3, "new intermediate, root, old intermediate");

  const server = await renewed.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  const origin = await startOrigin(t, server, { bundlePem: renewed.bundlePem, crlBundlePem: await crlBundle(dataDir) });
  assert.equal(await get(origin.port, renewed.bundlePem, otherLeaf), 200, "a leaf of the new intermediate passes OpenSSL's CRL check of every chain level");
  assert.equal(await get(origin.port, renewed.bundlePem, newLeaf), 200);
  assert.notEqual(await get(origin.port, renewed.bundlePem, oldLeaf), 200, "the revoked leaf of the old intermediate is refused");
  assert.deepEqual(origin.refusals, ["CERT_REVOKED"]);
});

test("a root rollover: prepare publishes both roots, activate switches issuing, finish drops the old root; origins accept what they trust at each step", async (t) => {
  const { dataDir, ca } = await freshCa(t);
  const clock = () => new Date();
  const oldBundle = ca.bundlePem;
  const oldLeaf = await clientFor(ca, dataDir, "api");

  const prepared = await prepareRootRollover({ dataDir, masterKey, clock, policy });
  const duringPrepare = await reopen(dataDir);
  assert.equal(duringPrepare.rootPem, ca.rootPem, "the old root still issues");
  const bundleRoots = (pem: string) => pem.match(/BEGIN CERTIFICATE/g)?.length;
  assert.equal(bundleRoots(await readCaBundle(dataDir)), 2, "moat ca bundle prints both roots");
  const generations = await readCaGenerations(dataDir);
  assert.equal(generations.rollover?.phase, "prepared");
  assert.equal(subjectCn(generations.pending!.rootPem), "Moat Root CA G2");
  await assert.rejects(prepareRootRollover({ dataDir, masterKey, clock, policy }), { code: "ca-rotation-refused" });
  await publishCrl({ ca: duringPrepare, dataDir, masterKey });
  assert.equal(splitCrlPem(await crlBundle(dataDir)).length, 3, "intermediate, root, new root");

  const overlapBundle = await readCaBundle(dataDir);
  const activated = await activateRootRollover({ dataDir, masterKey, clock, policy });
  assert.equal(activated.to, prepared.to);
  const afterActivate = await reopen(dataDir);
  assert.equal(subjectCn(afterActivate.rootPem), "Moat Root CA G2");
  assert.equal(afterActivate.bundlePem.match(/BEGIN CERTIFICATE/g)?.length, 2, "the old root is still trusted");
  assert.deepEqual(afterActivate.previousIntermediatePems, [ca.intermediatePem]);
  const retiredRootDir = join(caDirOf(dataDir), "retired", `root-${prepared.from}`);
  assert.deepEqual((await readdir(retiredRootDir)).sort(), ["root-crl.pem", "root.pem"], "the old root's key is destroyed");
  await assert.rejects(readdir(join(caDirOf(dataDir), "pending")), { code: "ENOENT" });

  const newLeaf = await clientFor(afterActivate, dataDir, "api");
  assert.ok(new X509Certificate(newLeaf.certPem).checkIssued(new X509Certificate(afterActivate.intermediatePem)));
  await publishCrl({ ca: afterActivate, dataDir, masterKey });
  assert.equal(splitCrlPem(await crlBundle(dataDir)).length, 4, "new intermediate, new root, old intermediate, old root");

  const server = await afterActivate.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  const updated = await startOrigin(t, server, { bundlePem: overlapBundle, crlBundlePem: await crlBundle(dataDir) });
  assert.equal(await get(updated.port, overlapBundle, oldLeaf), 200, "an origin with the overlap bundle accepts the old chain");
  assert.equal(await get(updated.port, overlapBundle, newLeaf), 200, "and the new one, CRLs checked at every level");
  const stale = await startOrigin(t, server, { bundlePem: oldBundle });
  assert.notEqual(await get(stale.port, overlapBundle, newLeaf), 200, "an origin that never took the new bundle refuses the new chain");

  await assert.rejects(activateRootRollover({ dataDir, masterKey, clock, policy }), { code: "ca-rotation-refused" });
  await finishRootRollover({ dataDir, masterKey, clock, policy });
  const finished = await reopen(dataDir);
  assert.equal(finished.bundlePem, finished.rootPem, "only the new root is trusted");
  assert.deepEqual(finished.previousIntermediatePems, []);
  assert.deepEqual(await readdir(join(caDirOf(dataDir), "retired")), [], "the old root's intermediate and its key are gone");
  assert.equal((await readCaGenerations(dataDir)).rollover, null);
  await publishCrl({ ca: finished, dataDir, masterKey });
  assert.equal(splitCrlPem(await crlBundle(dataDir)).length, 2);
  const after = await startOrigin(t, server, { bundlePem: finished.bundlePem, crlBundlePem: await crlBundle(dataDir) });
  assert.equal(await get(after.port, finished.bundlePem, newLeaf), 200);
  assert.notEqual(await get(after.port, finished.bundlePem, oldLeaf), 200, "the old root's leaves are no longer trusted");
});

test("a crash at any step of a rotation leaves the whole old CA or the whole new one, never a mix", async (t) => {
  const { dataDir } = await freshCa(t);
  const clock = () => new Date();
  // A crash while staging (before the commit point) leaves a .txn-* directory: ignored, then swept.
  const before = await reopen(dataDir);
  await mkdir(join(caDirOf(dataDir), ".txn-crashed"));
  await writeFile(join(caDirOf(dataDir), ".txn-crashed", "f0"), "half a key");
  assert.equal((await reopen(dataDir)).intermediatePem, before.intermediatePem);

  let previous = before;
  for (const crashAfterSteps of [0, 1, 2, 3]) {
    const result = await renewIntermediate({ dataDir, masterKey, clock, policy, crashAfterSteps });
    // The next process to open the CA finishes the committed step.
    const opened = await reopen(dataDir);
    assert.equal(new X509Certificate(opened.intermediatePem).serialNumber.toLowerCase(), result.to, `crash after ${crashAfterSteps} steps: the new intermediate`);
    assert.ok(opened.previousIntermediatePems.includes(previous.intermediatePem));
    previous = opened;
  }
  assert.ok(!(await readdir(caDirOf(dataDir))).some((name) => name.startsWith(".txn")), "no transaction left behind");

  for (const crashAfterSteps of [2, 9]) {
    await prepareRootRollover({ dataDir, masterKey, clock, policy, crashAfterSteps: 4 });
    await reopen(dataDir);
    const rollover = await activateRootRollover({ dataDir, masterKey, clock, policy, crashAfterSteps });
    const opened = await reopen(dataDir);
    assert.equal(new X509Certificate(opened.rootPem).serialNumber.toLowerCase(), rollover.to, `activation crashed after ${crashAfterSteps} steps: the new root is whole`);
    await finishRootRollover({ dataDir, masterKey, clock, policy, crashAfterSteps: 1 });
    assert.equal((await reopen(dataDir)).bundlePem, (await reopen(dataDir)).rootPem);
  }
});

test("the plan: the intermediate renews at the renewal fraction of its life, a root rollover is prepared at the root's, activated and finished an overlap apart", async (t) => {
  const { dataDir, ca } = await freshCa(t);
  const generations = await readCaGenerations(dataDir);
  const plan = planCaRotation({ rootPem: ca.rootPem, intermediatePem: ca.intermediatePem, generations }, policy);
  assert.deepEqual(plan.map((p) => p.step), ["renew-intermediate", "prepare-root-rollover"]);
  const year = 365.25 * 86_400_000;
  const inYears = (at: Date) => (at.getTime() - Date.now()) / year;
  assert.ok(inYears(plan[0]!.at) > 2.8 && inYears(plan[0]!.at) < 3.4, `intermediate renews at ~2/3 of 5 years less jitter (${inYears(plan[0]!.at)})`);
  assert.ok(inYears(plan[1]!.at) > 5.6 && inYears(plan[1]!.at) < 6.7, `rollover prepared at ~2/3 of 10 years less jitter (${inYears(plan[1]!.at)})`);

  // Nothing is due now; 3.5 years on, the intermediate is.
  assert.deepEqual((await maintainCertificateAuthority({ dataDir, masterKey, clock: () => new Date(), policy })).performed, []);
  const later = new Date(Date.now() + 3.5 * year);
  const { performed, nextAt } = await maintainCertificateAuthority({ dataDir, masterKey, clock: () => later, policy });
  assert.deepEqual(performed.map((p) => p.step), ["renew-intermediate"]);
  assert.ok(nextAt && nextAt > later);
});

test("the fleet gate: an activation due while the gate refuses changes nothing; once it lets it through, the new root it was asked about issues", async (t) => {
  const { dataDir, ca } = await freshCa(t);
  const start = Date.now();
  const clock = () => new Date(start);
  const before = caTrustOf(ca);
  assert.deepEqual(before, { roots: [new X509Certificate(ca.rootPem).fingerprint256], intermediate: new X509Certificate(ca.intermediatePem).fingerprint256 });
  assert.equal(await rolloverNewRoot(dataDir), null);
  const prepared = await prepareRootRollover({ dataDir, masterKey, clock, policy });
  const newRoot = await rolloverNewRoot(dataDir);
  const pendingRoot = new X509Certificate((await readCaGenerations(dataDir)).pending!.rootPem);
  assert.deepEqual(newRoot, { phase: "prepared", serialHex: prepared.to, fingerprint256: pendingRoot.fingerprint256 });
  assert.deepEqual(caTrustOf(await reopen(dataDir)).roots, [...before.roots, pendingRoot.fingerprint256], "the bundle an edge reloads holds both roots");

  // The overlap has passed: activation is due, and maintenance asks the gate first.
  const later = () => new Date(start + policy.rolloverOverlapMs + 1_000);
  const asked: { serialHex: string; fingerprint256: string }[] = [];
  const refusing = async (root: { serialHex: string; fingerprint256: string }) => {
    asked.push(root);
    throw new CaRolloverHeldBackError(root, [{ name: "edge-b", health: "ok", roots: before.roots }]);
  };
  await assert.rejects(maintainCertificateAuthority({ dataDir, masterKey, clock: later, policy, fleetGate: refusing }), { code: "ca-rollover-held-back" });
  assert.deepEqual(asked, [{ serialHex: prepared.to, fingerprint256: pendingRoot.fingerprint256 }]);
  assert.equal((await readCaGenerations(dataDir)).rollover?.phase, "prepared", "nothing moved");
  assert.equal((await reopen(dataDir)).rootPem, ca.rootPem);
  await assert.rejects(activateRootRollover({ dataDir, masterKey, clock: later, policy, fleetGate: refusing }), CaRolloverHeldBackError);

  const { performed } = await maintainCertificateAuthority({ dataDir, masterKey, clock: later, policy, fleetGate: async () => undefined });
  assert.deepEqual(performed.map((result) => result.step), ["activate-root-rollover"]);
  assert.equal(new X509Certificate((await reopen(dataDir)).rootPem).fingerprint256, pendingRoot.fingerprint256);
  assert.equal((await rolloverNewRoot(dataDir))?.phase, "activated");
});
