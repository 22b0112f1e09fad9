// The traffic page's arithmetic: per distribution, between two reads of the edge's counters, requests per second, the share served from the cache, origin failures by cause.
import type { Traffic } from "../api/types.ts";

/** Served from the cache, by the access log's cache field: hit, hit-collapsed…, stale, stale-if-error…, revalidated (a 304 from the origin). */
const isHit = (result: string) => result.startsWith("hit") || result.startsWith("stale") || result === "revalidated";
/** Not through the cache at all: left out of the ratio. */
const isOutsideCache = (result: string) => result === "none" || result === "bypass";

export type Row = Traffic["distributions"][number];

export interface Point {
  at: number;
  rows: ReadonlyMap<string, Row>;
}

/** Per distribution, between two reads: requests per second, the share served from the cache, origin failures by cause. */
export function rates(before: Point, after: Point) {
  const seconds = Math.max((after.at - before.at) / 1000, 0.001);
  return [...after.rows.values()].map((row) => {
    const earlier = before.rows.get(row.distribution);
    const delta = (now: Record<string, number>, then: Record<string, number> | undefined, key: string) => (now[key] ?? 0) - (then?.[key] ?? 0);
    const requests = row.requests - (earlier?.requests ?? 0);
    const hits = Object.keys(row.cache).filter(isHit).reduce((sum, key) => sum + delta(row.cache, earlier?.cache, key), 0);
    const cacheable = Object.keys(row.cache).filter((key) => !isOutsideCache(key)).reduce((sum, key) => sum + delta(row.cache, earlier?.cache, key), 0);
    const failures = Object.fromEntries(Object.keys(row.originFailures).map((cause) => [cause, delta(row.originFailures, earlier?.originFailures, cause)]));
    return { distribution: row.distribution, rps: requests / seconds, hitRatio: cacheable > 0 ? hits / cacheable : undefined, failures };
  });
}

