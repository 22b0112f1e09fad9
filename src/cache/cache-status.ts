// The Cache-Status (RFC 9211) and X-Cache fields the edge puts on every response.

/** RFC 9211 §2.2: why the request went forward to the origin (the `fwd` parameter); docs/reference/headers.md is generated from this list. */
export const FORWARD_REASONS = {
  "uri-miss": "the cache holds nothing for this URL (or the entry may not serve this request)",
  "vary-miss": "the cache holds the URL, but not for these request headers (Vary)",
  stale: "the stored response is stale and went to the origin to be revalidated",
  method: "an unsafe method (POST, PUT, PATCH, DELETE…): never served from the cache",
  bypass: "the behavior says cache: off",
  request: "not sent by Moat: viewer request directives (no-cache, max-age=0, Pragma) are ignored",
} as const;

export type ForwardReason = keyof typeof FORWARD_REASONS;

/** The `detail` values the cache sets itself (an edge error's detail is its Moat-Error code), read by the generated reference. */
export const CACHE_STATUS_DETAILS = {
  storing: "a miss the cache is storing as it streams (it never says `stored`: the body has not arrived when the headers go out)",
  "stale-while-revalidate": "served stale at once, refreshed in the background",
  "stale-if-error": "served stale because the origin failed (a connection failure or a 5xx)",
  "collapse-timeout": "waited collapseTimeout for an identical request's headers, then went to the origin itself",
  "too-large": "not stored: larger than maxObjectSize",
  "no-store": "not stored: Cache-Control no-store",
  private: "not stored: Cache-Control private",
  "set-cookie": "not stored: the response sets a cookie",
  authorization: "not stored: the request had Authorization and the response is not public, s-maxage or must-revalidate",
  "vary-star": "not stored: Vary: *",
  "must-understand": "not stored: must-understand with a status the cache does not implement",
  "no-freshness": "not stored: no lifetime and no validator to revalidate it with",
  "status <code>": "not stored: a status the cache does not store (1xx, 206, 304)",
} as const;

/** The Cache-Status identifier when the edge gives none (src/edge/pipeline/cache-status-name.ts makes each edge's). */
export const DEFAULT_CACHE_STATUS_NAME = "moat";

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
 * `name` is this cache's identifier (RFC 9211 §2). X-Cache keeps CloudFront's fixed wording.
 * @example
 * cacheStatusHeaders({ isHit: true, ttlS: 42 }, "moat");
 * // { "cache-status": "moat; hit; ttl=42", "x-cache": "Hit from moat" }
 */
export function cacheStatusHeaders(facts: CacheStatusFacts, name: string = DEFAULT_CACHE_STATUS_NAME): { "cache-status": string; "x-cache": string } {
  let value = name;
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

/**
 * RFC 9211 §2: the field lists the caches from the origin towards the viewer, each adding its entry after those before
 * it. Behind an origin shield, the shield's entry comes first, then this edge's.
 * @example
 * afterUpstream("moat-shield; hit; ttl=60", "moat; fwd=uri-miss; fwd-status=200"); // "moat-shield; hit; ttl=60, moat; fwd=uri-miss; fwd-status=200"
 */
export function afterUpstream(upstream: string | string[] | undefined, ours: string): string {
  if (upstream === undefined || upstream.length === 0) return ours;
  return `${Array.isArray(upstream) ? upstream.join(", ") : upstream}, ${ours}`;
}
