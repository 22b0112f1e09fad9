// A store as the edge's config source: each new revision read, validated and built like a file; an outage logged once while the last good snapshot serves.
import { loadConfigDocument } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { StoreEmptyError, StoreUnavailableError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
import type { ConfigStore } from "../store/index.ts";
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
  store: ConfigStore;
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
 * @example
 * const source = createStoreConfigSource({ store });
 * const config = await source.load(); // the newest revision, as loadConfigFile would give a file
 */
export function createStoreConfigSource(options: StoreConfigSourceOptions): ConfigSource {
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
    isReported: (error) => typeof error === "object" && error !== null && reported.has(error),
    async close() {
      stopWatching();
      await polling;
      await store.close();
    },
  };
}
