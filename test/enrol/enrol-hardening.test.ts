// The enrolment endpoint against a caller on the network: a token spent once under a race, a CSR that cannot be signed does not burn the token, a captured renewal cannot be replayed, a renewal proof is bound to its certificate, a certificate is renewed once.
import assert from "node:assert/strict";
import { KeyObject, sign, webcrypto, X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { Agent, request } from "undici";
import { createEnrolmentService, createEnrolmentToken, enrolHost, renewHost, startEnrolmentServer } from "../../src/enrol/index.ts";
import { ENROL_PATHS, renewalProofMessage, serialHexOf } from "../../src/enrol/enrol-protocol.ts";
import { x509 } from "../../src/enrol/x509-lib.ts";
import { EnrolmentError } from "../../src/errors.ts";
import { GUARD_DIR_FILES } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createGuardPki } from "../guard/guard-pki.ts";

async function setUp(t: TestContext) {
  const pki = await createGuardPki(t);
  const service = createEnrolmentService({ ca: pki.ca, dataDir: pki.dataDir, masterKey: pki.masterKey });
  const server = await startEnrolmentServer({ service, certificate: await pki.server(), listen: { host: "127.0.0.1", port: 0 }, log: createLogger({ level: "silent" }) });
  t.after(() => server.stop());
  const dir = await mkdtemp(join(tmpdir(), "moat-enrol-hardening-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const token = async () => (await createEnrolmentToken({ dataDir: pki.dataDir, dnsNames: ["localhost"], ipAddresses: [], ttlMs: 3_600_000, validityMs: 86_400_000, now: new Date() })).token;
  const url = `https://localhost:${server.port}`;
  /** POSTs JSON as any client could; resolves with the status and the answer. */
  const post = async (path: string, body: unknown): Promise<{ status: number; json: { error?: string; message?: string } }> => {
    const dispatcher = new Agent({ connect: { ca: pki.ca.bundlePem } });
    try {
      const answer = await request(new URL(path, url), { dispatcher, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: answer.statusCode, json: (await answer.body.json()) as { error?: string; message?: string } };
    } finally {
      await dispatcher.close();
    }
  };
  return { pki, url, dir, token, post };
}

async function csrFor(algorithm: { name: string; namedCurve: string }, name = "CN=host"): Promise<{ csrPem: string; keys: webcrypto.CryptoKeyPair }> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } }, webcrypto);
  return { csrPem: csr.toString("pem"), keys };
}

test("a CSR whose key Moat does not sign (ECDSA P-521) is refused before the token is spent: the host can try again with a good one", async (t) => {
  const { pki, url, dir, token, post } = await setUp(t);
  const secret = await token();
  const { csrPem } = await csrFor({ name: "ECDSA", namedCurve: "P-521" });
  const refused = await post("/v1/enrol", { token: secret, csr: csrPem });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error, "enrol-csr-invalid");
  assert.match(refused.json.message ?? "", /ECDSA P-256\/P-384 or RSA 2048\/3072/);
  await enrolHost({ url, token: secret, caBundlePem: pki.ca.bundlePem, dir });
});

test("a token raced by several hosts at once enrols exactly one of them", async (t) => {
  const { pki, url, dir, token } = await setUp(t);
  const secret = await token();
  const outcomes = await Promise.allSettled([0, 1, 2, 3, 4].map((index) => enrolHost({ url, token: secret, caBundlePem: pki.ca.bundlePem, dir: join(dir, String(index)) })));
  assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1);
  for (const outcome of outcomes) if (outcome.status === "rejected") assert.equal((outcome.reason as EnrolmentError).code, "enrol-token-used");
  assert.equal((await readdir(join(pki.dataDir, "enrol", "issued"))).length, 1, "one certificate issued");
});

test("a captured renewal request replayed (within the clock window) is refused: one renewal per proof", async (t) => {
  const { pki, url, dir, token, post } = await setUp(t);
  await enrolHost({ url, token: await token(), caBundlePem: pki.ca.bundlePem, dir });
  const [certificate, currentKey] = await Promise.all([readFile(join(dir, GUARD_DIR_FILES.cert), "utf8"), readFile(join(dir, GUARD_DIR_FILES.key), "utf8")]);
  const body = await renewalBody(certificate, currentKey);
  assert.equal((await post(ENROL_PATHS.renew, body)).status, 200);
  const replayed = await post(ENROL_PATHS.renew, body);
  assert.equal(replayed.status, 403);
  assert.equal(replayed.json.error, "enrol-renewal-refused");
  assert.match(replayed.json.message ?? "", /already used/);
  assert.equal((await readdir(join(pki.dataDir, "enrol", "issued"))).length, 2, "the enrolment and one renewal");
});

