// The edges that run from the store, by name: the revision each serves and since when, and its heartbeat.
import { sql } from "kysely";
import type { Kysely } from "kysely";
import { edgeStanding } from "./edge-health.ts";
import type { EdgeStanding } from "./edge-health.ts";
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
  /** `moat start --region` (MOAT_EDGE_REGION); null when none was given. */
  region: string | null;
  /** How often it writes its heartbeat; null for a row that does not say (the default, 10 s). */
  heartbeatMs: number | null;
  /** The CA it uses, as it last reported it; null (or absent) when it reported none. */
  caTrust?: EdgeCaTrust | null;
  /** When it stopped cleanly (its farewell); null (or absent) while it runs: each report clears it. */
  stoppedAt?: string | null;
}

/** What CA an edge uses: the roots it trusts (its bundle.pem) and the intermediate it issues from, by SHA-256 (colon-separated upper-case hex, as X509Certificate.fingerprint256). */
export interface EdgeCaTrust {
  roots: string[];
  intermediate: string;
}

/** The stored JSON, read defensively: a row this version cannot read counts as reporting nothing (it then holds a rollover back). */
function parseCaTrust(text: string | null | undefined): EdgeCaTrust | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<EdgeCaTrust>;
    if (!Array.isArray(value.roots) || !value.roots.every((root) => typeof root === "string") || typeof value.intermediate !== "string") return null;
    return { roots: value.roots, intermediate: value.intermediate };
  } catch {
    return null;
  }
}

/** The fleet as `GET /edges` shows it: the newest revision and each edge with its standing against it. */
export interface EdgeFleet {
  revision: number;
  /** When the newest revision was committed; null while the store has none. */
  revisionAt: string | null;
  items: (EdgeRecord & EdgeStanding)[];
}

export interface EdgeStore {
  /** Writes the edge's row whole (one statement: created or replaced). */
  report(record: EdgeRecord): Promise<void>;
  /** Every edge that ever reported, by name. */
  list(): Promise<EdgeRecord[]>;
  /** The edge's farewell at a clean stop (also its last heartbeat): its row says stopped (not waited for) until its next report. False when it has no row. */
  markStopped(name: string, at: Date): Promise<boolean>;
  /** Every edge with its health at `now` (edge-health.ts): behind once it serves an older revision than the newest for over `maxLagMs`. */
  fleet(options: { now: Date; maxLagMs?: number }): Promise<EdgeFleet>;
}

export function createEdgeStore(db: Kysely<StoreTables>): EdgeStore {
  async function list(): Promise<EdgeRecord[]> {
    const rows = await db.selectFrom("edges").selectAll().orderBy("name").execute();
    return rows.map((row) => ({
      name: row.name,
      revision: row.revision === null ? null : Number(row.revision),
      servedAt: row.served_at,
      lastSeenAt: row.last_seen_at,
      startedAt: row.started_at,
      version: row.version,
      region: row.region ?? null,
      heartbeatMs: row.heartbeat_ms === null || row.heartbeat_ms === undefined ? null : Number(row.heartbeat_ms),
      caTrust: parseCaTrust(row.ca_trust),
      stoppedAt: row.stopped_at ?? null,
    }));
  }

  return {
    async report(record) {
      const row = {
        revision: record.revision,
        served_at: record.servedAt,
        last_seen_at: record.lastSeenAt,
        started_at: record.startedAt,
        version: record.version,
        region: record.region,
        heartbeat_ms: record.heartbeatMs,
        ca_trust: record.caTrust ? JSON.stringify({ roots: record.caTrust.roots, intermediate: record.caTrust.intermediate }) : null,
        // A report is a running edge's: a farewell before it (the last stop) no longer holds.
        stopped_at: null,
      };
      await db
        .insertInto("edges")
        .values({ name: record.name, ...row })
        .onConflict((conflict) => conflict.column("name").doUpdateSet(row))
        .execute();
    },
    list,
    async markStopped(name, at) {
      // Its last word is the farewell: "stopped since" names it, and a day after it the edge is gone.
      const result = await db.updateTable("edges").set({ stopped_at: at.toISOString(), last_seen_at: at.toISOString() }).where("name", "=", name).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async fleet(options) {
      const [edges, newestRow] = await Promise.all([list(), db.selectFrom("revisions").select(sql<number>`coalesce(max(revision), 0)`.as("revision")).executeTakeFirst()]);
      const newest = Number(newestRow?.revision ?? 0);
      // The commit time of the newest revision and of the first one each edge lacks: one query.
      const wanted = [...new Set([newest, ...edges.map((edge) => (edge.revision ?? 0) + 1)])].filter((revision) => revision >= 1 && revision <= newest);
      const times = wanted.length === 0 ? [] : await db.selectFrom("revisions").select(["revision", "created_at"]).where("revision", "in", wanted).execute();
      const commitTimes = new Map(times.map((row) => [Number(row.revision), row.created_at]));
      return {
        revision: newest,
        revisionAt: commitTimes.get(newest) ?? null,
        items: edges.map((edge) => ({ ...edge, ...edgeStanding(edge, { newest, commitTimes }, options.now, options.maxLagMs) })),
      };
    },
  };
}
