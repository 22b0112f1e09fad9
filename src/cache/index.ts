// The edge cache (RFC 9111, shared): keys, freshness, collapsed forwarding, stale serving, memory and disk tiers, invalidation, compression.

import type { CacheStorageConfig } from "../config/index.ts";
import type { Logger } from "../observe/index.ts";
import { cacheStatusHeaders } from "./cache-status.ts";
import { createCacheStore } from "./cache-store.ts";
import { systemClock } from "./clock.ts";
import type { Clock } from "./clock.ts";
import { createCollapser } from "./collapse.ts";
import { openDiskTier } from "./disk-tier.ts";
import type { DiskHealthEvent, DiskLoadReport, DiskTierOptions } from "./disk-tier.ts";
import { primaryKeyOf, serveThroughCache } from "./edge-cache.ts";
import { createUncacheableKeys } from "./uncacheable-keys.ts";
import type { CacheExchange } from "./exchange.ts";
import { applyInvalidations, createInvalidationRules, watchInvalidations } from "./invalidations.ts";
import type { NumberedInvalidation } from "./invalidations.ts";
import { createMemoryTier } from "./memory-tier.ts";

export type { CacheExchange, OriginAnswer } from "./exchange.ts";
export type { Clock } from "./clock.ts";
export type { BeforeBatch, DiskLoadReport } from "./disk-tier.ts";
export { systemClock } from "./clock.ts";
export { afterUpstream, cacheStatusHeaders, DEFAULT_CACHE_STATUS_NAME } from "./cache-status.ts";
export { appendInvalidation, appliedInvalidations, invalidationPathProblem, invalidationRequestIssues, INVALIDATION_FILES, readInvalidations, writeAppliedInvalidations } from "./invalidations.ts";
export type { AppliedInvalidations, NumberedInvalidation } from "./invalidations.ts";
export { createDeletionRelay } from "./relayed-deletions.ts";
export type { DeletionBatch, DeletionRelay } from "./relayed-deletions.ts";

export interface EdgeCache {
  /**
   * Serves a GET or HEAD: from the cache when it may, else from the origin (storing what it may).
   * Gives fields for the access log: as they are when a fresh entry in memory was written whole at once (no
   * promise to wait for), else in a promise. OriginFailureError (thrown or a rejection) when no stale response covers a failure.
   */
  serve(exchange: CacheExchange): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Cache-Status and X-Cache for a response that did not go through the cache (other methods, caching off). */
  passHeaders(reason: "method" | "bypass", cacheStatusName?: string): Record<string, string>;
  /**
   * RFC 9111 §4.4: after a non-error response to an unsafe method, the stored responses for the target
   * URI and for its Location and Content-Location (same host) are invalidated.
   */
  invalidateAfterUnsafe(exchange: Omit<CacheExchange, "res" | "fetchOrigin" | "viewerHeaders" | "originHeaders">, status: number, responseHeaders: Record<string, string | string[] | undefined>): Promise<void>;
  /**
   * Deletes primary keys that a peer deleted (its batch, relayed by the primary), without telling anyone again: from the
   * memory tier and the fills in progress before it returns (the peer may be told at once), from the disk tier when the
   * promise resolves (the peer has deleted the entry there already; this catches variants only this process knew).
   */
  dropRelayed(primaryKeys: readonly string[]): Promise<void>;
  stats(): { memoryBytes: number; memoryEntries: number; diskBytes: number; diskEntries: number };
  /** Resolves when the disk index has finished loading in the background (at once without a disk tier). */
  readonly diskLoaded: Promise<DiskLoadReport | null>;
  /**
   * Applies invalidations a store delivered (through the primary, under workers): the same applier as the file's.
   * Only for a cache opened with `invalidationsFrom: "store"`; the file's are read by the cache itself.
   */
  applyInvalidations(requests: readonly NumberedInvalidation[]): void;
  /** Stops watching invalidations and ends the disk index loader; nothing is written by it afterwards. */
  stop(): Promise<void>;
}

export interface EdgeCacheOptions {
  storage: CacheStorageConfig;
  /** Where `moat cache invalidate` writes invalidations (`<dataDir>/invalidations/`). */
  dataDir: string;
  /**
   * Run from a store, invalidations come from it (every one it holds at start here, later ones by applyInvalidations)
   * and the data directory's file is not watched: two sources would number them two ways.
   */
  storeInvalidations?: readonly NumberedInvalidation[];
  log: Logger;
  clock?: Clock;
  /** Passed to the disk tier: tests pause its background loader here. */
  beforeDiskBatch?: DiskTierOptions["beforeBatch"];
  /** Passed to the disk tier: each worker of a group writes its temporary files in a directory of its own. */
  diskTmpDirName?: DiskTierOptions["tmpDirName"];
  /** Passed to the disk tier: the workers of a group share its directory and its byte bound. */
  diskSharers?: DiskTierOptions["sharers"];
  /** The other processes with a memory tier over the same disk tier (a worker's siblings), reached through its primary. */
  peers?: CachePeers;
}

/** How a worker's cache reaches its siblings: its deletions go to them, and the invalidations it applied to its primary. */
export interface CachePeers {
  /** Tells the peers these primary keys were deleted here; resolves once they have deleted them too, or were given up on. */
  deleted(primaryKeys: readonly string[]): Promise<void>;
  /** This process has applied the invalidations up to `mark` (it then writes no applied.json: its primary does, for all). */
  invalidationsApplied(mark: number): void;
}

