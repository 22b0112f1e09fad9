// What the edge tells its metrics, through the process's one recorder: undefined, and never called, unless metrics are on.
// No prom-client here: this file is loaded by every edge; the recorder behind it (metrics-registry.ts) only when metrics are on.

/** How a request reached its origin: a new connection with a full TLS handshake, one that resumed a TLS session, or a keep-alive connection used again. */
export type OriginConnectionKind = "full" | "resumed" | "reused";

/** A certificate the running snapshot serves, presents or trusts, for its not-after gauge. */
export interface CertificateInUse {
  /** The distribution it belongs to; "" for the CA's. */
  distribution: string;
  /** The origin it is presented to; "" for a viewer certificate and the CA's. */
  origin: string;
  role: "viewer-server" | "origin-client" | "ca-root" | "ca-intermediate";
  serialHex: string;
  notAfter: Date;
}

/** An origin pool's connections and requests now (undici's PoolStats). */
export interface OriginPoolStats {
  connected: number;
  free: number;
  pending: number;
  running: number;
}

/** What a scrape reads from the running edge, when it happens (never per request). */
export interface EdgeMetricsSources {
  cacheStats?(): { memoryBytes: number; memoryEntries: number; diskBytes: number; diskEntries: number };
  /** Workers share the disk tier: only one of them reports it, or it would count once per worker. */
  reportsDiskTier: boolean;
  originPools?(): Iterable<{ distribution: string; origin: string; stats: OriginPoolStats | null }>;
}

export interface EdgeMetrics {
  /**
   * One request answered: its distribution ("" when it matched none), status, cache result (the access log's `cache`,
   * "none" when it did not go through the cache) and seconds from its start. Runs per request: plain counters, no label objects.
   */
  request(distribution: string, status: number, cache: string, seconds: number): void;
  /** A new origin connection (its handshake full or resumed), or a request written on a reused one. */
  originConnection(distribution: string, origin: string, kind: OriginConnectionKind): void;
  /** An origin request that failed, by its Moat code (origin-cert-untrusted, origin-connect-timeout…). */
  originFailure(distribution: string, origin: string, cause: string): void;
  /** A renewal of issued certificates (`certificate`) or a step of the CA's rotation (`ca`) that succeeded or failed. */
  rotation(what: "certificate" | "ca", outcome: "succeeded" | "failed"): void;
  /** A snapshot went live (at start and on each swap): its generation, and the certificates it uses, which replace the earlier ones. */
  snapshotApplied(generation: number, certificates: readonly CertificateInUse[]): void;
  /** A rebuild (reload, renewal, rotation, a changed file) was refused: the running snapshot stays. */
  snapshotFailed(): void;
  /** Where a scrape reads the cache and the origin pools. */
  watch(sources: EdgeMetricsSources): void;
}

/** The process's recorder; set once at start by `moat start` when metrics are on. Read it where it is used: it is a live binding. */
export let edgeMetrics: EdgeMetrics | undefined;

export function installEdgeMetrics(metrics: EdgeMetrics | undefined): void {
  edgeMetrics = metrics;
}
