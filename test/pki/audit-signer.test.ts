// The audit checkpoint signer: a sealed 0600 key and a certificate of one purpose from the CA, kept while fresh and from the current intermediate, replaced otherwise; the check of a checkpoint against the bundle.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { AUDIT_CHECKPOINT_SIGNING_EKU, AUDIT_DIR, AUDIT_SIGNER_KEY_FILE, createAuditCheckpointCheck, createEphemeralCertificateAuthority, initCertificateAuthority, openAuditSigner, readRevocationTimes, revokeAndPublishCrl } from "../../src/pki/index.ts";
import { x509 } from "../../src/pki/x509-lib.ts";
import { createTestMasterKey } from "../support/master-key.ts";

const DAY_MS = 86_400_000;

async function freshDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-audit-signer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("the audit signer: a sealed 0600 P-256 key, a certificate with the audit EKU alone (critical), kept while fresh, replaced near its end or after the intermediate changed", async (t) => {
  const dataDir = await freshDir(t);
  const { masterKey } = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const now = new Date();
  const signer = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1", now });
  const keyPath = join(dataDir, AUDIT_DIR, AUDIT_SIGNER_KEY_FILE);
  if (process.platform !== "win32") assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  assert.match(await readFile(keyPath, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.equal(JSON.stringify(signer), JSON.stringify({ signer: signer.signer }), "serialising the signer shows no key");

  const certificate = new x509.X509Certificate(signer.certificatePem.split(/(?<=-----END CERTIFICATE-----)/)[0] as string);
  const eku = certificate.getExtension(x509.ExtendedKeyUsageExtension);
  assert.ok(eku?.critical);
  // Read by OpenSSL (through node:crypto), as `openssl x509 -text` shows it: @peculiar/x509 prints an arc this long as hex.
  assert.deepEqual(new X509Certificate(signer.certificatePem).keyUsage, [AUDIT_CHECKPOINT_SIGNING_EKU]);
  assert.equal(certificate.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  assert.equal(certificate.subject, "CN=moat audit signer edge-1");

  const again = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1", now });
  assert.equal(again.certificatePem, signer.certificatePem, "a fresh signer is kept");
  const late = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1", now: new Date(now.getTime() + 70 * DAY_MS) });
  assert.notEqual(late.certificatePem, signer.certificatePem, "30 days before its end, a new one");
  const other = await createEphemeralCertificateAuthority();
  const moved = await openAuditSigner({ dataDir, masterKey, ca: other, name: "edge-1", now });
  assert.ok(new X509Certificate(moved.certificatePem).checkIssued(new X509Certificate(other.intermediatePem)), "after the intermediate changed, one from the new");
});

test("a checkpoint's check: its signature under the signer, the signer's purpose, its chain to a root of the bundle (either of two), valid at its time", async (t) => {
  const dataDir = await freshDir(t);
  const { masterKey } = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const signer = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1" });
  const at = new Date().toISOString();
  const payload = '{"format":"moat-audit-checkpoint-v1"}';
  const signed = { payload, signature: signer.sign(payload), certificatePem: signer.certificatePem, at };
  const other = await createEphemeralCertificateAuthority();
  assert.deepEqual(createAuditCheckpointCheck(ca.bundlePem)(signed), { ok: true, trusted: true, signer: signer.signer });
  assert.equal(createAuditCheckpointCheck(other.bundlePem + ca.bundlePem)(signed).ok, true);
  assert.deepEqual(createAuditCheckpointCheck(other.bundlePem)(signed), { ok: true, trusted: false, signer: signer.signer, reason: `${signer.signer}'s intermediate was not issued by a root in the CA bundle` });
  const check = createAuditCheckpointCheck(ca.bundlePem);
  assert.match(JSON.stringify(check({ ...signed, payload: `${payload} ` })), /its signature does not verify/);
  assert.match(JSON.stringify(check({ ...signed, at: "2000-01-01T00:00:00.000Z" })), /was not valid at 2000-01-01/);
  assert.match(JSON.stringify(check({ ...signed, certificatePem: signer.certificatePem.split(/(?<=-----END CERTIFICATE-----)/)[0] as string })), /carries no certificate chain/);
  // A certificate of the CA for another purpose: refused before its signature is even looked at.
  const admin = await ca.issueAdminClientCertificate({ trustDomain: "moat.test", role: "admin", name: "alice", validityMs: DAY_MS });
  const { sign } = await import("node:crypto");
  const forged = { ...signed, signature: sign("sha256", Buffer.from(payload), admin.keyPem).toString("base64"), certificatePem: admin.chainPem };
  assert.match(JSON.stringify(check(forged)), /is not an audit checkpoint signer/);
});

test("a revoked signer: its checkpoints up to the revocation stand, one at or after it fails naming its serial and the time; the next open makes a new signer", async (t) => {
  const dataDir = await freshDir(t);
  const { masterKey } = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const signer = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1" });
  const serial = new X509Certificate(signer.certificatePem).serialNumber.toLowerCase();
  assert.ok(signer.signer.includes(`serial ${serial}`), "the signer's name carries the serial `moat ca revoke` takes");
  // As `moat ca revoke SERIAL` does.
  const { revocation } = await revokeAndPublishCrl({ dataDir, serialHex: serial, reason: "keyCompromise", ca, masterKey });
  const revoked = await readRevocationTimes(dataDir);
  assert.deepEqual(revoked.get(serial), revocation.revokedAt);
  const payload = '{"format":"moat-audit-checkpoint-v1"}';
  const signedAt = (at: Date) => ({ payload, signature: signer.sign(payload), certificatePem: signer.certificatePem, at: at.toISOString() });
  const check = createAuditCheckpointCheck(ca.bundlePem, revoked);
  const before = signedAt(new Date(revocation.revokedAt.getTime() - 1));
  assert.deepEqual(check(before), { ok: true, trusted: true, signer: signer.signer }, "signed before the revocation: stands");
  for (const at of [revocation.revokedAt, new Date(revocation.revokedAt.getTime() + 60_000)]) {
    const result = check(signedAt(at));
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.ok(result.reason.includes(`was revoked at ${revocation.revokedAt.toISOString()} (serial ${serial})`), result.reason);
      assert.match(result.reason, /a new signer signs the checkpoints, so this one was made with the revoked key/);
    }
  }
  assert.equal(createAuditCheckpointCheck(ca.bundlePem)(signedAt(revocation.revokedAt)).ok, true, "without the revocations, the signature alone is right");

  const next = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1" });
  const nextSerial = new X509Certificate(next.certificatePem).serialNumber.toLowerCase();
  assert.notEqual(nextSerial, serial, "a revoked signer is replaced, with a new key and certificate");
  assert.equal((await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1" })).certificatePem, next.certificatePem, "and the new one is kept");
  const later = { payload, signature: next.sign(payload), certificatePem: next.certificatePem, at: new Date(revocation.revokedAt.getTime() + 60_000).toISOString() };
  assert.equal(check(later).ok, true);
});
