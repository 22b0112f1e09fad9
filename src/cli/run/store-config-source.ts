// A store as the edge's config source: each new revision read (at once when the store notifies it, else at a poll), validated and built like a file; an outage logged once while the last good snapshot (or, after a restart, the local copy) serves.
import { loadConfigDocument } from "../../config/index.ts";
import type { MoatConfig } from "../../config/index.ts";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { StoreEmptyError, StoreUnavailableError, StoreUnreachableAtStartError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";
import type { NumberedInvalidation } from "../../cache/index.ts";
import { writeFileAtomic } from "../../pki/index.ts";
import { MOAT_VERSION } from "../../observe/index.ts";
import { backoffDelay } from "../../store/index.ts";
import type { ChangeSignalOptions, ChangeSignals, ConfigStore, EdgeCaTrust, EdgeStore, InvalidationStore } from "../../store/index.ts";
import type { ConfigSource } from "./config-source.ts";

export const STORE_POLL_DEFAULTS = Object.freeze({
  /** How often the edge asks the store for its revision while no notification stream is live (SQLite; PostgreSQL while LISTEN is down). */
  intervalMs: 1_000,
  /** The fallback poll while PostgreSQL's LISTEN is live: a notification is what normally brings a change. */
  liveIntervalMs: 5_000,
  /** While the store is out, polls back off from `intervalMs` to this (with jitter). */
  outageMaxMs: 10_000,
  /** The revision query: one row, one index. */
  revisionDeadlineMs: 5_000,
  /** The whole document (every distribution), at one revision. */
  readDeadlineMs: 30_000,
  /** At start: how long the store has to answer before the edge starts from its local copy instead. */
  startDeadlineMs: 10_000,
  /** How often the edge writes its heartbeat (and the revision it serves) to the store's `edges` table. */
  heartbeatMs: 10_000,
});

/** The variable that sets the fallback poll while LISTEN is live, in ms (tests set it long, to prove a notification did the work). */
export const FALLBACK_POLL_ENV = "MOAT_STORE_FALLBACK_POLL_MS";

/** The variable that sets the heartbeat interval in ms (at least 1000): tests shorten it to see an edge turn silent within seconds. */
export const HEARTBEAT_ENV = "MOAT_EDGE_HEARTBEAT_MS";

/** The local copy of the last revision served, in the edge's data directory: what it starts from when the store is down. */
export const LOCAL_COPY_FILE = "store-copy.json";

/** How long a clean stop waits for its farewell to be written: a store that does not answer must not hold the stop. */
export const FAREWELL_DEADLINE_MS = 2_000;

/** What the source needs of a store: the config, and where present its invalidations, edge rows and change signals (openStore's Store has them all). */
export type SourceStore = ConfigStore & { readonly invalidations?: InvalidationStore; readonly edges?: EdgeStore; changeSignals?(options: ChangeSignalOptions): ChangeSignals };

export interface StoreConfigSourceOptions {
  /** The open store; absent when it could not be reached at start (see openStoreConfigSource): `open` is then retried with backoff. */
  store?: SourceStore;
  open?: () => Promise<SourceStore>;
  /** How messages name the store (the store's own label once it is open). */
  label?: string;
  /** Why the store could not be opened at start (when `store` is absent). */
  unreachable?: Error;
  /** The data directory the store address named (`--store /var/lib/moat`): the edge's dataDir unless the stored document sets one. */
  dataDir?: string;
  /** A joined edge's own data directory (`moat edge join --data-dir`): it wins over the document's dataDir, which names the CA node's. */
  ownDataDir?: string;
  /** The file this edge keeps its local copy in; none kept without it. */
  localCopy?: string;
  /** The name this edge reports under in the store's `edges` table; no row without it. */
  edge?: string;
  /** The region it reports (`moat start --region`); none without it. */
  region?: string;
  intervalMs?: number;
  liveIntervalMs?: number;
  outageMaxMs?: number;
  revisionDeadlineMs?: number;
  readDeadlineMs?: number;
  heartbeatMs?: number;
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
  /** The CA this edge uses now (after a swap onto a new bundle): written to its `edges` row at once, and with every heartbeat. */
  caInUse(trust: EdgeCaTrust): void;
}

// Read in pages at start: a store keeps every invalidation, and one answer must stay bounded.
const INVALIDATION_PAGE = 1_000;

/** The local copy's content: the document as the store held it, the revision, and which store it came from. */
interface LocalCopy {
  format: "moat-store-copy-1";
  store: string;
  revision: number;
  savedAt: string;
  document: Record<string, unknown>;
}

/** The local copy the edge finds at `file`, or why it cannot stand in for the store `label`. */
async function readLocalCopy(file: string, label: string): Promise<LocalCopy | { problem: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return { problem: (error as NodeJS.ErrnoException).code === "ENOENT" ? "there is none (this edge has not served from the store here yet)" : (error as Error).message };
  }
  let copy: Partial<LocalCopy>;
  try {
    copy = JSON.parse(text) as Partial<LocalCopy>;
  } catch {
    return { problem: "it is not JSON (remove it; the edge writes a new one after its next swap)" };
  }
  if (copy.format !== "moat-store-copy-1" || !Number.isInteger(copy.revision) || typeof copy.document !== "object" || copy.document === null) {
    return { problem: "it is not a Moat local copy (remove it; the edge writes a new one after its next swap)" };
  }
  if (copy.store !== label) return { problem: `it is a copy of the store ${String(copy.store)}, not of this one` };
  return copy as LocalCopy;
}

