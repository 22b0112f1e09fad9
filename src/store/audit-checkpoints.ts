// Signed checkpoints of the audit trail: each signs a record's seq and hash, the store's id and the checkpoint before it, so a rewrite of the records is found without an external copy.
import { createHash } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { AuditCheckpointRefusedError } from "../errors.ts";
import { canonicalJson, checkHead, createChainWalk, GENESIS_HASH } from "./audit-chain.ts";
import type { AuditCheckpointReport, AuditHead, AuditProblem, AuditRecord } from "./audit-chain.ts";
import { lockForWrite, toRecordOrEdited } from "./audit-log.ts";
import type { StoreTables } from "./tables.ts";

/** Names the payload's layout; a later layout gets another name, never a changed meaning. */
export const AUDIT_CHECKPOINT_FORMAT = "moat-audit-checkpoint-v1";

/** One signed checkpoint, as the store keeps it (see auditCheckpointPayload for what is signed). */
export interface AuditCheckpoint {
  /** 1, 2, 3…: no gap. */
  number: number;
  /** The store's id (migration 0013): a checkpoint of another store on the same CA does not verify here. */
  storeId: string;
  /** The last record covered, and its hash: every record up to it is fixed by the hash chain. */
  seq: number;
  hash: string;
  /** ISO 8601, UTC: when it was signed; the signer's certificate must be valid then. */
  at: string;
  /** Lower-case hex SHA-256 of the previous checkpoint's signature bytes; 64 zeros for the first. */
  previous: string;
  /** The signer's certificate, then the intermediate that issued it (PEM). */
  certificatePem: string;
  /** Base64 of the DER ECDSA-SHA256 signature over the payload's UTF-8 bytes. */
  signature: string;
}

/**
 * What a checkpoint's signature covers: the RFC 8785 canonical JSON of
 * `{at, format, hash, number, previous, seq, store}` (format `moat-audit-checkpoint-v1`), UTF-8.
 */
export function auditCheckpointPayload(checkpoint: Omit<AuditCheckpoint, "certificatePem" | "signature">): string {
  return canonicalJson({
    at: checkpoint.at,
    format: AUDIT_CHECKPOINT_FORMAT,
    hash: checkpoint.hash,
    number: checkpoint.number,
    previous: checkpoint.previous,
    seq: checkpoint.seq,
    store: checkpoint.storeId,
  });
}

/** The `previous` of the checkpoint after one with this signature. */
export function auditSignatureDigest(signature: string): string {
  return createHash("sha256").update(Buffer.from(signature, "base64")).digest("hex");
}

/** What signs checkpoints: implemented by src/pki (the key never comes here, only its signatures). */
export interface AuditCheckpointSigner {
  /** The signer's certificate, then the intermediate that issued it. */
  readonly certificatePem: string;
  /** Base64 DER signature of the UTF-8 payload. */
  sign(payload: string): string;
}

/** What a signer's data directory keeps of the last checkpoint it signed: a store that no longer holds it lost checkpoints. */
export interface AuditCheckpointAnchor {
  storeId: string;
  number: number;
  seq: number;
  hash: string;
}

/**
 * Checks a checkpoint's signature and its signer's certificate (src/pki's createAuditCheckpointCheck). `trusted: false`:
 * the signature and the certificate's purpose are right, but its chain ends at a root no longer in the bundle (a CA
 * rollover since): accepted only when a later, trusted checkpoint links to it.
 */
export type AuditCheckpointCheck = (input: { payload: string; signature: string; certificatePem: string; at: string }) =>
  | { ok: true; trusted: boolean; signer: string; reason?: string }
  | { ok: false; reason: string };

export interface AuditVerifyOptions {
  /** Without it, signatures are not checked (and the report says so): only the checkpoints' hashes and links are. */
  checkSignature?: AuditCheckpointCheck;
  /** The data directory's record of the last checkpoint it signed. */
  anchor?: AuditCheckpointAnchor;
}

type Db = Kysely<StoreTables> | Transaction<StoreTables>;
type Row = StoreTables["audit_checkpoints"];

const PAGE = 500;

function toCheckpoint(row: Row): AuditCheckpoint {
  return {
    number: Number(row.number),
    storeId: row.store_id,
    seq: Number(row.seq),
    hash: row.hash,
    at: row.at,
    previous: row.previous,
    certificatePem: row.certificate_pem,
    signature: row.signature,
  };
}

