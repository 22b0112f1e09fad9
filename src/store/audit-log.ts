// The audit trail in the store: records appended inside the transaction of the change they record, read a page at a time, verified against the store's head.
import type { Kysely, Transaction } from "kysely";
import { AuditChainBrokenError } from "../errors.ts";
import { auditRecordHash, checkHead, createChainWalk } from "./audit-chain.ts";
import type { AuditAction, AuditCheckpointReport, AuditHead, AuditProblem, AuditRecord, AuditVerification } from "./audit-chain.ts";
import { appendAuditCheckpoint, checkpointMismatch, checkpointSeqs, lastAuditCheckpoint, readStoreId, verifyCheckpoints } from "./audit-checkpoints.ts";
import type { AuditCheckpoint, AuditCheckpointAnchor, AuditCheckpointCheck, AuditCheckpointSigner, AuditVerifyOptions } from "./audit-checkpoints.ts";
import type { StoreTables } from "./tables.ts";

/** What happened, as the code that made the change knows it; seq, hashes and (by default) time are the trail's to add. */
export interface AuditEvent {
  actor: string;
  action: AuditAction;
  /** `<kind>/<name>`: `certificate/<serial hex>`, `ca/root`, `crl/root`… */
  resource: string;
  distribution?: string | null;
  revision?: number | null;
  /** JSON-able; never a private key, a token secret or its hash (only what identifies: serial, fingerprint, names, not-after). */
  before?: unknown;
  after?: unknown;
  /**
   * An event that happens once, found by whoever looks (every sync of an edge's certificates, in any process): at most
   * one record holds each of `keys`. The store skips the event when a record already holds one of them, or one of
   * `unless` (what makes it impossible: a certificate already replaced is not rotated in), and otherwise writes the
   * record and its keys in one transaction, under the write lock. Not part of the record (nor of its hash).
   */
  once?: AuditOnce;
}

/** The keys of an event that happens once: `certificate.rotate/<serial>`, `certificate.replaced/<serial>`… */
export interface AuditOnce {
  keys: readonly string[];
  unless?: readonly string[];
}

/**
 * Where code outside the store records what it changed (certificate issue, rotate, import, revoke, CRL publication).
 * Each call is one record in a transaction of its own, taken under the store's write lock so that it is ordered with
 * config and token changes. Call it after the change is durable: a record says a change happened.
 *
 * @example
 * await sink.record({ actor: actorOf(identity), action: "certificate.revoke", resource: `certificate/${serialHex}`, distribution: "shop", after: { serialHex, reason } });
 */
export interface AuditSink {
  record(event: Omit<AuditEvent, "revision" | "once"> & { at?: Date }): Promise<AuditRecord>;
}

export interface AuditQuery {
  /** At most this many. */
  limit: number;
  /** Only records with a seq above this one (the next page, oldest first). */
  after?: number;
  /** Only records with a seq below this one (the next page, newest first). */
  before?: number;
  newestFirst?: boolean;
  resource?: string;
  actor?: string;
  action?: string;
  distribution?: string;
}

