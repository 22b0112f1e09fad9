// Cache invalidations in the store: written one per transaction under the write lock, read by every edge on the store in id order, and each edge's applied state.
import { sql } from "kysely";
import type { Kysely, Selectable } from "kysely";
import { InvalidationRequestInvalidError } from "../errors.ts";
import type { ConfigIssue } from "../errors.ts";
import { appendAuditRecords, lockForWrite } from "./audit-log.ts";
import { edgeHeartbeat } from "./edge-health.ts";
import type { EdgeHeartbeat } from "./edge-health.ts";
import { silentNotifier } from "./revision-notifications.ts";
import type { ChangeNotifier } from "./revision-notifications.ts";
import type { InvalidationsTable, StoreTables } from "./tables.ts";

/** One invalidation as edges apply it: `seq` is its id, the order (and the mark cached entries compare with). */
export interface StoredInvalidationRequest {
  id: string;
  seq: number;
  distribution: string;
  paths: readonly string[];
  at: string;
}

/** One invalidation with who asked for it and which edges applied it when. */
export interface StoredInvalidation extends StoredInvalidationRequest {
  actor: string;
  /**
   * The edges of the store, by name: every live one (a recent heartbeat in the `edges` table), and every other that applied
   * invalidations from it unless it is gone (a day without a heartbeat) and did not apply this one. `appliedAt` null while
   * this one is pending there.
   */
  edges: readonly InvalidationOnEdge[];
  /** Done: every edge waited for has applied it, and at least one edge has (edge-health.ts says which are live). */
  isApplied: boolean;
}

/** One edge's state with one invalidation. */
export interface InvalidationOnEdge {
  edge: string;
  appliedAt: string | null;
  /** Its heartbeat now; null when it never wrote a row in `edges` (an edge of a Moat before 0005). */
  heartbeat: EdgeHeartbeat | null;
  /** Its last heartbeat, when it wrote one. */
  lastSeenAt: string | null;
  /**
   * Whether completion waits for it: a live edge only. A stopped or silent one applies every invalidation when it comes back
   * (it reads them all at start), so waiting for it would hold every invalidation up for an edge that is not serving.
   */
  isWaitedFor: boolean;
}

/** The edges an invalidation lists, and whether it is done: the fleet's completion rule. */
function onEdges(applied: ReadonlyMap<string, string>, known: readonly string[], heartbeats: ReadonlyMap<string, { lastSeenAt: string; heartbeatMs: number | null; stoppedAt: string | null }>, now: Date): { edges: InvalidationOnEdge[]; isApplied: boolean } {
  const names = [...new Set([...known, ...heartbeats.keys()])].sort();
  const edges: InvalidationOnEdge[] = [];
  for (const edge of names) {
    const row = heartbeats.get(edge);
    const heartbeat = row ? edgeHeartbeat(row, now) : null;
    const appliedAt = applied.get(edge) ?? null;
    if (appliedAt === null && (heartbeat === "gone" || (heartbeat === null && !known.includes(edge)))) continue;
    edges.push({ edge, appliedAt, heartbeat, lastSeenAt: row?.lastSeenAt ?? null, isWaitedFor: heartbeat === "live" });
  }
  const isApplied = edges.some((edge) => edge.appliedAt !== null) && edges.every((edge) => !edge.isWaitedFor || edge.appliedAt !== null);
  return { edges, isApplied };
}

export interface InvalidationStore {
  /**
   * Records one invalidation in one transaction: `check` sees the distributions the store holds under the write lock
   * (one removed meanwhile cannot slip through) and any issue it gives refuses the write (InvalidationRequestInvalidError).
   */
  create(request: { distribution: string; paths: readonly string[]; actor: string; now: Date; check(distributions: readonly string[]): readonly ConfigIssue[] }): Promise<StoredInvalidation>;
  /** The invalidations after id `afterSeq`, oldest first: what an edge has not seen yet. */
  since(afterSeq: number, limit?: number): Promise<StoredInvalidationRequest[]>;
  get(seq: number): Promise<StoredInvalidation | undefined>;
  /** Newest first; `before` pages on (the last seq of the previous page). */
  list(options: { limit: number; before?: number; distribution?: string }): Promise<StoredInvalidation[]>;
  /** Edge `edge` has applied every invalidation up to `upToSeq` (on each of its workers): rows for those it had not recorded. */
  markApplied(edge: string, upToSeq: number, now: Date): Promise<void>;
}