/**
 * Opens the store within `startDeadlineMs`; when it cannot be reached, the source starts from the local copy (its
 * load() serves that, and watch() keeps trying the store). Any other failure (a store a newer Moat migrated) ends the start.
 * @example
 * const { source, store } = await openStoreConfigSource({ open: () => openStore({ address, validate }), label, localCopy, edge: "edge-1" });
 */
export async function openStoreConfigSource<S extends SourceStore>(
  options: Omit<StoreConfigSourceOptions, "store" | "unreachable" | "open"> & { open: () => Promise<S>; label: string; startDeadlineMs?: number },
): Promise<{ source: ConfigSource & StoreInvalidationFeed; store?: S }> {
  const opening = options.open();
  try {
    const store = await withDeadline(opening, options.startDeadlineMs ?? STORE_POLL_DEFAULTS.startDeadlineMs, "opening the store");
    return { source: createStoreConfigSource({ ...options, store }), store };
  } catch (error) {
    if (!(error instanceof StoreUnavailableError) && !/took longer than/.test((error as Error).message)) throw error;
    // One that opens after its deadline is closed: the source opens its own when it retries.
    void opening.then((late) => late.close()).catch(() => undefined);
    return { source: createStoreConfigSource({ ...options, unreachable: error as Error }) };
  }
}

/**
 * @example
 * const source = createStoreConfigSource({ store });
 * const config = await source.load(); // the newest revision, as loadConfigFile would give a file
 */
