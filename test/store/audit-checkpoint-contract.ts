// Signed audit checkpoints on every store engine: made and verified, a rewrite with recomputed hashes found at the first checkpoint, forged and removed checkpoints refused, and the signer's key never shown.
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestContext } from "node:test";
import pino from "pino";
import { makeAuditCheckpoint, startAuditCheckpoints, verifyAuditTrail } from "../../src/control/audit-checkpoints.ts";
import { AuditCheckpointRefusedError } from "../../src/errors.ts";
import { AUDIT_DIR, AUDIT_SIGNER_CERT_FILE, AUDIT_SIGNER_KEY_FILE, createEphemeralCertificateAuthority, initCertificateAuthority, openPrivateKey, revokeAndPublishCrl } from "../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../../src/pki/index.ts";
import { auditCheckpointPayload, auditSignatureDigest, openStore } from "../../src/store/index.ts";
import type { AuditRecord, Store } from "../../src/store/index.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import { distribution, validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

interface Scene {
  address: string;
  store: Store;
  dataDir: string;
  masterKey: MasterKey;
  ca: CertificateAuthority;
  checkpoint(): ReturnType<typeof makeAuditCheckpoint>;
  verify(withDataDir?: boolean): ReturnType<typeof verifyAuditTrail>;
}

async function scene(t: TestContext, engine: EngineUnderTest): Promise<Scene> {
  const address = await engine.freshAddress(t);
  const store = await openStore({ address, validate });
  t.after(() => store.close());
  const dataDir = await mkdtemp(join(tmpdir(), "moat-checkpoints-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const { masterKey } = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  return {
    address,
    store,
    dataDir,
    masterKey,
    ca,
    checkpoint: () => makeAuditCheckpoint({ audit: store.audit, label: store.label, dataDir, masterKey, ca, name: "test" }),
    verify: (withDataDir = true) => verifyAuditTrail(store.audit, withDataDir ? { dataDir } : {}),
  };
}

async function records(store: Store, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i += 1) await store.put("distribution", `d${i}`, distribution(`d${i}`), { actor: "cli:alice" });
}

