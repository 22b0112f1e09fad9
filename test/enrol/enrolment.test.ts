// Enrolment on real sockets: a token and a CSR get an origin host its certificate (the key never leaves it); tokens are single-use, expire and are stored hashed; renewal needs the current key; a guard run from the enrolled directory picks up a renewal by itself.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import tls from "node:tls";
import { createEnrolmentService, createEnrolmentToken, enrolHost, readEnrolmentState, renewHost, startEnrolmentServer } from "../../src/enrol/index.ts";
import { EnrolmentError } from "../../src/errors.ts";
import { GUARD_DIR_FILES, startGuard } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { revokeCertificate } from "../../src/pki/index.ts";
import { createGuardPki, requestWith, TRUST_DOMAIN, type GuardPki } from "../guard/guard-pki.ts";
import { startUpstreamApp, withTimeout } from "../guard/guard-fixture.ts";
import { createLogCapture } from "../support/test-edge.ts";

const silent = createLogger({ level: "silent" });

async function setUp(t: TestContext, clock?: () => Date) {
  const pki = await createGuardPki(t);
  const service = createEnrolmentService({ ca: pki.ca, dataDir: pki.dataDir, masterKey: pki.masterKey, ...(clock ? { clock } : {}) });
  const certificate = await pki.server();
  const server = await startEnrolmentServer({ service, certificate, listen: { host: "127.0.0.1", port: 0 }, log: silent });
  t.after(() => server.stop());
  const dir = await mkdtemp(join(tmpdir(), "moat-enrolled-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const token = (options: { ttlMs?: number } = {}) =>
    createEnrolmentToken({ dataDir: pki.dataDir, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], ttlMs: options.ttlMs ?? 3_600_000, validityMs: 7 * 86_400_000, now: new Date() });
  return { pki, url: `https://localhost:${server.port}`, dir, token };
}

async function rejection(promise: Promise<unknown>): Promise<EnrolmentError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof EnrolmentError, `expected an EnrolmentError, got ${String(error)}`);
  return error;
}

