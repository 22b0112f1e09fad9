// An edge's health from its row and the store's revisions: ok, behind (an older revision for longer than the allowed lag), stopped (it said farewell), silent (missed heartbeats), gone.
import type { EdgeRecord } from "./edge-store.ts";

export const EDGE_HEALTH_DEFAULTS = Object.freeze({
  /** An edge serving an older revision than the newest for longer than this is `behind`. */
  maxLagMs: 30_000,
  /** The interval of a row that does not state its own (written before it did): the edge's default. */
  heartbeatMs: 10_000,
  /** Heartbeats missed in a row before an edge is `silent`: one late write is not an outage. */
  silentHeartbeats: 3,
  /** No heartbeat for this long: the edge is `gone` (decommissioned, or renamed), and invalidations list it no more. */
  goneMs: 24 * 3_600_000,
});

export type EdgeHealth = "ok" | "behind" | "stopped" | "silent" | "gone";

/** Whether the edge still reports: `live` (ok or behind), stopped cleanly (its farewell), or for how long it has not. */
export type EdgeHeartbeat = "live" | "stopped" | "silent" | "gone";

/** Where an edge stands against the newest revision, and its health. */
export interface EdgeStanding {
  health: EdgeHealth;
  /** Revisions committed after the one it serves (all of them while it serves none). */
  behindRevisions: number;
  /** When the first revision it lacks was committed; null when it serves the newest. */
  behindSince: string | null;
  /** How long ago its last heartbeat was written (by the store's reader's clock). */
  heartbeatAgeMs: number;
}

/**
 * Whether the edge's heartbeat is recent: stopped at once when it wrote its farewell (a clean stop; its next start's heartbeat
 * clears it), silent after `silentHeartbeats` of its own intervals without one, gone after `goneMs`.
 */
export function edgeHeartbeat(edge: Pick<EdgeRecord, "lastSeenAt" | "heartbeatMs" | "stoppedAt">, now: Date): EdgeHeartbeat {
  const ageMs = now.getTime() - Date.parse(edge.lastSeenAt);
  if (ageMs > EDGE_HEALTH_DEFAULTS.goneMs) return "gone";
  if (edge.stoppedAt) return "stopped";
  if (ageMs > EDGE_HEALTH_DEFAULTS.silentHeartbeats * (edge.heartbeatMs ?? EDGE_HEALTH_DEFAULTS.heartbeatMs)) return "silent";
  return "live";
}

/**
 * The one health rule (GET /edges, `moat edge list`, and which edges an invalidation waits for): gone, then stopped, then
 * silent, by the heartbeat; a live edge is behind when the first revision it lacks was committed more than `maxLagMs` ago.
 * `commitTimes` holds the commit time of each revision an edge lacks first (its served revision + 1).
 */
export function edgeStanding(edge: EdgeRecord, fleet: { newest: number; commitTimes: ReadonlyMap<number, string> }, now: Date, maxLagMs: number = EDGE_HEALTH_DEFAULTS.maxLagMs): EdgeStanding {
  const heartbeatAgeMs = Math.max(0, now.getTime() - Date.parse(edge.lastSeenAt));
  const behindRevisions = Math.max(0, fleet.newest - (edge.revision ?? 0));
  const behindSince = behindRevisions > 0 ? (fleet.commitTimes.get((edge.revision ?? 0) + 1) ?? null) : null;
  const heartbeat = edgeHeartbeat(edge, now);
  const isLagging = behindSince !== null && now.getTime() - Date.parse(behindSince) > maxLagMs;
  const health: EdgeHealth = heartbeat !== "live" ? heartbeat : isLagging ? "behind" : "ok";
  return { health, behindRevisions, behindSince, heartbeatAgeMs };
}
