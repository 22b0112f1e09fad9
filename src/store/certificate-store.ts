// Certificate records in the store: each edge's inventory synced whole in one transaction, read with filters and a cursor by any API client of the fleet.
import { sql } from "kysely";
import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool } from "kysely";
import { appendAuditRecords, lockForWrite } from "./audit-log.ts";
import type { AuditEvent } from "./audit-log.ts";
import type { CertificatesTable, StoreTables } from "./tables.ts";

export const CERTIFICATE_USES = ["root-ca", "intermediate-ca", "viewer-server", "origin-client"] as const;
export type StoredCertificateUse = (typeof CERTIFICATE_USES)[number];
/** What an edge records; `revoked` wins over the rest. */
export type RecordedCertificateState = "active" | "next" | "retired" | "revoked";
/** What a reader sees: the recorded state, unless the clock says the certificate has expired or is not valid yet. */
export type StoredCertificateState = RecordedCertificateState | "expired" | "not-yet-valid";
export const STORED_CERTIFICATE_STATES = ["active", "next", "retired", "expired", "not-yet-valid", "revoked"] as const satisfies readonly StoredCertificateState[];

/** One certificate of an edge's inventory, as it is synced: public parts only. */
export interface CertificateEntry {
  fingerprint256: string;
  serialHex: string;
  use: StoredCertificateUse;
  name: string;
  source: "issued" | "imported";
  recordedState: RecordedCertificateState;
  subject: string;
  issuer: string;
  sans: readonly string[];
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
  revokedAt?: Date;
  revocationReason?: string;
}

/** A stored certificate as read: its entry, the edge that holds it (null for the CA's own) and its state now. */
export interface StoredCertificate extends CertificateEntry {
  edge: string | null;
  state: StoredCertificateState;
  updatedAt: string;
}

/** What one sync changed: a certificate added (`before` absent), changed (both) or removed (`after` absent). */
export interface CertificateChange {
  before?: StoredCertificate;
  after?: StoredCertificate;
}

/** What a sync's `events` knows besides the changes. */
export interface SyncContext {
  /** The store held no certificate of this edge before: its first sync (a baseline, not a change). */
  isFirstSync: boolean;
}

export interface CertificateQuery {
  /** At most this many. */
  limit: number;
  /** The serial of the previous page's last certificate: order is by serial as a number (shorter first, then by digits). */
  after?: string;
  edge?: string;
  state?: StoredCertificateState;
  use?: StoredCertificateUse;
  source?: "issued" | "imported";
  /**
   * Only the certificates a distribution uses: those Moat issued for it (by name: `viewer-<id>`, `<id>/<origin>`) and the
   * imported ones it names (`imported`: which use and name, read from its config by the caller).
   */
  distribution?: { id: string; imported: readonly { use: StoredCertificateUse; name: string }[] };
  /** The clock that turns recorded states into `expired` and `not-yet-valid`. */
  now: Date;
}

export interface CertificateStore {
  /**
   * Makes the store hold exactly `entries` for `edge`, in one transaction under the store's write lock: adds and updates
   * what differs, deletes that edge's rows no longer in the inventory (the trail keeps their history), and writes the
   * records `events` makes of the changes in the same transaction (an event whose `once` keys a record holds already is
   * skipped; `recorded` is told those written). The CA's own certificates are kept under edge ''
   * (shared); those the inventory no longer lists are deleted only by an inventory that lists a CA certificate (a data
   * directory without the CA says nothing of it).
   */
  sync(
    edge: string,
    entries: readonly CertificateEntry[],
    options: { now: Date; events?(changes: readonly CertificateChange[], context: SyncContext): readonly AuditEvent[]; recorded?(events: readonly AuditEvent[]): void },
  ): Promise<CertificateChange[]>;
  list(query: CertificateQuery): Promise<{ items: StoredCertificate[]; nextCursor?: string }>;
  /**
   * Marks every row with this serial revoked (whichever edge holds it), at once: what `moat ca revoke --store` writes
   * before the edge's next sync says the same. Returns how many rows it changed (0: none known, or already revoked).
   */
  markRevoked(serialHex: string, revocation: { revokedAt: Date; reason: string; now: Date }): Promise<number>;
  /** The certificate with this serial (lower-case hex), if any edge holds it. */
  get(serialHex: string, now: Date): Promise<StoredCertificate | undefined>;
  /** Every certificate `edge` holds (and the CA's), in one read: what a sync compares with. */
  ofEdge(edge: string, now: Date): Promise<StoredCertificate[]>;
}

