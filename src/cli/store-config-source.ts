// A store as the edge's config source: each new revision read, validated and built like a file; an outage logged once while the last good snapshot serves.
import { loadConfigDocument } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { StoreEmptyError, StoreUnavailableError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
import type { NumberedInvalidation } from "../cache/index.ts";
import type { ConfigStore, InvalidationStore } from "../store/index.ts";
import type { ConfigSource } from "./config-source.ts";

export const STORE_POLL_DEFAULTS = Object.freeze({
  /** How often the primary asks the store for its revision (a fleet will be told by LISTEN/NOTIFY instead). */
  intervalMs: 1_000,
  /** The revision query: one row, one index. */
  revisionDeadlineMs: 5_000,
  /** The whole document (every distribution), at one revision. */
  readDeadlineMs: 30_000,
});

export interface StoreConfigSourceOptions {
  store: ConfigStore & { readonly invalidations?: InvalidationStore };
  /** The data directory the store address named (`--store /var/lib/moat`): the edge's dataDir unless the stored document sets one. */
  dataDir?: string;
  intervalMs?: number;
  revisionDeadlineMs?: number;
  readDeadlineMs?: number;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The store's cache invalidations, for the edge: read whole at start, then each poll delivers the new ones (by
 * increasing id) to the one applier (alone: the cache's; under workers: the primary sends them to every worker),
 * and records up to where this edge (every worker of it) has applied them.
 */
export interface StoreInvalidationFeed {
  /** Every invalidation the store holds, oldest first: the cache opens with them. Later polls deliver only newer ones. */
  initialInvalidations(): Promise<NumberedInvalidation[]>;
  /** Where later invalidations go, and the name this edge records them under; before it is called, none is delivered. */
  feedInvalidations(target: { edge: string; deliver(requests: readonly NumberedInvalidation[]): void }): void;
  /** This edge has applied every invalidation up to `mark`, on every worker: recorded now, or at the next poll if the store is out. */
  invalidationsApplied(mark: number): void;
}

// Read in pages at start: a store keeps every invalidation, and one answer must stay bounded.
const INVALIDATION_PAGE = 1_000;

/**
 * @example
 * const source = createStoreConfigSource({ store });
 * const config = await source.load(); // the newest revision, as loadConfigFile would give a file
 */
export function createStoreConfigSource(options: StoreConfigSourceOptions): ConfigSource & StoreInvalidationFeed {
  const { store } = options;
  // Set by watch: until then (the first load, at start) a failure ends the start and needs no log line.
  let log: Logger | undefined;
  const intervalMs = options.intervalMs ?? STORE_POLL_DEFAULTS.intervalMs;
  // The revision last read (built or refused): a refused revision is not read again at every poll, only when a newer one lands (or on SIGHUP).
  let readRevision: number | undefined;
  let isOut = false;
  const reported = new WeakSet<object>();
  // MOAT_DATA_DIR's place in the order of config/data-dir.ts: the document's dataDir wins over the store's directory.
  const env = options.dataDir === undefined ? process.env : { ...process.env, MOAT_DATA_DIR: options.dataDir };

  async function reach<T>(what: string, query: () => Promise<T>, deadlineMs: number): Promise<T> {
    try {
      const value = await withDeadline(query(), deadlineMs, what);
      if (isOut) log?.info({ store: store.label }, "store reachable again");
      isOut = false;
      return value;
    } catch (error) {
      const unavailable =
        error instanceof StoreUnavailableError
          ? error
          : new StoreUnavailableError(store.label, `${what}: ${(error as Error).message}`, {
              fix: "the edge keeps serving its last good snapshot; check that the store is up and reachable",
              cause: error,
            });
      if (!isOut) log?.error({ store: store.label, error: { code: unavailable.code, message: unavailable.message } }, "store unreachable; serving the last good snapshot until it answers");
      isOut = true;
      reported.add(unavailable);
      throw unavailable;
    }
  }

  // The invalidations: the last id seen, where new ones go, and this edge's applied mark (reported, recorded).
  let seenSeq = 0;
  let target: { edge: string; deliver(requests: readonly NumberedInvalidation[]): void } | undefined;
  let appliedMark = 0;
  let recordedMark = 0;
  let recording: Promise<void> = Promise.resolve();

  async function readInvalidationsSince(afterSeq: number): Promise<NumberedInvalidation[]> {
    const all: NumberedInvalidation[] = [];
    for (;;) {
      const after = all.at(-1)?.seq ?? afterSeq;
      const page = await reach("reading the store's cache invalidations", () => store.invalidations!.since(after, INVALIDATION_PAGE), options.revisionDeadlineMs ?? STORE_POLL_DEFAULTS.revisionDeadlineMs);
      all.push(...page);
      if (page.length < INVALIDATION_PAGE) break;
    }
    return all;
  }

  /** Delivers what is new, then records what was applied; queued, so that two never run at once. */
  function followInvalidations(): Promise<void> {
    const run = recording.then(async () => {
      if (!target || !store.invalidations) return;
      const fresh = await readInvalidationsSince(seenSeq);
      if (fresh.length > 0) {
        seenSeq = fresh.at(-1)!.seq;
        target.deliver(fresh);
      }
      await recordApplied();
    });
    recording = run.catch(() => undefined);
    return run;
  }

  async function recordApplied(): Promise<void> {
    if (!target || !store.invalidations || appliedMark <= recordedMark) return;
    const mark = appliedMark;
    const edge = target.edge;
    await reach("recording the applied cache invalidations", () => store.invalidations!.markApplied(edge, mark, new Date()), options.revisionDeadlineMs ?? STORE_POLL_DEFAULTS.revisionDeadlineMs);
    recordedMark = Math.max(recordedMark, mark);
  }

  let stopWatching = () => {};
  let polling: Promise<void> = Promise.resolve();
  return {
    describe: () => ({ store: store.label, revision: readRevision }),
    async load(): Promise<MoatConfig> {
      const read = await reach("reading the store", () => store.read(), options.readDeadlineMs ?? STORE_POLL_DEFAULTS.readDeadlineMs);
      readRevision = read.revision;
      if (read.revision === 0) throw new StoreEmptyError(store.label);
      // Paths are absolute in a stored document (refused otherwise), so no directory is needed to resolve them.
      return loadConfigDocument(read.document, { source: `${store.label} revision ${read.revision}`, baseDir: "/", env, isStored: true });
    },
    watch(changed, logger) {
      log = logger;
      let timer: NodeJS.Timeout | undefined;
      let isStopped = false;
      const poll = async () => {
        try {
          const revision = await reach("asking the store for its revision", () => store.revision(), options.revisionDeadlineMs ?? STORE_POLL_DEFAULTS.revisionDeadlineMs);
          // A stop that came while the query ran: no reload of an edge that is draining.
          if (revision !== readRevision && !isStopped) await changed(`store revision ${revision}`);
          if (!isStopped) await followInvalidations();
        } catch {
          // reach logged the outage (once); the next poll tries again.
        }
        if (!isStopped) timer = setTimeout(() => (polling = poll()), intervalMs);
      };
      timer = setTimeout(() => (polling = poll()), intervalMs);
      stopWatching = () => {
        isStopped = true;
        clearTimeout(timer);
      };
      return stopWatching;
    },
    async initialInvalidations() {
      if (!store.invalidations) return [];
      const all = await readInvalidationsSince(0);
      seenSeq = all.at(-1)?.seq ?? 0;
      return all;
    },
    feedInvalidations(next) {
      target = next;
    },
    invalidationsApplied(mark) {
      appliedMark = Math.max(appliedMark, mark);
      // At once, so that a status read soon after says applied; a failure (logged once by reach) is retried at the next poll.
      recording = recording.then(recordApplied).catch(() => undefined);
    },
    isReported: (error) => typeof error === "object" && error !== null && reported.has(error),
    async close() {
      stopWatching();
      await polling;
      await recording.catch(() => undefined);
      await store.close();
    },
  };
}