export function createStoreConfigSource(options: StoreConfigSourceOptions): ConfigSource & StoreInvalidationFeed {
  let store = options.store;
  const label = store?.label ?? options.label ?? "(the store)";
  // Set by watch: until then (the first load, at start) a failure ends the start and needs no log line.
  let log: Logger | undefined;
  const intervalMs = options.intervalMs ?? STORE_POLL_DEFAULTS.intervalMs;
  const liveIntervalMs = options.liveIntervalMs ?? STORE_POLL_DEFAULTS.liveIntervalMs;
  const revisionDeadlineMs = options.revisionDeadlineMs ?? STORE_POLL_DEFAULTS.revisionDeadlineMs;
  // The revision last read (built or refused): a refused revision is not read again at every poll, only when a newer one lands (or on SIGHUP).
  let readRevision: number | undefined;
  let isOut = false;
  const reported = new WeakSet<object>();
  // MOAT_DATA_DIR's place in the order of config/data-dir.ts: the document's dataDir wins over the store's directory.
  const env = options.dataDir === undefined ? process.env : { ...process.env, MOAT_DATA_DIR: options.dataDir };
  const ownDataDir = options.ownDataDir;
  const asServed = (document: Record<string, unknown>) => (ownDataDir === undefined ? document : { ...document, dataDir: ownDataDir });
  // The last document loaded (what served() marks as served), and what this edge serves since when.
  let loaded: { revision: number; document: Record<string, unknown>; isLocalCopy: boolean } | undefined;
  let served: { revision: number; at: string } | undefined;
  const startedAt = new Date().toISOString();
  let signals: ChangeSignals | undefined;
  let isClosed = false;

  function unavailable(what: string, error: unknown): StoreUnavailableError {
    return error instanceof StoreUnavailableError
      ? error
      : new StoreUnavailableError(label, `${what}: ${(error as Error).message}`, {
          fix: "the edge keeps serving its last good snapshot; check that the store is up and reachable",
          cause: error,
        });
  }

  function markOut(error: StoreUnavailableError): StoreUnavailableError {
    if (!isOut) log?.error({ store: label, error: { code: error.code, message: error.message } }, "store unreachable; serving the last good snapshot until it answers");
    isOut = true;
    reported.add(error);
    return error;
  }

  async function reach<T>(what: string, query: (store: SourceStore) => Promise<T>, deadlineMs: number): Promise<T> {
    const open = store;
    if (!open) throw markOut(unavailable(what, options.unreachable ?? new Error("not open yet")));
    try {
      const value = await withDeadline(query(open), deadlineMs, what);
      if (isOut) log?.info({ store: label }, "store reachable again");
      isOut = false;
      return value;
    } catch (error) {
      throw markOut(unavailable(what, error));
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
      const page = await reach("reading the store's cache invalidations", (open) => open.invalidations!.since(after, INVALIDATION_PAGE), revisionDeadlineMs);
      all.push(...page);
      if (page.length < INVALIDATION_PAGE) break;
    }
    return all;
  }

  /** Delivers what is new, then records what was applied; queued, so that two never run at once. */
  function followInvalidations(): Promise<void> {
    const run = recording.then(async () => {
      if (!target || !store?.invalidations) return;
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
    if (!target || !store?.invalidations || appliedMark <= recordedMark) return;
    const mark = appliedMark;
    const edge = target.edge;
    await reach("recording the applied cache invalidations", (open) => open.invalidations!.markApplied(edge, mark, new Date()), revisionDeadlineMs);
    recordedMark = Math.max(recordedMark, mark);
  }

  // The edge's row in the store (the revision it serves, its heartbeat) and its local copy: each written by one queue.
  const edgeName = () => options.edge ?? target?.edge;
  let caTrust: EdgeCaTrust | null = null;
  let reporting: Promise<void> = Promise.resolve();
  function reportEdge(): Promise<void> {
    const run = reporting.then(async () => {
      const name = edgeName();
      if (!name || !store?.edges) return;
      const record = {
        name,
        revision: served?.revision ?? null,
        servedAt: served?.at ?? null,
        lastSeenAt: new Date().toISOString(),
        startedAt,
        version: MOAT_VERSION,
        region: options.region ?? null,
        // The interval its health is judged by: silent after three of them without a heartbeat.
        heartbeatMs: options.heartbeatMs ?? STORE_POLL_DEFAULTS.heartbeatMs,
        // What a root rollover's fleet gate reads (store/ca-trust-gate.ts).
        caTrust,
      };
      await reach("recording the revision this edge serves", (open) => open.edges!.report(record), revisionDeadlineMs);
    });
    reporting = run.catch(() => undefined);
    return reporting;
  }

  let copyProblem: string | undefined;
  let copying: Promise<void> = Promise.resolve();
  function keepLocalCopy(copy: LocalCopy): void {
    const file = options.localCopy;
    if (!file) return;
    copying = copying.then(async () => {
      try {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        await writeFileAtomic(file, `${JSON.stringify(copy)}\n`, 0o600);
        copyProblem = undefined;
      } catch (error) {
        // Logged once per cause: the edge serves on; only a start with the store down needs the copy.
        if (copyProblem !== (error as Error).message) log?.warn({ file, error: { message: (error as Error).message } }, "cannot write the local copy of the revision served; a restart while the store is down would have none");
        copyProblem = (error as Error).message;
      }
    });
  }

  /** Why the store did not open at start, in the driver's words: the store's own error would repeat its name and a fix of its own. */
  function unreachableCause(): string {
    const unreachable = options.unreachable;
    if (unreachable === undefined) return "it did not answer";
    return unreachable instanceof StoreUnavailableError && unreachable.cause instanceof Error ? unreachable.cause.message : unreachable.message;
  }

  async function loadLocalCopy(): Promise<MoatConfig> {
    const file = options.localCopy ?? "(no local copy kept)";
    const copy = options.localCopy ? await readLocalCopy(options.localCopy, label) : { problem: "this edge keeps none" };
    const why = unreachableCause();
    if ("problem" in copy) throw new StoreUnreachableAtStartError(label, why, { file, problem: copy.problem });
    readRevision = copy.revision;
    loaded = { revision: copy.revision, document: copy.document, isLocalCopy: true };
    isOut = true;
    return loadConfigDocument(asServed(copy.document), { source: `${label} revision ${copy.revision} (local copy ${file})`, baseDir: "/", env, isStored: true });
  }

  let stopWatching = () => {};
  let polling: Promise<void> = Promise.resolve();
  return {
    describe: () => ({ store: label, revision: readRevision }),
    async load(): Promise<MoatConfig> {
      if (!store && loaded === undefined) return loadLocalCopy();
      const read = await reach("reading the store", (open) => open.read(), options.readDeadlineMs ?? STORE_POLL_DEFAULTS.readDeadlineMs);
      readRevision = read.revision;
      if (read.revision === 0) throw new StoreEmptyError(label);
      loaded = { revision: read.revision, document: read.document, isLocalCopy: false };
      // Paths are absolute in a stored document (refused otherwise), so no directory is needed to resolve them.
      return loadConfigDocument(asServed(read.document), { source: `${label} revision ${read.revision}`, baseDir: "/", env, isStored: true });
    },
    served() {
      if (!loaded) return;
      if (served?.revision !== loaded.revision) served = { revision: loaded.revision, at: new Date().toISOString() };
      if (!loaded.isLocalCopy) keepLocalCopy({ format: "moat-store-copy-1", store: label, revision: loaded.revision, savedAt: served.at, document: loaded.document });
      void reportEdge();
    },
    watch(changed, logger) {
      log = logger;
      let timer: NodeJS.Timeout | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let isStopped = false;
      let isPolling = false;
      let wakeWhy: string | undefined;
      let outagePolls = 0;
      if (loaded?.isLocalCopy) {
        log.warn(
          { store: label, revision: loaded.revision, file: options.localCopy, error: { message: unreachableCause() } },
          `store unreachable at start: serving revision ${loaded.revision} from the local copy; the edge catches up once the store answers`,
        );
      }

      const startSignals = (open: SourceStore) => {
        if (!open.changeSignals || isStopped) return;
        signals = open.changeSignals({
          onSignal: (signal) => {
            if (signal.kind === "revision") wake(`store notified revision ${signal.revision}`);
            else if (signal.kind === "invalidation") wake(`store notified invalidation ${signal.seq}`);
            // A joined edge's certificate request is the CA node's business (control/certificate-requests.ts).
            else if (signal.kind === "certificate-request") return;
            else {
              log?.info({ store: label, fallbackPollMs: liveIntervalMs }, "listening for store changes");
              // Notifications sent while this connection was down are lost: read what the store holds now.
              wake("store notifications (re)started: catching up");
            }
          },
          onLost: (error) => {
            log?.info({ store: label, error: { message: error.message }, pollMs: intervalMs }, "store notifications lost; polling until they resume");
            // The poll waiting out the long interval is brought forward: a lost listener often means a lost store.
            wake("store notifications lost");
          },
        });
      };

      // The store, when the start found it unreachable: opened again at each poll until it answers.
      const ensureOpen = async (): Promise<boolean> => {
        if (store) return true;
        const opening = options.open!();
        try {
          const open = await withDeadline(opening, revisionDeadlineMs * 2, "opening the store");
          if (isStopped || isClosed) {
            await open.close().catch(() => undefined);
            return false;
          }
          store = open;
          startSignals(open);
          return true;
        } catch (error) {
          // One that opens after its deadline is let go: the next poll opens its own.
          void opening.then((late) => late.close()).catch(() => undefined);
          markOut(unavailable("opening the store", error));
          return false;
        }
      };

      const pollOnce = async () => {
        const why = wakeWhy;
        wakeWhy = undefined;
        try {
          if (!(await ensureOpen())) return;
          const revision = await reach("asking the store for its revision", (open) => open.revision(), revisionDeadlineMs);
          // A stop that came while the query ran: no reload of an edge that is draining.
          if (revision !== readRevision && !isStopped) await changed(why?.startsWith("store notified revision") ? why : `store revision ${revision}`);
          if (!isStopped) await followInvalidations();
          // The first answer after an outage: the store learns which revision this edge serves now, not at the next heartbeat.
          if (!isStopped && served && outagePolls > 0) await reportEdge();
        } catch {
          // reach logged the outage (once); the next poll tries again.
        }
      };

      /** Polls now (a notification, or a reconnected listener); one already running is followed by one more. */
      const wake = (why: string) => {
        wakeWhy = why;
        if (isStopped || isPolling) return;
        clearTimeout(timer);
        polling = run();
      };

      const nextDelay = () => {
        if (isOut) return backoffDelay(outagePolls++, { baseMs: intervalMs, maxMs: Math.max(intervalMs, options.outageMaxMs ?? STORE_POLL_DEFAULTS.outageMaxMs) });
        outagePolls = 0;
        return signals?.isLive() ? liveIntervalMs : intervalMs;
      };

      const run = async (): Promise<void> => {
        isPolling = true;
        do await pollOnce();
        while (wakeWhy !== undefined && !isStopped);
        isPolling = false;
        if (!isStopped) timer = setTimeout(() => (polling = run()), nextDelay());
      };

      if (store) startSignals(store);
      timer = setTimeout(() => (polling = run()), store ? intervalMs : 0);
      heartbeat = setInterval(() => void (store && !isOut && reportEdge()), options.heartbeatMs ?? STORE_POLL_DEFAULTS.heartbeatMs);
      stopWatching = () => {
        isStopped = true;
        clearTimeout(timer);
        clearInterval(heartbeat);
      };
      return stopWatching;
    },
    async initialInvalidations() {
      if (!store?.invalidations) return [];
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
    caInUse(trust) {
      const isChanged = JSON.stringify(trust) !== JSON.stringify(caTrust);
      caTrust = trust;
      // Before the first revision is served the row waits for served(): it carries the trust then.
      if (isChanged && served) void reportEdge();
    },
    isReported: (error) => typeof error === "object" && error !== null && reported.has(error),
    async farewell() {
      stopWatching();
      const name = edgeName();
      if (!name || !store?.edges || !served) return;
      // Queued after any report in flight, so that it is the row's last word; the deadline bounds the whole wait.
      const said = reporting.then(() => store?.edges?.markStopped(name, new Date()));
      try {
        await withDeadline(said, FAREWELL_DEADLINE_MS, "recording that this edge stopped");
        log?.info({ store: label, edge: name }, "edge marked stopped in the store: invalidations do not wait for it");
      } catch (error) {
        log?.warn({ store: label, edge: name, error: { message: (error as Error).message } }, "could not mark this edge stopped in the store; it turns silent after 3 heartbeats");
      }
    },
    async close() {
      isClosed = true;
      stopWatching();
      await polling;
      await Promise.all([recording.catch(() => undefined), reporting, copying]);
      await signals?.close();
      await store?.close();
    },
  };
}