function toRequest(row: Selectable<InvalidationsTable>): StoredInvalidationRequest & { actor: string } {
  const seq = Number(row.id);
  return { id: String(seq), seq, distribution: row.distribution, paths: JSON.parse(row.paths) as string[], at: row.created_at, actor: row.actor };
}

/** `label` names the store in the audit trail's errors; `notify` announces each new invalidation at its commit. */
export function createInvalidationStore(db: Kysely<StoreTables>, label: string, notify: ChangeNotifier = silentNotifier): InvalidationStore {
  /** The rows with each edge's applied time and heartbeat: one query for the edges that applied any, one for their heartbeats, one for the times of these ids. */
  async function withEdges(rows: readonly Selectable<InvalidationsTable>[]): Promise<StoredInvalidation[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => Number(row.id));
    const [known, heartbeatRows, applied] = await Promise.all([
      db.selectFrom("invalidation_applied").select("edge").distinct().orderBy("edge").execute(),
      db.selectFrom("edges").select(["name", "last_seen_at", "heartbeat_ms", "stopped_at"]).execute(),
      db.selectFrom("invalidation_applied").select(["invalidation_id", "edge", "applied_at"]).where("invalidation_id", "in", ids).execute(),
    ]);
    const now = new Date();
    const heartbeats = new Map(heartbeatRows.map((row) => [row.name, { lastSeenAt: row.last_seen_at, heartbeatMs: row.heartbeat_ms === null ? null : Number(row.heartbeat_ms), stoppedAt: row.stopped_at }]));
    const knownNames = known.map(({ edge }) => edge);
    return rows.map((row) => {
      const request = toRequest(row);
      const times = new Map(applied.filter((item) => Number(item.invalidation_id) === request.seq).map((item) => [item.edge, item.applied_at]));
      return { ...request, ...onEdges(times, knownNames, heartbeats, now) };
    });
  }

  async function get(seq: number): Promise<StoredInvalidation | undefined> {
    const row = await db.selectFrom("invalidations").selectAll().where("id", "=", seq).executeTakeFirst();
    return row ? (await withEdges([row]))[0] : undefined;
  }

  return {
    async create(request) {
      const seq = await db.transaction().execute(async (trx) => {
        // The store's write lock: ids are given in commit order, the distribution checked is the one committed, and the audit record chains on.
        await lockForWrite(trx);
        const distributions = (await trx.selectFrom("distributions").select("name").orderBy("name").execute()).map((row) => row.name);
        const issues = request.check(distributions);
        if (issues.length > 0) throw new InvalidationRequestInvalidError(issues);
        const last = await trx.selectFrom("invalidations").select(sql<number>`coalesce(max(id), 0)`.as("id")).executeTakeFirst();
        const id = Number(last?.id ?? 0) + 1;
        await trx.insertInto("invalidations").values({ id, distribution: request.distribution, paths: JSON.stringify(request.paths), created_at: request.now.toISOString(), actor: request.actor }).execute();
        const after = { id, distribution: request.distribution, paths: request.paths };
        await appendAuditRecords(trx, [{ actor: request.actor, action: "invalidation.create", resource: `invalidation/${id}`, distribution: request.distribution, after }], request.now, label);
        await notify(trx, { kind: "invalidation", seq: id });
        return id;
      });
      return (await get(seq))!;
    },
    async since(afterSeq, limit = 1000) {
      const rows = await db.selectFrom("invalidations").selectAll().where("id", ">", afterSeq).orderBy("id").limit(limit).execute();
      return rows.map((row) => {
        const { actor: _actor, ...request } = toRequest(row);
        return request;
      });
    },
    get,
    async list(options) {
      let query = db.selectFrom("invalidations").selectAll();
      if (options.before !== undefined) query = query.where("id", "<", options.before);
      if (options.distribution !== undefined) query = query.where("distribution", "=", options.distribution);
      return withEdges(await query.orderBy("id", "desc").limit(options.limit).execute());
    },
    async markApplied(edge, upToSeq, now) {
      // One statement: the ids this edge has no row for yet, up to its mark (a second call with the same mark adds nothing).
      await db
        .insertInto("invalidation_applied")
        .columns(["invalidation_id", "edge", "applied_at"])
        .expression(
          db
            .selectFrom("invalidations")
            .select(["id", sql<string>`${edge}`.as("edge"), sql<string>`${now.toISOString()}`.as("applied_at")])
            .where("id", "<=", upToSeq)
            .where("id", "not in", db.selectFrom("invalidation_applied").select("invalidation_id").where("edge", "=", edge)),
        )
        .execute();
    },
  };
}