/** A renewal request as `moat enrol renew` makes it: a fresh CSR, signed over by `keyPem` for the certificate `provenFor` (default: the one sent). */
async function renewalBody(certificate: string, keyPem: string, provenFor = certificate): Promise<{ csr: string; certificate: string; signedAt: string; proof: string }> {
  const { csrPem } = await csrFor({ name: "ECDSA", namedCurve: "P-256" });
  const signedAt = new Date().toISOString();
  const leaf = new X509Certificate(provenFor);
  const message = renewalProofMessage(csrPem, signedAt, { fingerprint256: leaf.fingerprint256, serialHex: serialHexOf(leaf.serialNumber) });
  return { csr: csrPem, certificate, signedAt, proof: sign("sha256", message, keyPem).toString("base64") };
}

test("a renewal proof names its certificate: a proof made for one certificate does not renew another that shares its key", async (t) => {
  const { token, post } = await setUp(t);
  // Two enrolments of one key (a host enrolled twice, or a key copied to a second host).
  const { csrPem, keys } = await csrFor({ name: "ECDSA", namedCurve: "P-256" });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string;
  const enrol = async () => {
    const answer = await post("/v1/enrol", { token: await token(), csr: csrPem });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return (answer.json as { certificate: string }).certificate;
  };
  const [first, second] = [await enrol(), await enrol()];
  // Under the v1 proof (signedAt and the CSR only) this request renewed `second`.
  const crossed = await post(ENROL_PATHS.renew, await renewalBody(second, keyPem, first));
  assert.equal(crossed.status, 403);
  assert.equal(crossed.json.error, "enrol-renewal-refused");
  assert.match(crossed.json.message ?? "", /not a signature by certificate [0-9a-f]+'s key over a renewal of that certificate/);
  assert.equal((await post(ENROL_PATHS.renew, await renewalBody(first, keyPem))).status, 200, "the same key renews the certificate its proof names");
});

test("a certificate is renewed once: its old certificate and key, proven afresh, get no second renewal", async (t) => {
  const { pki, url, dir, token, post } = await setUp(t);
  await enrolHost({ url, token: await token(), caBundlePem: pki.ca.bundlePem, dir });
  const [oldCertificate, oldKey] = await Promise.all([readFile(join(dir, GUARD_DIR_FILES.cert), "utf8"), readFile(join(dir, GUARD_DIR_FILES.key), "utf8")]);
  await renewHost({ dir });
  const renewed = serialHexOf(new X509Certificate(await readFile(join(dir, GUARD_DIR_FILES.cert), "utf8")).serialNumber);
  const again = await post(ENROL_PATHS.renew, await renewalBody(oldCertificate, oldKey));
  assert.equal(again.status, 403);
  assert.equal(again.json.error, "enrol-renewal-refused");
  assert.match(again.json.message ?? "", new RegExp(`already renewed \\(superseded by certificate ${renewed}\\)`));
  await renewHost({ dir });
  assert.equal((await readdir(join(pki.dataDir, "enrol", "issued"))).length, 3, "the enrolment and two renewals in a line");
});

test("two renewals of one certificate racing: exactly one is issued", async (t) => {
  const { pki, url, dir, token, post } = await setUp(t);
  await enrolHost({ url, token: await token(), caBundlePem: pki.ca.bundlePem, dir });
  const [certificate, key] = await Promise.all([readFile(join(dir, GUARD_DIR_FILES.cert), "utf8"), readFile(join(dir, GUARD_DIR_FILES.key), "utf8")]);
  const bodies = await Promise.all([0, 1, 2, 3].map(() => renewalBody(certificate, key)));
  const answers = await Promise.all(bodies.map((body) => post(ENROL_PATHS.renew, body)));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 403, 403, 403]);
  assert.equal((await readdir(join(pki.dataDir, "enrol", "issued"))).length, 2);
});

test("a v1 renewal client gets a 404 that names the v2 route", async (t) => {
  const { post } = await setUp(t);
  const answer = await post("/v1/renew", {});
  assert.equal(answer.status, 404);
  assert.match(answer.json.message ?? "", /POST \/v2\/renew/);
});
