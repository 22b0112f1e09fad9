// The edges that run from the store, by name: the revision each serves and since when, and its heartbeat.
import type { Kysely } from "kysely";
import type { StoreTables } from "./tables.ts";

/** One edge as it last reported itself (all times ISO 8601, UTC). */
export interface EdgeRecord {
  /** `--edge-name`, MOAT_EDGE_NAME or the host name: the name its applied invalidations are recorded under too. */
  name: string;
  /** The revision it serves; null while it serves none from this store yet. */
  revision: number | null;
  /** When it started serving that revision. */
  servedAt: string | null;
  /** Its last heartbeat: an edge reports every few seconds while it can reach the store. */
  lastSeenAt: string;
  startedAt: string;
  /** The Moat version it runs. */
  version: string;
}

export interface EdgeStore {
  /** Writes the edge's row whole (one statement: created or replaced). */
  report(record: EdgeRecord): Promise<void>;
  /** Every edge that ever reported, by name. */
  list(): Promise<EdgeRecord[]>;
}

export function createEdgeStore(db: Kysely<StoreTables>): EdgeStore {
  return {
    async report(record) {
      const row = { revision: record.revision, served_at: record.servedAt, last_seen_at: record.lastSeenAt, started_at: record.startedAt, version: record.version };
      await db
        .insertInto("edges")
        .values({ name: record.name, ...row })
        .onConflict((conflict) => conflict.column("name").doUpdateSet(row))
        .execute();
    },
    async list() {
      const rows = await db.selectFrom("edges").selectAll().orderBy("name").execute();
      return rows.map((row) => ({
        name: row.name,
        revision: row.revision === null ? null : Number(row.revision),
        servedAt: row.served_at,
        lastSeenAt: row.last_seen_at,
        startedAt: row.started_at,
        version: row.version,
      }));
    },
  };
}