test("a token and a CSR enrol a host: its own key (0600, never sent), a certificate for the token's names, the bundle and the CRLs", async (t) => {
  const { pki, url, dir, token } = await setUp(t);
  const { token: secret, id } = await token();
  const state = await enrolHost({ url, token: secret, caBundlePem: pki.ca.bundlePem, dir });
  const files = await readdir(dir);
  for (const file of Object.values(GUARD_DIR_FILES)) assert.ok(files.includes(file), file);
  assert.equal((await stat(join(dir, GUARD_DIR_FILES.key))).mode & 0o777, 0o600);
  const chain = await readFile(join(dir, GUARD_DIR_FILES.cert), "utf8");
  const leaf = new X509Certificate(chain);
  assert.equal(leaf.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
  assert.ok(leaf.checkPrivateKey((await import("node:crypto")).createPrivateKey(await readFile(join(dir, GUARD_DIR_FILES.key), "utf8"))));
  assert.ok(leaf.verify(new X509Certificate(pki.ca.intermediatePem).publicKey));
  assert.ok(new Date(state.renewAt) < new Date(state.notAfter));
  assert.equal(await readFile(join(dir, GUARD_DIR_FILES.caBundle), "utf8"), pki.ca.bundlePem + pki.ca.intermediatePem);
  assert.match(await readFile(join(dir, GUARD_DIR_FILES.crl), "utf8"), /(-----BEGIN X509 CRL-----[\s\S]*){2}/);
  // Stored hashed: the secret part of the token appears in no file of the CA's data directory.
  const stored = await readFile(join(pki.dataDir, "enrol", "used", `${id}.json`), "utf8");
  assert.ok(!stored.includes(secret.split(".")[2] as string));
  assert.match(stored, /"secretSha256": "[0-9a-f]{64}"/);
});

test("a token is single-use, expires, and a wrong or malformed one says nothing more than 'not valid'", async (t) => {
  let now = new Date();
  const { pki, url, dir, token } = await setUp(t, () => now);
  const { token: secret } = await token();
  await enrolHost({ url, token: secret, caBundlePem: pki.ca.bundlePem, dir });
  assert.equal((await rejection(enrolHost({ url, token: secret, caBundlePem: pki.ca.bundlePem, dir: join(dir, "again") }))).code, "enrol-token-used");
  const wrong = secret.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
  assert.equal((await rejection(enrolHost({ url, token: wrong, caBundlePem: pki.ca.bundlePem, dir: join(dir, "wrong") }))).code, "enrol-token-invalid");
  assert.equal((await rejection(enrolHost({ url, token: "../../etc/passwd", caBundlePem: pki.ca.bundlePem, dir: join(dir, "bad") }))).code, "enrol-token-invalid");
  const { token: shortLived } = await token({ ttlMs: 60_000 });
  now = new Date(Date.now() + 120_000);
  assert.equal((await rejection(enrolHost({ url, token: shortLived, caBundlePem: pki.ca.bundlePem, dir: join(dir, "late") }))).code, "enrol-token-expired");
});

test("renewal: a fresh key and a certificate for the same names, proven by the current key; refused once revoked", async (t) => {
  const { pki, url, dir, token } = await setUp(t);
  await enrolHost({ url, token: (await token()).token, caBundlePem: pki.ca.bundlePem, dir });
  const before = new X509Certificate(await readFile(join(dir, GUARD_DIR_FILES.cert), "utf8"));
  const keyBefore = await readFile(join(dir, GUARD_DIR_FILES.key), "utf8");
  await renewHost({ dir });
  const after = new X509Certificate(await readFile(join(dir, GUARD_DIR_FILES.cert), "utf8"));
  assert.notEqual(after.serialNumber, before.serialNumber);
  assert.notEqual(await readFile(join(dir, GUARD_DIR_FILES.key), "utf8"), keyBefore, "a fresh key");
  assert.equal(after.subjectAltName, before.subjectAltName);

  // Someone with the certificate but not its key: the proof does not verify.
  const stolen = await mkdtemp(join(tmpdir(), "moat-stolen-"));
  t.after(() => rm(stolen, { recursive: true, force: true }));
  const { writeFile, chmod } = await import("node:fs/promises");
  for (const file of [GUARD_DIR_FILES.cert, GUARD_DIR_FILES.caBundle, "enrolment.json"]) await writeFile(join(stolen, file), await readFile(join(dir, file)));
  await writeFile(join(stolen, GUARD_DIR_FILES.key), (await pki.server()).keyPem, { mode: 0o600 });
  await chmod(join(stolen, GUARD_DIR_FILES.key), 0o600);
  const forged = await rejection(renewHost({ dir: stolen }));
  assert.equal(forged.code, "enrol-renewal-refused");
  assert.match(forged.message, /not a signature by certificate [0-9a-f]+'s key/);

  // A Moat server certificate that enrolment did not issue cannot be renewed through it.
  const other = await pki.server();
  await writeFile(join(stolen, GUARD_DIR_FILES.cert), other.chainPem);
  await writeFile(join(stolen, GUARD_DIR_FILES.key), other.keyPem, { mode: 0o600 });
  assert.match((await rejection(renewHost({ dir: stolen }))).message, /was not issued by enrolment/);

  await revokeCertificate({ dataDir: pki.dataDir, serialHex: after.serialNumber.toLowerCase(), reason: "keyCompromise" });
  assert.match((await rejection(renewHost({ dir }))).message, /is revoked/);
});

test("a guard run from the enrolled directory serves the edge, and a renewal reaches it without a restart", async (t) => {
  const { pki, url, dir, token } = await setUp(t);
  await enrolHost({ url, token: (await token()).token, caBundlePem: pki.ca.bundlePem, dir });
  const app = await startUpstreamApp(t);
  const capture = createLogCapture();
  const files = { cert: join(dir, GUARD_DIR_FILES.cert), key: join(dir, GUARD_DIR_FILES.key), caBundle: join(dir, GUARD_DIR_FILES.caBundle), crl: join(dir, GUARD_DIR_FILES.crl) };
  const guard = await startGuard({ listen: { host: "127.0.0.1", port: 0 }, upstream: new URL(app.url), files, policy: { trustDomain: TRUST_DOMAIN, distributions: ["shop"] }, log: createLogger({ destination: capture.stream }) });
  t.after(() => guard.stop());
  const served = () => servedSerial(guard.port, pki);
  const first = await served();
  const answer = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await pki.edge("shop") });
  assert.ok("status" in answer && answer.status === 200);

  await renewHost({ dir });
  const renewed = new X509Certificate(await readFile(files.cert, "utf8")).serialNumber.toLowerCase();
  await withTimeout("the guard to load the renewed certificate", capture.waitForLog((l) => l.msg === "guard reloaded" && new X509Certificate(guard.material().certPem).serialNumber.toLowerCase() === renewed));
  assert.notEqual(renewed, first);
  assert.equal(await served(), renewed, "new handshakes get the renewed certificate");
  assert.equal((await readEnrolmentState(dir)).url, url);
});

/** The serial of the server certificate a handshake with the guard gets (the client verifies it against Moat's bundle). */
async function servedSerial(port: number, pki: GuardPki): Promise<string> {
  const edge = await pki.edge("shop");
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: pki.ca.bundlePem, cert: edge.chainPem, key: edge.keyPem }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "");
      socket.end();
    });
    socket.on("error", reject);
  });
}