const CA_EDGE = "";
const isCaUse = (use: string) => use === "root-ca" || use === "intermediate-ca";
// Bound parameters per statement stay far under SQLite's 32 766 and PostgreSQL's 65 535.
const CHUNK = 500;

/** The state a reader sees at `now`, as listCertificates derives it from the data directory. */
export function certificateStateAt(recorded: RecordedCertificateState, notBefore: Date, notAfter: Date, now: Date): StoredCertificateState {
  if (recorded === "revoked") return "revoked";
  if (notAfter.getTime() <= now.getTime()) return "expired";
  if (notBefore.getTime() > now.getTime()) return "not-yet-valid";
  return recorded;
}

function toStored(row: Selectable<CertificatesTable>, now: Date): StoredCertificate {
  const notBefore = new Date(row.not_before);
  const notAfter = new Date(row.not_after);
  const recordedState = row.state as RecordedCertificateState;
  return {
    fingerprint256: row.fingerprint256,
    serialHex: row.serial_hex,
    edge: row.edge === CA_EDGE ? null : row.edge,
    use: row.use as StoredCertificateUse,
    name: row.name,
    source: row.source as "issued" | "imported",
    recordedState,
    state: certificateStateAt(recordedState, notBefore, notAfter, now),
    subject: row.subject,
    issuer: row.issuer,
    sans: JSON.parse(row.sans) as string[],
    certificatePem: row.certificate_pem,
    notBefore,
    notAfter,
    ...(row.revoked_at === null ? {} : { revokedAt: new Date(row.revoked_at) }),
    ...(row.revocation_reason === null ? {} : { revocationReason: row.revocation_reason }),
    updatedAt: row.updated_at,
  };
}

function toRow(edge: string, entry: CertificateEntry, now: Date): Selectable<CertificatesTable> {
  return {
    fingerprint256: entry.fingerprint256,
    serial_hex: entry.serialHex,
    edge: isCaUse(entry.use) ? CA_EDGE : edge,
    use: entry.use,
    name: entry.name,
    source: entry.source,
    state: entry.recordedState,
    subject: entry.subject,
    issuer: entry.issuer,
    sans: JSON.stringify(entry.sans),
    certificate_pem: entry.certificatePem,
    not_before: entry.notBefore.toISOString(),
    not_after: entry.notAfter.toISOString(),
    revoked_at: entry.revokedAt?.toISOString() ?? null,
    revocation_reason: entry.revocationReason ?? null,
    updated_at: now.toISOString(),
  };
}

/** What a sync compares: everything but updated_at (a fingerprint fixes the certificate's own fields, the rest is state). */
function isSameRow(a: Selectable<CertificatesTable>, b: Selectable<CertificatesTable>): boolean {
  const { updated_at: _a, ...left } = a;
  const { updated_at: _b, ...right } = b;
  return (Object.keys(left) as (keyof typeof left)[]).every((key) => left[key] === right[key]);
}

type Eb = ExpressionBuilder<StoreTables, "certificates">;

/** The derived state as SQL: ISO 8601 UTC text compares in time order on both engines. */
function stateFilter(eb: Eb, state: StoredCertificateState, now: string): Expression<SqlBool> {
  if (state === "revoked") return eb("state", "=", "revoked");
  if (state === "expired") return eb.and([eb("state", "!=", "revoked"), eb("not_after", "<=", now)]);
  if (state === "not-yet-valid") return eb.and([eb("state", "!=", "revoked"), eb("not_after", ">", now), eb("not_before", ">", now)]);
  return eb.and([eb("state", "=", state), eb("not_after", ">", now), eb("not_before", "<=", now)]);
}

function distributionFilter(eb: Eb, distribution: NonNullable<CertificateQuery["distribution"]>): Expression<SqlBool> {
  const prefix = `${distribution.id}/`;
  const issued = eb.and([
    eb("source", "=", "issued"),
    eb.or([
      eb.and([eb("use", "=", "viewer-server"), eb("name", "=", `viewer-${distribution.id}`)]),
      eb.and([eb("use", "=", "origin-client"), eb(sql<string>`substr(name, 1, ${prefix.length})`, "=", prefix)]),
    ]),
  ]);
  const imported = distribution.imported.map((named) => eb.and([eb("source", "=", "imported"), eb("use", "=", named.use), eb("name", "=", named.name)]));
  return eb.or([issued, ...imported]);
}

const serialLength = sql<number>`length(serial_hex)`;

