// The normalised cache settings: the edge's storage tiers and compression, and each behavior's cache policy.

/** What goes into a behavior's cache key besides the distribution and the path. */
export interface CacheKeyConfig {
  /** "none": the query string is ignored; "all": the whole query (sorted); or only these parameter names (sorted). */
  readonly query: "none" | "all" | readonly string[];
  /** Request header names (lowercased) whose values are part of the key. */
  readonly headers: readonly string[];
  /** Cookie names whose values are part of the key. */
  readonly cookies: readonly string[];
}

/** A behavior's cache policy, CloudFront style. `enabled: false` passes every request to the origin. */
export interface CachePolicyConfig {
  readonly enabled: boolean;
  readonly minTtlMs: number;
  /** Freshness for a response that states none; null: RFC 9111 heuristics (Last-Modified) decide. */
  readonly defaultTtlMs: number | null;
  readonly maxTtlMs: number;
  /** true: the origin's Cache-Control/Expires set the TTL (clamped to min..max); false: defaultTtl always. */
  readonly honorOriginTtl: boolean;
  readonly key: CacheKeyConfig;
  /** Compress compressible responses for viewers that accept gzip or br. */
  readonly compress: boolean;
}

export interface CompressionConfig {
  /** Encodings offered, in order of preference. */
  readonly encodings: readonly ("br" | "gzip")[];
  /** Media types (lowercased, without parameters) that are compressed; "text/*" matches every text type. */
  readonly types: readonly string[];
  /** Bodies whose Content-Length is below this are sent as they are. */
  readonly minBytes: number;
}

/** The edge's cache storage: read at start (a change needs a restart). */
export interface CacheStorageConfig {
  readonly memory: { readonly maxBytes: number; readonly maxObjectBytes: number };
  /** null: no disk tier. */
  readonly disk: { readonly dir: string; readonly maxBytes: number } | null;
  /** Larger responses are streamed to viewers without being stored. */
  readonly maxObjectBytes: number;
  /** How long a request waits for an identical request already on its way to the origin. */
  readonly collapseTimeoutMs: number;
  readonly compression: CompressionConfig;
}