export interface AuditLog extends AuditSink {
  /** The head the store recorded with its newest record. */
  head(): Promise<AuditHead>;
  list(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * Walks the whole chain in seq order and checks its end against the store's head and every revision's, then the
   * signed checkpoints: each one's hash against the chain's at its seq, their order and links, and (with
   * `checkSignature`) their signatures and signers' certificates; with `anchor`, that the data directory's last one is there.
   */
  verify(options?: AuditVerifyOptions): Promise<AuditVerification>;
  /** Signs the trail's head as the next checkpoint (nothing when no record came since the last); see appendAuditCheckpoint. */
  checkpoint(signer: AuditCheckpointSigner, options?: { at?: Date; anchor?: AuditCheckpointAnchor; checkSignature?: AuditCheckpointCheck }): Promise<{ made: boolean; checkpoint: AuditCheckpoint | undefined }>;
  /** The newest checkpoint, if any. */
  lastCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** The id migration 0013 gave this store: what checkpoints name it by. */
  storeId(): Promise<string>;
}

type Db = Kysely<StoreTables> | Transaction<StoreTables>;

const VERIFY_PAGE = 1_000;
// Bound parameters per statement stay far under SQLite's 32 766 and PostgreSQL's 65 535.
const ONCE_KEYS_CHUNK = 500;

/**
 * Takes the store's write lock: an UPDATE of the one write_lock row (SQLite's write lock, PostgreSQL's row lock),
 * first in every writing transaction, so that writers queue on either engine and each sees the head the one
 * before it left.
 */
export async function lockForWrite(trx: Transaction<StoreTables>): Promise<void> {
  await trx.updateTable("write_lock").set((eb) => ({ writes: eb("writes", "+", 1) })).where("id", "=", 1).execute();
}

/** As the stored JSON text reads back: what is hashed must be what a reader of the row gets. */
function asStored(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

/**
 * Appends records after the head, in the caller's transaction, which must hold the write lock (`lockForWrite`);
 * returns the new head, the records and the events they record (an event with `once` keys already held is skipped).
 * The records commit or roll back with the change they describe.
 */
export async function appendAuditRecords(trx: Transaction<StoreTables>, events: readonly AuditEvent[], at: Date, label: string): Promise<{ head: AuditHead; records: AuditRecord[]; recorded: AuditEvent[] }> {
  let head = await readHead(trx);
  // A record past the head was put there behind the store's back: refuse the change (and say why) rather than chain onto it or fail on its seq.
  const newest = await trx.selectFrom("audit_log").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst();
  if (events.length > 0 && newest?.seq != null && Number(newest.seq) > head.seq) {
    throw new AuditChainBrokenError(label, { seq: head.seq + 1, kind: "inserted", message: `record ${head.seq + 1} is after the store's head (record ${head.seq}): records were appended behind the store's back, and no change is recorded after them` }, head.seq);
  }
  const records: AuditRecord[] = [];
  const recorded: AuditEvent[] = [];
  const held = await heldOnceKeys(trx, events);
  for (const event of events) {
    if (event.once && [...event.once.keys, ...(event.once.unless ?? [])].some((key) => held.has(key))) continue;
    const unhashed = {
      seq: head.seq + 1,
      at: at.toISOString(),
      actor: event.actor,
      action: event.action,
      resource: event.resource,
      distribution: event.distribution ?? null,
      revision: event.revision ?? null,
      before: asStored(event.before),
      after: asStored(event.after),
      prevHash: head.hash,
    };
    const record: AuditRecord = { ...unhashed, hash: auditRecordHash(unhashed) };
    await trx
      .insertInto("audit_log")
      .values({
        seq: record.seq,
        at: record.at,
        actor: record.actor,
        action: record.action,
        resource: record.resource,
        distribution: record.distribution,
        revision: record.revision,
        before: record.before === null ? null : JSON.stringify(record.before),
        after: record.after === null ? null : JSON.stringify(record.after),
        prev_hash: record.prevHash,
        hash: record.hash,
      })
      .execute();
    // The key's primary key is the last guard: a second holder fails the transaction rather than write a second record.
    if (event.once && event.once.keys.length > 0) await trx.insertInto("audit_once_keys").values(event.once.keys.map((key) => ({ key, seq: record.seq }))).execute();
    for (const key of event.once?.keys ?? []) held.add(key);
    records.push(record);
    recorded.push(event);
    head = { seq: record.seq, hash: record.hash };
  }
  if (records.length > 0) await trx.updateTable("write_lock").set({ audit_seq: head.seq, audit_hash: head.hash }).where("id", "=", 1).execute();
  return { head, records, recorded };
}

/** Which of the events' once-keys a record already holds (read under the write lock, so no writer adds one meanwhile). */
async function heldOnceKeys(trx: Transaction<StoreTables>, events: readonly AuditEvent[]): Promise<Set<string>> {
  const asked = [...new Set(events.flatMap((event) => (event.once ? [...event.once.keys, ...(event.once.unless ?? [])] : [])))];
  const held = new Set<string>();
  for (let i = 0; i < asked.length; i += ONCE_KEYS_CHUNK) {
    for (const row of await trx.selectFrom("audit_once_keys").select("key").where("key", "in", asked.slice(i, i + ONCE_KEYS_CHUNK)).execute()) held.add(row.key);
  }
  return held;
}

async function readHead(db: Db): Promise<AuditHead> {
  const row = await db.selectFrom("write_lock").select(["audit_seq", "audit_hash"]).where("id", "=", 1).executeTakeFirstOrThrow();
  return { seq: Number(row.audit_seq), hash: row.audit_hash };
}

type Row = StoreTables["audit_log"];

function toRecord(row: Row): AuditRecord {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action as AuditAction,
    resource: row.resource,
    distribution: row.distribution,
    revision: row.revision === null ? null : Number(row.revision),
    before: row.before === null ? null : (JSON.parse(row.before) as unknown),
    after: row.after === null ? null : (JSON.parse(row.after) as unknown),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** A row whose JSON no longer parses was edited: it is reported as such, not thrown. */
export function toRecordOrEdited(row: Row): AuditRecord | AuditProblem {
  try {
    return toRecord(row);
  } catch {
    return { seq: Number(row.seq), kind: "edited", message: `record ${Number(row.seq)} was edited: its before or after is no longer JSON` };
  }
}

function listRecords(db: Db, query: AuditQuery): Promise<Row[]> {
  let select = db.selectFrom("audit_log").selectAll();
  if (query.after !== undefined) select = select.where("seq", ">", query.after);
  if (query.before !== undefined) select = select.where("seq", "<", query.before);
  if (query.resource !== undefined) select = select.where("resource", "=", query.resource);
  if (query.actor !== undefined) select = select.where("actor", "=", query.actor);
  if (query.action !== undefined) select = select.where("action", "=", query.action);
  if (query.distribution !== undefined) select = select.where("distribution", "=", query.distribution);
  return select.orderBy("seq", query.newestFirst ? "desc" : "asc").limit(query.limit).execute();
}

async function verifyIn(trx: Transaction<StoreTables>, options: AuditVerifyOptions): Promise<AuditVerification> {
  const walk = createChainWalk();
  // Filled in once the chain is whole; a broken chain reports the checkpoints as not reached.
  let checkpoints: AuditCheckpointReport = { count: 0, coveredThrough: 0, last: null, signatures: options.checkSignature ? "verified" : "not-checked", warnings: [] };
  const failed = (problem: AuditProblem): AuditVerification => ({ ok: false, records: walk.records, head: walk.last, problem, checkpoints });
  const signed = await checkpointSeqs(trx);
  for (let after = 0; ; ) {
    const rows = await listRecords(trx, { after, limit: VERIFY_PAGE });
    for (const row of rows) {
      const record = toRecordOrEdited(row);
      // A rewrite that recomputed every hash passes the walk: the hash a checkpoint signed at this seq does not.
      const problem = "kind" in record ? record : (walk.push(record) ?? checkpointMismatch(record, signed.get(record.seq)));
      if (problem) return failed(problem);
    }
    if (rows.length < VERIFY_PAGE) break;
    after = Number(rows.at(-1)?.seq);
  }
  const headProblem = checkHead(walk.last, await readHead(trx));
  if (headProblem) return failed(headProblem);
  // Each revision recorded the head its change left: a record it names must still be there, with that hash.
  const revision = await trx
    .selectFrom("revisions")
    .leftJoin("audit_log", "audit_log.seq", "revisions.audit_seq")
    .select(["revisions.revision", "revisions.audit_seq", "revisions.audit_hash", "audit_log.hash"])
    .where("revisions.audit_seq", "is not", null)
    .where((eb) => eb.or([eb("audit_log.hash", "is", null), eb("audit_log.hash", "!=", eb.ref("revisions.audit_hash"))]))
    .orderBy("revisions.revision")
    .limit(1)
    .executeTakeFirst();
  if (revision) {
    const seq = Number(revision.audit_seq);
    return failed({
      seq,
      kind: "head-mismatch",
      message: `revision ${revision.revision} recorded record ${seq} with hash ${String(revision.audit_hash).slice(0, 16)}…, but ${revision.hash === null ? "there is no such record" : `record ${seq} has hash ${revision.hash.slice(0, 16)}…`} (the trail was rewritten)`,
    });
  }
  const verified = await verifyCheckpoints(trx, walk.last, options);
  checkpoints = verified.report;
  if (verified.problem) return failed(verified.problem);
  return { ok: true, records: walk.records, head: walk.last, checkpoints };
}

export function createAuditLog(db: Kysely<StoreTables>, label: string): AuditLog {
  return {
    async record(event) {
      const { at, ...rest } = event;
      return db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        const { records } = await appendAuditRecords(trx, [rest], at ?? new Date(), label);
        return records[0] as AuditRecord;
      });
    },
    head: () => readHead(db),
    async list(query) {
      return (await listRecords(db, query)).map(toRecord);
    },
    // One snapshot for the whole walk: a change committed meanwhile must not look like a record appended behind the store's back.
    verify: (options = {}) => db.transaction().setIsolationLevel("repeatable read").execute((trx) => verifyIn(trx, options)),
    checkpoint: (signer, options = {}) => appendAuditCheckpoint(db, label, signer, { ...options, at: options.at ?? new Date() }),
    lastCheckpoint: () => lastAuditCheckpoint(db),
    storeId: () => readStoreId(db),
  };
}