export async function readStoreId(db: Db): Promise<string> {
  const row = await db.selectFrom("write_lock").select("store_id").where("id", "=", 1).executeTakeFirstOrThrow();
  return row.store_id ?? "";
}

export async function lastAuditCheckpoint(db: Db): Promise<AuditCheckpoint | undefined> {
  const row = await db.selectFrom("audit_checkpoints").selectAll().orderBy("number", "desc").limit(1).executeTakeFirst();
  return row && toCheckpoint(row);
}

function refuse(label: string, reason: string): AuditCheckpointRefusedError {
  return new AuditCheckpointRefusedError(label, reason);
}

/** What a signer's local record says is missing from the store, if anything. */
async function anchorProblem(db: Db, storeId: string, anchor: AuditCheckpointAnchor): Promise<AuditProblem | undefined> {
  if (anchor.storeId !== storeId) return undefined;
  const row = await db.selectFrom("audit_checkpoints").selectAll().where("number", "=", anchor.number).executeTakeFirst();
  if (!row) {
    const last = await lastAuditCheckpoint(db);
    return {
      seq: anchor.seq,
      kind: "checkpoint-removed",
      message: `the data directory signed checkpoint ${anchor.number} (record ${anchor.seq}), but the store holds ${last ? `checkpoints up to ${last.number} only` : "no checkpoint"}: checkpoints were removed`,
    };
  }
  if (Number(row.seq) !== anchor.seq || row.hash !== anchor.hash) {
    return {
      seq: anchor.seq,
      kind: "checkpoint-removed",
      message: `checkpoint ${anchor.number} is not the one the data directory signed (record ${anchor.seq}, hash ${anchor.hash.slice(0, 16)}…): the checkpoints were replaced`,
    };
  }
  return undefined;
}

/**
 * Signs the trail's head as the next checkpoint, under the write lock, once the records since the last checkpoint
 * (all of them, for the first) are checked: a signer never signs a broken chain, nor one that lost checkpoints its
 * data directory signed (`anchor`). Nothing to sign (an empty trail, no record since the last): `made` false.
 * Throws AuditCheckpointRefusedError naming what is wrong.
 */