/**
 * Opens the cache's tiers and starts watching for invalidations. The disk index loads in the background
 * (`diskLoaded`; logged as "cache disk index loaded"): until an entry is loaded, its requests are misses.
 * @example
 * const cache = await createEdgeCache({ storage: config.cache, dataDir: config.dataDir, log });
 * const fields = await cache.serve(exchange);
 */
export async function createEdgeCache(options: EdgeCacheOptions): Promise<EdgeCache> {
  const { storage, log } = options;
  const memory = createMemoryTier({ maxBytes: storage.memory.maxBytes, maxObjectBytes: storage.memory.maxObjectBytes });
  const disk = storage.disk
    ? await openDiskTier({
        dir: storage.disk.dir,
        maxBytes: storage.disk.maxBytes,
        onDrop: (file, reason) => log.warn({ file, reason }, "dropped a damaged cache entry"),
        beforeBatch: options.beforeDiskBatch,
        tmpDirName: options.diskTmpDirName,
        sharers: options.diskSharers,
        onHealth: (event) => logDiskHealth(log, event),
        nowMs: () => (options.clock ?? systemClock).now(),
      })
    : null;
  const store = createCacheStore({ memory, disk, maxObjectBytes: storage.maxObjectBytes, memoryMaxObjectBytes: storage.memory.maxObjectBytes, onDeleted: options.peers?.deleted });
  const rules = createInvalidationRules();
  const applier = { rules, log, onApplied: options.peers?.invalidationsApplied };
  const watcher = options.storeInvalidations
    ? (applyInvalidations(applier, options.storeInvalidations), { stop: () => {} })
    : await watchInvalidations({ dataDir: options.dataDir, ...applier });
  const collapser = createCollapser(storage.collapseTimeoutMs);
  const parts = { storage, store, collapser, uncacheable: createUncacheableKeys(), rules, clock: options.clock ?? systemClock, log };
  log.info({ ...store.stats(), disk: storage.disk?.dir ?? null, invalidations: rules.mark }, "cache opened");
  const diskLoaded = disk ? disk.loaded.then((report) => (logDiskLoad(log, report), report)) : Promise.resolve(null);

  return {
    serve: (exchange) => serveThroughCache(parts, exchange),
    passHeaders: (reason, name) => cacheStatusHeaders({ isHit: false, fwd: reason }, name),
    async invalidateAfterUnsafe(x, status, headers) {
      if (status < 200 || status >= 400) return;
      const targets = [{ pathname: x.pathname, query: x.query }, ...sameHostTargets(x.viewerHost, x.pathname, [headers.location, headers["content-location"]])];
      // Together, so that under workers the keys reach the others in one message (and one wait).
      await Promise.all(
        targets.map((target) => {
          // One primary key per target: its encoded variants are Vary records under it (see primaryKeyOf).
          const key = primaryKeyOf(x, target.pathname, target.query);
          collapser.abandon(key);
          return store.deletePrimary(key);
        }),
      );
    },
    async dropRelayed(primaryKeys) {
      const deletions = primaryKeys.map((key) => {
        // A fill that started before the peer's unsafe request may carry the answer from before it: it is not stored.
        collapser.abandon(key);
        return store.deletePrimary(key, "here");
      });
      await Promise.all(deletions);
    },
    stats: () => store.stats(),
    applyInvalidations: (requests) => void applyInvalidations(applier, requests),
    diskLoaded,
    async stop() {
      watcher.stop();
      await disk?.close();
      await diskLoaded;
    },
  };
}

/** One line when the background load ends: the message is stable (operators and tests wait for it). */
function logDiskLoad(log: Logger, report: DiskLoadReport): void {
  const fields = { entries: report.entries, bytes: report.bytes, ms: report.ms, dropped: report.dropped };
  if (report.outcome === "complete") log.info(fields, "cache disk index loaded");
  else if (report.outcome === "stopped") log.info(fields, "cache disk index load stopped (the edge is stopping)");
  else log.error({ ...fields, error: { message: report.error } }, "cache disk index load failed: entries not loaded are misses and stay on disk until the next start");
}

/** Once per change of the disk tier's health: the messages are stable (operators alert on them). */
function logDiskHealth(log: Logger, event: DiskHealthEvent): void {
  if (event.state === "recovered") return log.info({ dir: event.dir, degradedForMs: event.degradedForMs }, "cache disk tier recovered");
  const { dir, path, errno, fix, retryInMs } = event;
  log.error({ dir, path, errno, fix, retryInMs, error: { message: event.message } }, "cache disk tier degraded: fills are not stored on disk until a write succeeds");
}

/** RFC 9111 §4.4: Location and Content-Location are invalidated only when their host is the request's. */
function sameHostTargets(viewerHost: string, pathname: string, values: (string | string[] | undefined)[]): { pathname: string; query: string }[] {
  const base = `https://${viewerHost}${pathname}`;
  const targets: { pathname: string; query: string }[] = [];
  for (const value of values) {
    if (typeof value !== "string") continue;
    try {
      const url = new URL(value, base);
      if (url.host === new URL(base).host) targets.push({ pathname: url.pathname, query: url.search.slice(1) });
    } catch {
      // Not a URL: nothing to invalidate.
    }
  }
  return targets;
}
