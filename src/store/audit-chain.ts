// The audit trail's hash chain: the canonical encoding of a record, its SHA-256, and a walk that names the first record that breaks the chain.
import { createHash } from "node:crypto";

/**
 * Stable codes of what a record says happened. Config changes and token changes are written in the transaction
 * of the change itself; certificate events (from an `AuditSink`) after the files they change are written.
 */
export const AUDIT_ACTIONS = [
  "config.put",
  "config.remove",
  "config.apply",
  "token.create",
  "token.revoke",
  "edge.join-token",
  "edge.join",
  "edge.join-token-revoke",
  "invalidation.create",
  "certificate.issue",
  "certificate.rotate",
  "certificate.rotate-request",
  "certificate.import",
  "certificate.revoke",
  "certificate.expiry-warning",
  "ca.rotate",
  "ca.publication",
  "crl.publish",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The `prevHash` of the first record: 64 zeros. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * One record of the trail, as the API answers it and `moat audit export` writes it (one JSON line each). Every
 * field but `hash` is hashed: see `auditRecordHash`.
 */
export interface AuditRecord {
  /** 1, 2, 3…: no gap, no reuse. */
  seq: number;
  /** ISO 8601, UTC. */
  at: string;
  /** Who: `cli:<user>`, `api:token/<id>`, `api:certificate/<name>` (the actor strings revisions carry). */
  actor: string;
  action: AuditAction;
  /** `<kind>/<name>`: `distribution/shop`, `trustStore/partners`, `setting/log`, `token/<id>`, `certificate/<serial>`; `config` for an apply that changed no resource. */
  resource: string;
  /** The distribution the record concerns, when it concerns one (what `?distribution=` filters on). */
  distribution: string | null;
  /** The config revision the change made; null for what is not config (tokens, certificates). */
  revision: number | null;
  /** The resource before and after, as JSON; null for one that did not exist. Never a key, a token secret or its hash. */
  before: unknown;
  after: unknown;
  /** The `hash` of the record before this one; GENESIS_HASH for the first. */
  prevHash: string;
  /** Lower-case hex SHA-256 of the canonical encoding of every other field. */
  hash: string;
}

/** Where the store says the trail ends: the newest record's seq and hash (0 and GENESIS_HASH for an empty trail). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/**
 * RFC 8785 (JSON Canonicalization Scheme) of a value JSON.parse could return: object members sorted by their
 * names' UTF-16 code units (what `Array.prototype.sort` compares), no whitespace, strings and numbers as
 * ECMAScript's JSON.stringify writes them (RFC 8785 §3.2.2 adopts exactly that serialisation).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("a canonical JSON number must be finite (RFC 8785 §3.2.2.3)");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const names = Object.keys(value).filter((name) => (value as Record<string, unknown>)[name] !== undefined).sort();
  return `{${names.map((name) => `${JSON.stringify(name)}:${canonicalJson((value as Record<string, unknown>)[name])}`).join(",")}}`;
}

/**
 * The hash of a record: lower-case hex SHA-256 of the UTF-8 bytes of the RFC 8785 canonical JSON of the object
 * with exactly these ten members (none left out: an absent value is null):
 * `{action, actor, after, at, before, distribution, prevHash, resource, revision, seq}`.
 * That is the exported JSON line without its `hash`, canonicalised: an external verifier needs nothing else.
 */
export function auditRecordHash(record: Omit<AuditRecord, "hash">): string {
  const hashed = {
    action: record.action,
    actor: record.actor,
    after: record.after ?? null,
    at: record.at,
    before: record.before ?? null,
    distribution: record.distribution ?? null,
    prevHash: record.prevHash,
    resource: record.resource,
    revision: record.revision ?? null,
    seq: record.seq,
  };
  return createHash("sha256").update(canonicalJson(hashed), "utf8").digest("hex");
}

export type AuditProblemKind = "edited" | "deleted" | "inserted" | "reordered" | "truncated" | "head-mismatch" | "checkpoint-mismatch" | "checkpoint-invalid" | "checkpoint-removed";

/** The first thing wrong with a trail: the record it is found at, and what is wrong, for people. */
export interface AuditProblem {
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

/**
 * What the signed checkpoints say about the trail: records 1..`coveredThrough` are covered by a signature made with a
 * key the CA issued for it; records after it are only hash-chained. `signatures` is `not-checked` when the verifier
 * had no CA bundle (the hashes and links of the checkpoints were still checked). `warnings` is what a reader must see
 * although nothing failed: an unanchored trail, signatures not checked.
 */
export interface AuditCheckpointReport {
  count: number;
  coveredThrough: number;
  last: { number: number; seq: number; hash: string; at: string; signer: string } | null;
  signatures: "verified" | "not-checked";
  warnings: string[];
}

export type AuditVerification =
  | { ok: true; records: number; head: AuditHead; checkpoints: AuditCheckpointReport }
  | { ok: false; records: number; head: AuditHead; problem: AuditProblem; checkpoints: AuditCheckpointReport };

// How far from its place a moved record is looked for (a swap, a few records inserted or deleted and the rest renumbered).
const MOVE_WINDOW = 16;

/**
 * Walks records in seq order, one at a time (a trail need not fit in memory), and stops at the first problem.
 */
export function createChainWalk(from: AuditHead = { seq: 0, hash: GENESIS_HASH }): { push(record: AuditRecord): AuditProblem | undefined; readonly last: AuditHead; readonly records: number } {
  // `from`: a record already verified (a signed checkpoint's), the walk goes on after it.
  let last: AuditHead = from;
  let records = 0;
  return {
    get last() {
      return last;
    },
    get records() {
      return records;
    },
    push(record) {
      const expected = last.seq + 1;
      if (record.seq < expected) {
        return { seq: record.seq, kind: "inserted", message: `record ${record.seq} is numbered before record ${expected}, where no record can be (inserted)` };
      }
      if (record.seq > expected) {
        const missing = record.seq - 1 === expected ? `record ${expected} is missing` : `records ${expected} to ${record.seq - 1} are missing`;
        return { seq: expected, kind: "deleted", message: `${missing}: the trail goes from record ${last.seq} to record ${record.seq} (deleted)` };
      }
      const computed = auditRecordHash(record);
      if (computed !== record.hash) {
        // A record hashed right under another seq was written there and moved: a swap, or records inserted before it.
        const writtenAs = writtenSeq(record);
        if (writtenAs !== undefined && writtenAs < record.seq) {
          const inserted = writtenAs === record.seq - 1 ? `record ${writtenAs} was inserted` : `records ${writtenAs} to ${record.seq - 1} were inserted`;
          return { seq: writtenAs, kind: "inserted", message: `record ${record.seq} was written as record ${writtenAs}: ${inserted} before it and the rest renumbered` };
        }
        if (writtenAs !== undefined) {
          return {
            seq: record.seq,
            kind: "reordered",
            message: `record ${record.seq} was written as record ${writtenAs}: records were reordered (or records ${record.seq} to ${writtenAs - 1} deleted and the rest renumbered)`,
          };
        }
        const unlinked = record.prevHash === last.hash ? "" : `, and its prevHash is not record ${last.seq}'s hash`;
        return {
          seq: record.seq,
          kind: "edited",
          message: `record ${record.seq} was edited: its fields do not hash to its stored hash (stored ${record.hash.slice(0, 16)}…, computed ${computed.slice(0, 16)}…)${unlinked}`,
        };
      }
      if (record.prevHash !== last.hash) {
        return {
          seq: record.seq,
          kind: "inserted",
          message: `record ${record.seq} does not follow record ${last.seq}: its prevHash is ${record.prevHash.slice(0, 16)}…, record ${last.seq}'s hash is ${last.hash.slice(0, 16)}… (a record before it was inserted or replaced)`,
        };
      }
      last = { seq: record.seq, hash: record.hash };
      records += 1;
      return undefined;
    },
  };
}

function writtenSeq(record: AuditRecord): number | undefined {
  for (let distance = 1; distance <= MOVE_WINDOW; distance += 1) {
    for (const seq of [record.seq + distance, record.seq - distance]) {
      if (seq >= 1 && auditRecordHash({ ...record, seq }) === record.hash) return seq;
    }
  }
  return undefined;
}

/**
 * The end of a trail against the head the store recorded with its newest record: records deleted from the end
 * leave a chain that is whole but shorter, which only the head can tell.
 */
export function checkHead(last: AuditHead, head: AuditHead): AuditProblem | undefined {
  if (last.seq < head.seq) {
    const missing = last.seq + 1 === head.seq ? `record ${head.seq} is missing` : `records ${last.seq + 1} to ${head.seq} are missing`;
    return { seq: last.seq + 1, kind: "truncated", message: `the trail ends at record ${last.seq} but the store's head is record ${head.seq}: ${missing} (the newest records were deleted)` };
  }
  if (last.seq > head.seq) {
    return { seq: head.seq + 1, kind: "inserted", message: `record ${head.seq + 1} is after the store's head (record ${head.seq}): records were appended behind the store's back` };
  }
  if (last.hash !== head.hash) {
    return { seq: last.seq, kind: "head-mismatch", message: `record ${last.seq} has hash ${last.hash.slice(0, 16)}… but the store's head names ${head.hash.slice(0, 16)}… for it (the newest record was replaced)` };
  }
  return undefined;
}