export async function appendAuditCheckpoint(
  db: Kysely<StoreTables>,
  label: string,
  signer: AuditCheckpointSigner,
  options: { at: Date; anchor?: AuditCheckpointAnchor; checkSignature?: AuditCheckpointCheck },
): Promise<{ made: boolean; checkpoint: AuditCheckpoint | undefined }> {
  return db.transaction().execute(async (trx) => {
    await lockForWrite(trx);
    const lock = await trx.selectFrom("write_lock").select(["audit_seq", "audit_hash", "store_id"]).where("id", "=", 1).executeTakeFirstOrThrow();
    const head: AuditHead = { seq: Number(lock.audit_seq), hash: lock.audit_hash };
    const storeId = lock.store_id ?? "";
    if (options.anchor) {
      if (options.anchor.storeId !== storeId) {
        throw refuse(label, `the data directory signed checkpoints of another store (id ${options.anchor.storeId}; this one is ${storeId}): a store replaced under this data directory (if it now signs for this store on purpose, remove its audit/last-checkpoint.json)`);
      }
      const problem = await anchorProblem(trx, storeId, options.anchor);
      if (problem) throw refuse(label, problem.message);
    }
    const last = await lastAuditCheckpoint(trx);
    if (last && options.checkSignature) {
      // A new checkpoint links to the last one: never to one forged in the store. One under a root no longer in the bundle
      // (a rollover since) is linked to only when it is the one this data directory signed.
      const checked = options.checkSignature({ payload: auditCheckpointPayload(last), signature: last.signature, certificatePem: last.certificatePem, at: last.at });
      if (!checked.ok) throw refuse(label, `checkpoint ${last.number} is not validly signed (${checked.reason}): it was forged or replaced in the store`);
      const isOwn = options.anchor?.number === last.number && options.anchor.hash === last.hash;
      if (!checked.trusted && !isOwn) throw refuse(label, `checkpoint ${last.number} is not under a root of the CA bundle (${checked.reason ?? "unknown root"}), and this data directory did not sign it`);
    }
    if (head.seq === 0) return { made: false, checkpoint: undefined };
    if (last && last.seq === head.seq && last.hash === head.hash) return { made: false, checkpoint: last };
    // Verify refuses a checkpoint earlier than the one before it (a revoked key must not backdate one to before its revocation): never sign one.
    if (last && options.at.getTime() < Date.parse(last.at)) {
      throw refuse(label, `this host's clock (${options.at.toISOString()}) is behind checkpoint ${last.number}'s time ${last.at}: set the clock right (NTP), or wait until it is past that time`);
    }
    if (last && last.seq === head.seq) throw refuse(label, `record ${last.seq}, the store's head, no longer has the hash checkpoint ${last.number} signed (the trail was rewritten)`);
    if (last && last.seq > head.seq) throw refuse(label, `checkpoint ${last.number} covers record ${last.seq}, but the store's head is record ${head.seq} (the trail was truncated)`);
    const from: AuditHead = last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
    if (last) {
      const covered = await trx.selectFrom("audit_log").select("hash").where("seq", "=", last.seq).executeTakeFirst();
      if (covered?.hash !== last.hash) throw refuse(label, `record ${last.seq} no longer has the hash checkpoint ${last.number} signed (the trail was rewritten)`);
    }
    const walk = createChainWalk(from);
    for (let after = from.seq; ; ) {
      const rows = await trx.selectFrom("audit_log").selectAll().where("seq", ">", after).orderBy("seq").limit(PAGE).execute();
      for (const row of rows) {
        const record = toRecordOrEdited(row);
        const problem = "kind" in record ? record : walk.push(record);
        if (problem) throw refuse(label, problem.message);
      }
      if (rows.length < PAGE) break;
      after = Number(rows.at(-1)?.seq);
    }
    const headProblem = checkHead(walk.last, head);
    if (headProblem) throw refuse(label, headProblem.message);
    const unsigned = { number: (last?.number ?? 0) + 1, storeId, seq: head.seq, hash: head.hash, at: options.at.toISOString(), previous: last ? auditSignatureDigest(last.signature) : GENESIS_HASH };
    const checkpoint: AuditCheckpoint = { ...unsigned, certificatePem: signer.certificatePem, signature: signer.sign(auditCheckpointPayload(unsigned)) };
    await trx
      .insertInto("audit_checkpoints")
      .values({
        number: checkpoint.number,
        store_id: checkpoint.storeId,
        seq: checkpoint.seq,
        hash: checkpoint.hash,
        at: checkpoint.at,
        previous: checkpoint.previous,
        certificate_pem: checkpoint.certificatePem,
        signature: checkpoint.signature,
      })
      .execute();
    return { made: true, checkpoint };
  });
}

/** Where each checkpoint expects the chain to be: loaded before the walk (three short columns a checkpoint), checked as it passes. */
export async function checkpointSeqs(db: Db): Promise<Map<number, { number: number; hash: string }>> {
  const seqs = new Map<number, { number: number; hash: string }>();
  for (let after = 0; ; ) {
    const rows = await db.selectFrom("audit_checkpoints").select(["number", "seq", "hash"]).where("number", ">", after).orderBy("number").limit(PAGE * 10).execute();
    // The first checkpoint at a seq: a second one there is refused by the ordering check below.
    for (const row of rows) if (!seqs.has(Number(row.seq))) seqs.set(Number(row.seq), { number: Number(row.number), hash: row.hash });
    if (rows.length < PAGE * 10) break;
    after = Number(rows.at(-1)?.number);
  }
  return seqs;
}

/** A record the walk passed that a checkpoint signed another hash for: the trail was rewritten after it was signed. */
export function checkpointMismatch(record: AuditRecord, expected: { number: number; hash: string } | undefined): AuditProblem | undefined {
  if (!expected || expected.hash === record.hash) return undefined;
  return {
    seq: record.seq,
    kind: "checkpoint-mismatch",
    message: `checkpoint ${expected.number} signed hash ${expected.hash.slice(0, 16)}… for record ${record.seq}, but the chain has ${record.hash.slice(0, 16)}… there: the trail was rewritten (hashes recomputed) after checkpoint ${expected.number} was signed`,
  };
}

/**
 * The checkpoints in order, once the chain verified up to `last`: numbered 1, 2, 3…, each of this store, after the one
 * before (a later record) and linked to its signature, no further than the chain, each signature right (with
 * `checkSignature`), the last one under a trusted root, and the data directory's anchor still there.
 */
