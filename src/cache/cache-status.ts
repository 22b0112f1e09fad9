// The Cache-Status (RFC 9211) and X-Cache fields the edge puts on every response.

/** RFC 9211 §2.2: why the request went forward to the origin. */
export type ForwardReason = "uri-miss" | "vary-miss" | "stale" | "method" | "bypass" | "request";

export interface CacheStatusFacts {
  isHit: boolean;
  fwd?: ForwardReason;
  /** The status the origin answered a forwarded request with. */
  fwdStatus?: number;
  /** Remaining freshness in seconds (negative when stale), for a response served from the cache. */
  ttlS?: number;
  isStored?: boolean;
  isCollapsed?: boolean;
  detail?: string;
}

/**
 * @example
 * cacheStatusHeaders({ isHit: true, ttlS: 42 });
 * // { "cache-status": "moat; hit; ttl=42", "x-cache": "Hit from moat" }
 */
export function cacheStatusHeaders(facts: CacheStatusFacts): { "cache-status": string; "x-cache": string } {
  let value = "moat";
  if (facts.isHit) value += "; hit";
  if (facts.fwd) value += `; fwd=${facts.fwd}`;
  if (facts.fwdStatus !== undefined) value += `; fwd-status=${facts.fwdStatus}`;
  if (facts.ttlS !== undefined) value += `; ttl=${Math.floor(facts.ttlS)}`;
  if (facts.isStored) value += "; stored";
  if (facts.isCollapsed) value += "; collapsed";
  if (facts.detail) value += `; detail=${facts.detail}`;
  return { "cache-status": value, "x-cache": xCache(facts) };
}

// CloudFront's vocabulary: Hit, RefreshHit (revalidated with a 304), Miss.
function xCache(facts: CacheStatusFacts): string {
  if (facts.isHit) return "Hit from moat";
  if (facts.fwd === "stale" && facts.fwdStatus === 304) return "RefreshHit from moat";
  return "Miss from moat";
}