/** RFC 8785 as docs/explanation/audit-trail.md states it, written apart from src/ (what an attacker who read the docs writes). */
function jcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${jcs(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** What verify checked before checkpoints: every hash from its fields, every link, and the end against the store's head. */
function chainAlonePasses(trail: AuditRecord[], head: { seq: number; hash: string }): boolean {
  let previous = "0".repeat(64);
  for (const record of trail) {
    const { hash, ...rest } = record;
    if (sha256(jcs(rest)) !== hash || rest.prevHash !== previous) return false;
    previous = hash;
  }
  return (trail.at(-1)?.seq ?? 0) === head.seq && previous === head.hash;
}

/**
 * The whole-rewrite attack: record `seq` gets another actor, and every hash from it on, the store's head and each
 * revision's head are recomputed with the documented encoding. Returns the statements an attacker with write access runs.
 */
function rewriteStatements(trail: AuditRecord[], seq: number): { statements: string[]; rewritten: AuditRecord[] } {
  const statements: string[] = [];
  const rewritten: AuditRecord[] = [];
  let previous = "0".repeat(64);
  for (const record of trail) {
    const { hash: _old, ...fields } = record;
    const changed = { ...fields, prevHash: previous, ...(record.seq === seq ? { actor: "cli:mallory" } : {}) };
    const hash = sha256(jcs(changed));
    rewritten.push({ ...changed, hash });
    if (record.seq >= seq) {
      statements.push(`update audit_log set actor = ${quote(changed.actor)}, prev_hash = '${changed.prevHash}', hash = '${hash}' where seq = ${record.seq}`);
      statements.push(`update revisions set audit_hash = '${hash}' where audit_seq = ${record.seq}`);
    }
    previous = hash;
  }
  statements.push(`update write_lock set audit_hash = '${previous}' where id = 1`);
  return { statements, rewritten };
}

/** A checkpoint row as an attacker writes one: the next number, linked to the last one, signed by `key` with `chainPem`, dated `at`. */
async function forgedCheckpointStatement(store: Store, key: Parameters<typeof sign>[2], chainPem: string, at = new Date()): Promise<string> {
  const last = await store.audit.lastCheckpoint();
  const head = await store.audit.head();
  const unsigned = { number: (last?.number ?? 0) + 1, storeId: await store.audit.storeId(), seq: head.seq, hash: head.hash, at: at.toISOString(), previous: last ? auditSignatureDigest(last.signature) : "0".repeat(64) };
  const signature = sign("sha256", Buffer.from(auditCheckpointPayload(unsigned), "utf8"), key).toString("base64");
  return `insert into audit_checkpoints (number, store_id, seq, hash, at, previous, certificate_pem, signature) values (${unsigned.number}, ${quote(unsigned.storeId)}, ${unsigned.seq}, '${unsigned.hash}', '${unsigned.at}', '${unsigned.previous}', ${quote(chainPem)}, '${signature}')`;
}

export function auditCheckpointContract(engine: EngineUnderTest): void {
  test("audit checkpoints: signed by the data directory's signer, verified against the CA bundle; records after the last one are reported as only hash-chained", async (t) => {
    const { store, checkpoint, verify, dataDir } = await scene(t, engine);
    assert.deepEqual(await checkpoint(), { made: false, checkpoint: undefined }, "an empty trail: nothing to sign");
    await records(store, 3);
    const first = await checkpoint();
    assert.equal(first.made, true);
    assert.deepEqual([first.checkpoint?.number, first.checkpoint?.seq, first.checkpoint?.hash], [1, 3, (await store.audit.head()).hash]);
    assert.equal((await checkpoint()).made, false, "no record since: no new checkpoint");
    await records(store, 2, 3);
    let result = await verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.checkpoints.signatures, "verified");
    assert.deepEqual([result.checkpoints.count, result.checkpoints.coveredThrough, result.records], [1, 3, 5]);
    assert.match(result.checkpoints.last?.signer ?? "", /moat audit signer test/);
    assert.deepEqual(result.checkpoints.warnings, ["records 4..5 are after the last checkpoint: only hash-chained until the next one"]);
    assert.equal((await checkpoint()).checkpoint?.number, 2);
    result = await verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual([result.checkpoints.count, result.checkpoints.coveredThrough, result.checkpoints.warnings], [2, 5, []]);
    // The data directory keeps what it signed last: a small record, no key.
    assert.deepEqual(JSON.parse(await readFile(join(dataDir, AUDIT_DIR, "last-checkpoint.json"), "utf8")), { storeId: await store.audit.storeId(), number: 2, seq: 5, hash: (await store.audit.head()).hash, format: "moat-audit-anchor-1" });
    // Without a CA bundle the signatures are not checked, and the report says so.
    const unchecked = await verify(false);
    assert.equal(unchecked.ok, true);
    assert.equal(unchecked.checkpoints.signatures, "not-checked");
    assert.match(unchecked.checkpoints.warnings.join("\n"), /signatures were not checked/);
  });

  test("audit checkpoints: a rewrite that recomputes every hash and the heads passes the chain alone, and fails at the first checkpoint whose signed hash no longer matches", async (t) => {
    const { address, store, checkpoint, verify } = await scene(t, engine);
    await records(store, 3);
    await checkpoint();
    await records(store, 3, 3);
    await checkpoint();
    const trail = await store.audit.list({ limit: 100 });
    const { statements, rewritten } = rewriteStatements(trail, 2);
    for (const statement of statements) await engine.rawExecute(address, statement);
    const after = await store.audit.list({ limit: 100 });
    assert.deepEqual(after, rewritten, "the store holds the rewritten trail");
    assert.equal(after[1]?.actor, "cli:mallory");
    assert.equal(chainAlonePasses(after, await store.audit.head()), true, "the hash chain and the head alone cannot tell");
    const result = await verify();
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problem.kind, "checkpoint-mismatch", result.problem.message);
    assert.equal(result.problem.seq, 3);
    assert.match(result.problem.message, /^checkpoint 1 signed hash .* for record 3, but the chain has .* there: the trail was rewritten/);
    // A signer will not sign over it, and rewriting the checkpoints' hashes too breaks their signatures.
    await assert.rejects(checkpoint(), (error: unknown) => error instanceof AuditCheckpointRefusedError && error.code === "audit-checkpoint-refused" && /no longer has the hash checkpoint 2 signed/.test(error.message));
    await engine.rawExecute(address, `update audit_checkpoints set hash = '${rewritten[2]?.hash}' where number = 1`);
    await engine.rawExecute(address, `update audit_checkpoints set hash = '${rewritten[5]?.hash}' where number = 2`);
    const resigned = await verify();
    assert.equal(resigned.ok, false);
    if (!resigned.ok) {
      assert.equal(resigned.problem.kind, "checkpoint-invalid", resigned.problem.message);
      assert.match(resigned.problem.message, /^checkpoint 1 \(record 3\) is not validly signed: its signature does not verify/);
    }
  });

  test("audit checkpoints: one signed by a key another CA issued, or by this CA's server certificate, is refused", async (t) => {
    const { address, store, checkpoint, verify, ca } = await scene(t, engine);
    await records(store, 2);
    await checkpoint();
    await records(store, 1, 2);
    // Another CA, issuing a certificate of the right purpose: its root is not in the bundle.
    const other = await createEphemeralCertificateAuthority();
    const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const otherSigner = await other.signAuditSignerCertificate({ publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }) as string, name: "mallory", validityMs: 86_400_000 });
    await engine.rawExecute(address, await forgedCheckpointStatement(store, keys.privateKey, otherSigner.chainPem));
    let result = await verify();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problem.kind, "checkpoint-invalid");
      assert.match(result.problem.message, /^checkpoint 2 \(record 3\) is the last checkpoint, and .*intermediate was not issued by a root in the CA bundle/);
    }
    // A signer does not link a new checkpoint to a forged one.
    await assert.rejects(checkpoint(), (error: unknown) => error instanceof AuditCheckpointRefusedError && /checkpoint 2 is not under a root of the CA bundle .*and this data directory did not sign it/.test(error.message));
    await engine.rawExecute(address, "delete from audit_checkpoints where number = 2");
    // This CA's own edge server certificate: issued by the right CA, for another purpose.
    const server = await ca.issueServerCertificate({ dnsNames: ["edge.example"], validityMs: 86_400_000 });
    await engine.rawExecute(address, await forgedCheckpointStatement(store, server.keyPem, server.chainPem));
    result = await verify();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problem.kind, "checkpoint-invalid");
      assert.match(result.problem.message, /^checkpoint 2 \(record 3\) is not validly signed: .*edge\.example.* is not an audit checkpoint signer/);
    }
    await assert.rejects(checkpoint(), (error: unknown) => error instanceof AuditCheckpointRefusedError && /checkpoint 2 is not validly signed .*forged or replaced in the store/.test(error.message));
    // The CA refuses to certify a key of another kind for the purpose.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await assert.rejects(ca.signAuditSignerCertificate({ publicKeyPem: rsa.publicKey.export({ type: "spki", format: "pem" }) as string, name: "x", validityMs: 86_400_000 }), /must be ECDSA P-256/);
  });

  test("audit checkpoints: removed ones are reported (unanchored without the data directory, removed with it), and a signer will not sign over the loss", async (t) => {
    const { address, store, checkpoint, verify } = await scene(t, engine);
    await records(store, 2);
    await checkpoint();
    await records(store, 2, 2);
    await checkpoint();
    await records(store, 1, 4);
    await checkpoint();
    // A middle one removed: the numbering shows it.
    await engine.rawExecute(address, "delete from audit_checkpoints where number = 2");
    let result = await verify(false);
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.problem.kind, "checkpoint-removed", result.problem.message);
    // All removed: without the data directory, a warning; with it, a failure naming the checkpoint it signed.
    await engine.rawExecute(address, "delete from audit_checkpoints");
    result = await verify(false);
    assert.equal(result.ok, true);
    assert.equal(result.checkpoints.count, 0);
    assert.match(result.checkpoints.warnings.join("\n"), /no signed checkpoint: records 1\.\.5 are only hash-chained/);
    result = await verify();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problem.kind, "checkpoint-removed");
      assert.match(result.problem.message, /the data directory signed checkpoint 3 \(record 5\), but the store holds no checkpoint: checkpoints were removed/);
    }
    await assert.rejects(checkpoint(), (error: unknown) => error instanceof AuditCheckpointRefusedError && /checkpoints were removed/.test(error.message));
    // The trail truncated below the last checkpoint: the head rewritten to match is still found by the checkpoint.
    const fresh = await scene(t, engine);
    await records(fresh.store, 3);
    await fresh.checkpoint();
    const trail = await fresh.store.audit.list({ limit: 10 });
    await engine.rawExecute(fresh.address, "delete from audit_log where seq = 3");
    await engine.rawExecute(fresh.address, `update revisions set audit_seq = 2, audit_hash = '${trail[1]?.hash}' where revision = 3`);
    await engine.rawExecute(fresh.address, `update write_lock set audit_seq = 2, audit_hash = '${trail[1]?.hash}' where id = 1`);
    const truncated = await fresh.verify(false);
    assert.equal(truncated.ok, false);
    if (!truncated.ok) assert.match(truncated.problem.message, /checkpoint 1 \(record 3\) covers a record past the trail's end \(record 2\)/);
  });

  test("audit checkpoints: the signer's key is sealed in a 0600 file and appears in no answer, row, log line or error", async (t) => {
    const { address, store, checkpoint, verify, dataDir, masterKey, ca } = await scene(t, engine);
    await records(store, 2);
    const lines: string[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const checkpoints = startAuditCheckpoints({ audit: store.audit, label: store.label, dataDir, masterKey, ca: () => ca, name: "edge-1", log, intervalMs: 60_000 });
    await checkpoints.close();
    assert.match(lines.join(""), /audit checkpoint signed/);
    const keyPath = join(dataDir, AUDIT_DIR, AUDIT_SIGNER_KEY_FILE);
    if (process.platform !== "win32") assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    const sealed = await readFile(keyPath, "utf8");
    assert.match(sealed, /BEGIN ENCRYPTED PRIVATE KEY/);
    const { keyPem } = openPrivateKey(sealed, masterKey, keyPath);
    const body = keyPem.replace(/-----[^-]+-----|\s/g, "");
    const secretParts = [body, body.slice(40, 80), sealed.replace(/-----[^-]+-----|\s/g, "").slice(40, 80)];
    // A refused checkpoint's error, its log line, the verify answer, and the raw table.
    await engine.rawExecute(address, "delete from audit_checkpoints");
    const refused = await checkpoint().then(() => undefined, (error: Error) => error);
    assert.ok(refused instanceof AuditCheckpointRefusedError);
    const failing = startAuditCheckpoints({ audit: store.audit, label: store.label, dataDir, masterKey, ca: () => ca, name: "edge-1", log, intervalMs: 60_000 });
    await failing.close();
    assert.match(lines.join(""), /"code":"audit-checkpoint-refused"/);
    const answers = [JSON.stringify(await verify()), JSON.stringify(await verify(false)), refused.message, String(refused.stack), lines.join(""), JSON.stringify(await store.audit.list({ limit: 100 }))];
    for (const text of answers) for (const part of secretParts) assert.ok(!text.includes(part), "a piece of the signer's key in an answer, log line or error");
  });

  test("audit checkpoints across a CA rollover: a bundle with both roots trusts both; once the old root leaves it, the old checkpoints stand on the new one's link, and a last one under a root not in the bundle fails", async (t) => {
    const { store, checkpoint, dataDir, masterKey, ca } = await scene(t, engine);
    await records(store, 2);
    await checkpoint();
    // The CA after a rollover: another root and intermediate; the signer gets a certificate from the new intermediate, with a new key.
    const next = await createEphemeralCertificateAuthority();
    await records(store, 1, 2);
    const second = await makeAuditCheckpoint({ audit: store.audit, label: store.label, dataDir, masterKey, ca: next, name: "test" });
    assert.equal(second.checkpoint?.number, 2);
    const both = await verifyAuditTrail(store.audit, { bundlePem: ca.bundlePem + next.bundlePem });
    assert.equal(both.ok, true, JSON.stringify(both));
    assert.deepEqual([both.checkpoints.count, both.checkpoints.coveredThrough], [2, 3]);
    const newOnly = await verifyAuditTrail(store.audit, { bundlePem: next.bundlePem });
    assert.equal(newOnly.ok, true, JSON.stringify(newOnly));
    const oldOnly = await verifyAuditTrail(store.audit, { bundlePem: ca.bundlePem });
    assert.equal(oldOnly.ok, false);
    if (!oldOnly.ok) assert.match(oldOnly.problem.message, /^checkpoint 2 \(record 3\) is the last checkpoint, and .*not issued by a root in the CA bundle/);
  });

  test("audit checkpoints after `moat ca revoke` of the signer: those signed before stand, one forged afterwards with the old key fails naming the revocation (backdated before the last one too), and the next checkpoint has a new signer", async (t) => {
    const { address, store, checkpoint, verify, dataDir, masterKey, ca } = await scene(t, engine);
    await records(store, 2);
    const first = await checkpoint();
    // What an attacker who copied the data directory and the master key holds: the signer's key and certificate.
    const keyPath = join(dataDir, AUDIT_DIR, AUDIT_SIGNER_KEY_FILE);
    const { keyPem: oldKey } = openPrivateKey(await readFile(keyPath, "utf8"), masterKey, keyPath);
    const oldChain = await readFile(join(dataDir, AUDIT_DIR, AUDIT_SIGNER_CERT_FILE), "utf8");
    const oldSerial = new X509Certificate(oldChain).serialNumber.toLowerCase();
    assert.match((await verify()).checkpoints.last?.signer ?? "", new RegExp(`serial ${oldSerial}`), "verify names the signer's serial");
    // Revocation times are whole seconds: revoke in a later second than the first checkpoint, as an operator does.
    await sleep(1_010 - (Date.now() % 1_000));
    const { revocation } = await revokeAndPublishCrl({ dataDir, serialHex: oldSerial, reason: "keyCompromise", ca, masterKey });
    let result = await verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.checkpoints.count, 1, "the checkpoint signed before the revocation stands");

    await records(store, 1, 2);
    await engine.rawExecute(address, await forgedCheckpointStatement(store, oldKey, oldChain, new Date(revocation.revokedAt.getTime() + 500)));
    result = await verify();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problem.kind, "checkpoint-invalid", result.problem.message);
      assert.ok(result.problem.message.startsWith("checkpoint 2 (record 3) is not validly signed: "), result.problem.message);
      assert.ok(result.problem.message.includes(`was revoked at ${revocation.revokedAt.toISOString()} (serial ${oldSerial})`), result.problem.message);
      assert.match(result.problem.message, /a new signer signs the checkpoints, so this one was made with the revoked key/);
    }
    await assert.rejects(checkpoint(), (error: unknown) => error instanceof AuditCheckpointRefusedError && /checkpoint 2 is not validly signed \(.*was revoked at/.test(error.message));
    // Dated before the checkpoint it follows, to slip under the revocation: out of order.
    await engine.rawExecute(address, "delete from audit_checkpoints where number = 2");
    await engine.rawExecute(address, await forgedCheckpointStatement(store, oldKey, oldChain, new Date(Date.parse(first.checkpoint?.at ?? "") - 1)));
    result = await verify();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problem.kind, "checkpoint-invalid", result.problem.message);
      assert.match(result.problem.message, /^checkpoint 2 \(record 3\) is dated .* before checkpoint 1 \(.*\): .* it was backdated/);
    }

    // The forged row removed (as the reason says), the next checkpoint is signed by a new signer, and verify passes.
    await engine.rawExecute(address, "delete from audit_checkpoints where number = 2");
    const next = await checkpoint();
    assert.equal(next.made, true);
    const newSerial = new X509Certificate(next.checkpoint?.certificatePem ?? "").serialNumber.toLowerCase();
    assert.notEqual(newSerial, oldSerial);
    result = await verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.checkpoints.count, 2);
    assert.match(result.checkpoints.last?.signer ?? "", new RegExp(`serial ${newSerial}`));
  });
}