export async function verifyCheckpoints(db: Db, last: AuditHead, options: AuditVerifyOptions): Promise<{ report: AuditCheckpointReport; problem?: AuditProblem }> {
  const storeId = await readStoreId(db);
  const report: AuditCheckpointReport = { count: 0, coveredThrough: 0, last: null, signatures: options.checkSignature ? "verified" : "not-checked", warnings: [] };
  let previous: AuditCheckpoint | undefined;
  let untrusted: { number: number; reason: string } | undefined;
  const fail = (checkpoint: AuditCheckpoint, kind: AuditProblem["kind"], why: string) => ({ report, problem: { seq: checkpoint.seq, kind, message: `checkpoint ${checkpoint.number} (record ${checkpoint.seq}) ${why}` } });
  for (let after = 0; ; ) {
    const rows = await db.selectFrom("audit_checkpoints").selectAll().where("number", ">", after).orderBy("number").limit(PAGE).execute();
    for (const row of rows) {
      const checkpoint = toCheckpoint(row);
      const expected = (previous?.number ?? 0) + 1;
      if (checkpoint.number !== expected) return fail(checkpoint, "checkpoint-removed", `follows checkpoint ${previous?.number ?? "none"}: checkpoint ${expected}${checkpoint.number - 1 > expected ? ` to ${checkpoint.number - 1}` : ""} was removed`);
      if (checkpoint.storeId !== storeId) return fail(checkpoint, "checkpoint-invalid", `was signed for another store (id ${checkpoint.storeId}, this one is ${storeId})`);
      if (previous && checkpoint.seq <= previous.seq) return fail(checkpoint, "checkpoint-invalid", `is not after checkpoint ${previous.number} (record ${previous.seq}): checkpoints are out of order`);
      // Times only go forward: else a revoked signer's key could date a new checkpoint before its revocation.
      if (previous && Date.parse(checkpoint.at) < Date.parse(previous.at)) {
        return fail(checkpoint, "checkpoint-invalid", `is dated ${checkpoint.at}, before checkpoint ${previous.number} (${previous.at}): a checkpoint is never signed earlier than the one it follows, so it was backdated`);
      }
      const link = previous ? auditSignatureDigest(previous.signature) : GENESIS_HASH;
      if (checkpoint.previous !== link) return fail(checkpoint, "checkpoint-invalid", `does not link to ${previous ? `checkpoint ${previous.number}'s signature` : "nothing (as the first must)"}: a checkpoint before it was replaced or inserted`);
      if (checkpoint.seq > last.seq) return fail(checkpoint, "truncated", `covers a record past the trail's end (record ${last.seq}): records were removed after it was signed`);
      let signer = "(not checked)";
      if (options.checkSignature) {
        const checked = options.checkSignature({ payload: auditCheckpointPayload(checkpoint), signature: checkpoint.signature, certificatePem: checkpoint.certificatePem, at: checkpoint.at });
        if (!checked.ok) return fail(checkpoint, "checkpoint-invalid", `is not validly signed: ${checked.reason}`);
        signer = checked.signer;
        untrusted = checked.trusted ? undefined : { number: checkpoint.number, reason: checked.reason ?? "its root is not in the CA bundle" };
      }
      report.count += 1;
      report.coveredThrough = checkpoint.seq;
      report.last = { number: checkpoint.number, seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, signer };
      previous = checkpoint;
    }
    if (rows.length < PAGE) break;
    after = Number(rows.at(-1)?.number);
  }
  if (untrusted && previous) {
    return fail(previous, "checkpoint-invalid", `is the last checkpoint, and ${untrusted.reason}: no later checkpoint under a trusted root links to it`);
  }
  if (options.anchor) {
    if (options.anchor.storeId !== storeId) report.warnings.push(`the data directory's last checkpoint is of another store (id ${options.anchor.storeId}): not compared`);
    else {
      const problem = await anchorProblem(db, storeId, options.anchor);
      if (problem) return { report, problem };
    }
  }
  if (report.count === 0 && last.seq > 0) {
    report.warnings.push(`no signed checkpoint: records 1..${last.seq} are only hash-chained, and someone who can write to the store can rewrite them undetected (docs/explanation/audit-trail.md#signed-checkpoints)`);
  } else if (report.coveredThrough < last.seq) {
    report.warnings.push(`records ${report.coveredThrough + 1}..${last.seq} are after the last checkpoint: only hash-chained until the next one`);
  }
  if (!options.checkSignature && report.count > 0) report.warnings.push("the checkpoints' signatures were not checked: give the CA bundle (--data-dir or --ca-bundle) to check them");
  return { report };
}