/** `label` names the store in the audit trail's errors. */
export function createCertificateStore(db: Kysely<StoreTables>, label: string): CertificateStore {
  async function ofEdge(edge: string, now: Date): Promise<StoredCertificate[]> {
    const rows = await db.selectFrom("certificates").selectAll().where("edge", "in", [edge, CA_EDGE]).execute();
    return rows.map((row) => toStored(row, now));
  }

  return {
    async sync(edge, entries, options) {
      const { now } = options;
      return db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        const wanted = new Map<string, Selectable<CertificatesTable>>();
        for (const entry of entries) wanted.set(entry.fingerprint256, toRow(edge, entry, now));
        const existing = new Map<string, Selectable<CertificatesTable>>();
        for (const row of await trx.selectFrom("certificates").selectAll().where("edge", "in", [edge, CA_EDGE]).execute()) existing.set(row.fingerprint256, row);
        // A certificate another edge held last (a data directory moved, a renamed edge) is taken over, not duplicated.
        const elsewhere = [...wanted.keys()].filter((fingerprint) => !existing.has(fingerprint));
        for (let i = 0; i < elsewhere.length; i += CHUNK) {
          for (const row of await trx.selectFrom("certificates").selectAll().where("fingerprint256", "in", elsewhere.slice(i, i + CHUNK)).execute()) existing.set(row.fingerprint256, row);
        }
        const isFirstSync = ![...existing.values()].some((row) => row.edge === edge);
        const holdsCa = entries.some((entry) => isCaUse(entry.use));
        const changes: CertificateChange[] = [];
        for (const [fingerprint, row] of wanted) {
          const before = existing.get(fingerprint);
          if (before && isSameRow(before, row)) continue;
          if (before) await trx.updateTable("certificates").set(row).where("fingerprint256", "=", fingerprint).execute();
          else await trx.insertInto("certificates").values(row).execute();
          changes.push({ ...(before ? { before: toStored(before, now) } : {}), after: toStored(row, now) });
        }
        const gone = [...existing.values()].filter((row) => !wanted.has(row.fingerprint256) && (row.edge === edge || (row.edge === CA_EDGE && holdsCa)));
        for (let i = 0; i < gone.length; i += CHUNK) {
          await trx.deleteFrom("certificates").where("fingerprint256", "in", gone.slice(i, i + CHUNK).map((row) => row.fingerprint256)).execute();
        }
        for (const row of gone) changes.push({ before: toStored(row, now) });
        const events = options.events?.(changes, { isFirstSync }) ?? [];
        if (events.length > 0) {
          const { recorded } = await appendAuditRecords(trx, events, now, label);
          options.recorded?.(recorded);
        }
        return changes;
      });
    },

    async list(query) {
      const now = query.now.toISOString();
      let select = db.selectFrom("certificates").selectAll();
      if (query.edge !== undefined) select = select.where("edge", "=", query.edge);
      if (query.use !== undefined) select = select.where("use", "=", query.use);
      if (query.source !== undefined) select = select.where("source", "=", query.source);
      const { state, distribution, after } = query;
      if (state !== undefined) select = select.where((eb) => stateFilter(eb, state, now));
      if (distribution !== undefined) select = select.where((eb) => distributionFilter(eb, distribution));
      if (after !== undefined) select = select.where((eb) => eb.or([eb(serialLength, ">", after.length), eb.and([eb(serialLength, "=", after.length), eb("serial_hex", ">", after)])]));
      const rows = await select.orderBy(serialLength).orderBy("serial_hex").orderBy("fingerprint256").limit(query.limit + 1).execute();
      const items = rows.slice(0, query.limit).map((row) => toStored(row, query.now));
      const last = items.at(-1);
      return { items, ...(rows.length > query.limit && last ? { nextCursor: last.serialHex } : {}) };
    },

    async markRevoked(serialHex, revocation) {
      return db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        const result = await trx
          .updateTable("certificates")
          .set({ state: "revoked", revoked_at: revocation.revokedAt.toISOString(), revocation_reason: revocation.reason, updated_at: revocation.now.toISOString() })
          .where("serial_hex", "=", serialHex)
          .where("state", "!=", "revoked")
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      });
    },

    async get(serialHex, now) {
      const row = await db.selectFrom("certificates").selectAll().where("serial_hex", "=", serialHex).orderBy("edge").orderBy("fingerprint256").executeTakeFirst();
      return row ? toStored(row, now) : undefined;
    },

    ofEdge,
  };
}
