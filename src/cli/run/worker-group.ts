// The primary of `moat start` with workers: forks one worker per slot, hands each the config it validated, restarts crashed ones, stops them all.
import cluster from "node:cluster";
import type { Worker } from "node:cluster";
import type { AppliedInvalidations, NumberedInvalidation } from "../../cache/invalidations.ts";
import type { MoatConfig } from "../../config/index.ts";
import { WorkerStartError } from "../../errors.ts";
import type { Logger, LoggerOptions } from "../../observe/index.ts";
import type { ProcessMetricsJson } from "../../observe/metrics-registry.ts";
import { withEdgeMallocEnv, withEdgeNodeFlags } from "./edge-runtime.ts";
import { createGroupCacheRelay } from "./worker-cache-relay.ts";
import type { ToWorker } from "./worker-messages.ts";
import { isFromWorker } from "./worker-messages.ts";

// A worker that fails to start this many times in a row (a port in use, a bad key) ends the group.
const MAX_START_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
// A worker that served this long before it died is restarted at once again, not after a longer wait.
const HEALTHY_AFTER_MS = 30_000;

export interface WorkerGroup {
  /** The viewer ports, as the first worker bound them (every worker shares them). */
  readonly httpsPort: number;
  readonly httpPort: number | null;
  /** Tells every worker to rebuild from `config` (the primary applied it) and to take these session ticket keys. */
  apply(config: MoatConfig, ticketKeys: Buffer): void;
  /** Run from a store: sends these invalidations to every worker (and keeps them for the start of a new one). */
  invalidate(requests: readonly NumberedInvalidation[]): void;
  /** Resolves once every worker told of the last `apply` has swapped (or refused it, or exited). */
  settled(): Promise<void>;
  /** Each worker drains like a lone edge; resolves once all have exited. */
  stop(): Promise<void>;
  /** Rejects when a worker keeps failing to start after the group was up: the primary then exits non-zero. */
  readonly failed: Promise<never>;
  /** Asks every connected worker for its metrics; a worker that has not answered within `limitMs` is left out. */
  collectMetrics(limitMs: number): Promise<{ asked: number; answers: ProcessMetricsJson[] }>;
}

interface Slot {
  worker: Worker | null;
  /** The last apply this worker has swapped to, and who waits for a later one. */
  appliedSeq: number;
  waiters: Array<{ seq: number; resolve(): void }>;
  attempts: number;
  lastError: { code?: string; message: string } | null;
  listeningAt: number | null;
}

/**
 * node:cluster, round-robin: the primary holds the listening sockets (port 0 resolves once, for all)
 * and hands each new connection to the next worker, so load spreads evenly and a worker's restart never closes the port.
 * @example
 * const group = await startWorkerGroup({ count: 2, config, log, logLevel: "info" });
 */
export async function startWorkerGroup(options: {
  count: number;
  config: MoatConfig;
  /** The name the edge was given (its Cache-Status identifier), or null. */
  edgeName?: string | null;
  ticketKeys: Buffer;
  log: Logger;
  logLevel: NonNullable<LoggerOptions["level"]>;
  /** Run from a store: every invalidation it held at start, and where the group's applied state goes (every worker's lowest mark). */
  store?: { invalidations: readonly NumberedInvalidation[]; onApplied(summary: AppliedInvalidations): void };
  /** Workers keep metrics (prom-client) for the primary's endpoint. */
  metrics?: boolean;
}): Promise<WorkerGroup> {
  const { log } = options;
  // Structured clones: the config's Maps, Sets and Buffers reach the worker as they are.
  // Workers get the edge's V8 flags and malloc settings even when the primary was started without them (edge-runtime.ts).
  cluster.setupPrimary({ serialization: "advanced", execArgv: withEdgeNodeFlags(process.execArgv) });
  let config = options.config;
  let ticketKeys = options.ticketKeys;
  // Every invalidation delivered so far: a worker (re)started later opens its cache with all of them, as one reading the file would.
  const storeInvalidations = options.store ? [...options.store.invalidations] : undefined;
  let isStopping = false;
  const slots = new Map<number, Slot>();
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_resolve, reject) => (fail = reject));
  failed.catch(() => {});

  /**
   * Sends unless the worker's channel is closed; false then. A worker that drains on its own SIGTERM (a signal sent to the
   * whole process group) closes its channel when done, and may do so an instant before the primary sees it: the write
   * then fails with EPIPE, which is no fault of the group's and must not end the primary (an 'error' nobody handles would).
   */
  function sendTo(worker: Worker, message: ToWorker, onFailed?: () => void): boolean {
    if (!worker.isConnected()) return false;
    worker.send(message, undefined, {}, (error: Error | null) => {
      if (!error) return;
      log.debug({ pid: worker.process.pid, message: message.type, error: { code: (error as NodeJS.ErrnoException).code, message: error.message } }, "a worker's channel closed before a message reached it");
      onFailed?.();
    });
    return true;
  }

  const cacheRelay = createGroupCacheRelay({
    dataDir: options.config.dataDir,
    log,
    send: (n, message) => {
      const worker = slots.get(n)?.worker;
      return worker ? sendTo(worker, message) : false;
    },
    listening: () => [...slots].filter(([, slot]) => slot.worker !== null && slot.listeningAt !== null).map(([n]) => n),
    onApplied: options.store?.onApplied,
  });

  function fork(n: number): Promise<{ httpsPort: number; httpPort: number | null }> {
    const slot = slots.get(n)!;
    const worker = cluster.fork(withEdgeMallocEnv(process.env));
    slot.worker = worker;
    slot.attempts += 1;
    slot.appliedSeq = seq;
    // Errors of its channel are handled where they are sent (sendTo); anything else is logged, never thrown at the primary.
    worker.on("error", (error: Error) => log.warn({ workerNumber: n, error: { message: error.message } }, "worker channel error"));
    sendTo(worker, { type: "start", worker: n, workers: options.count, config, edgeName: options.edgeName ?? null, logLevel: options.logLevel, ticketKeys, ...(storeInvalidations ? { storeInvalidations } : {}), ...(options.metrics ? { metrics: true } : {}) });
    return new Promise((resolve, reject) => {
      worker.on("message", (message: unknown) => {
        if (!isFromWorker(message)) return;
        cacheRelay.onMessage(n, worker.process.pid ?? 0, message);
        if (message.type === "failed") slot.lastError = message.error;
        if (message.type === "applied") settle(slot, message.seq);
        if (message.type === "listening") {
          slot.listeningAt = Date.now();
          slot.attempts = 0;
          log.info({ workerNumber: n, pid: worker.process.pid }, "worker listening");
          resolve(message);
        }
      });
      worker.on("exit", (code, signal) => {
        slot.worker = null;
        cacheRelay.onExit(n);
        // Its replacement starts from the latest config: nothing to wait for.
        settle(slot, Number.POSITIVE_INFINITY);
        if (isStopping) return;
        const wasListening = slot.listeningAt !== null;
        const error = slot.lastError ?? { message: `exited with code ${code} signal ${signal}` };
        if (!wasListening) reject(new WorkerStartError(n, slot.attempts, error));
        onExit(n, code, signal, wasListening);
      });
    });
  }

  function onExit(n: number, code: number | null, signal: string | null, wasListening: boolean): void {
    const slot = slots.get(n)!;
    if (wasListening && Date.now() - slot.listeningAt! >= HEALTHY_AFTER_MS) slot.attempts = 0;
    slot.listeningAt = null;
    if (!hasStarted) return;
    if (slot.attempts >= MAX_START_ATTEMPTS) {
      const error = new WorkerStartError(n, slot.attempts, slot.lastError ?? { message: `exited with code ${code} signal ${signal}` });
      log.fatal({ workerNumber: n, error: { code: error.code, message: error.message } }, "a worker keeps failing: stopping the group");
      return fail(error);
    }
    const delayMs = Math.min(FIRST_BACKOFF_MS * 2 ** slot.attempts, MAX_BACKOFF_MS);
    log.error({ workerNumber: n, code, signal, restartInMs: delayMs, attempts: slot.attempts }, "worker exited: restarting it");
    setTimeout(() => {
      if (isStopping) return;
      // A restart that fails is logged and counted at its exit.
      fork(n).catch(() => {});
    }, delayMs).unref();
  }

  function settle(slot: Slot, seq: number): void {
    slot.appliedSeq = Math.max(slot.appliedSeq, seq);
    const done = slot.waiters.filter((waiter) => waiter.seq <= slot.appliedSeq);
    slot.waiters = slot.waiters.filter((waiter) => waiter.seq > slot.appliedSeq);
    for (const waiter of done) waiter.resolve();
  }

  let seq = 0;
  let hasStarted = false;
  for (let n = 1; n <= options.count; n++) slots.set(n, { worker: null, appliedSeq: 0, waiters: [], attempts: 0, lastError: null, listeningAt: null });
  let ports: { httpsPort: number; httpPort: number | null };
  try {
    ports = (await Promise.all([...slots.keys()].map((n) => fork(n))))[0]!;
  } catch (error) {
    // Half a group is worse than none: the others stop, and the primary exits with the worker's error.
    await stopAll();
    throw error;
  }
  hasStarted = true;

  function broadcast(message: ToWorker): void {
    // A worker still starting queues it behind its start message.
    for (const slot of slots.values()) if (slot.worker) sendTo(slot.worker, message);
  }

  async function stopAll(): Promise<void> {
    isStopping = true;
    const running = [...slots.values()].map((slot) => slot.worker).filter((worker): worker is Worker => worker !== null && !worker.isDead());
    await Promise.all(
      running.map(async (worker) => {
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        // A channel closed already, or closing as this is sent: the worker is draining (or gone); SIGTERM says the same.
        const signal = () => void worker.process.kill("SIGTERM");
        if (!sendTo(worker, { type: "stop" }, signal)) signal();
        await exited;
      }),
    );
  }

  let metricsRequests = 0;
  async function collectMetrics(limitMs: number): Promise<{ asked: number; answers: ProcessMetricsJson[] }> {
    const id = ++metricsRequests;
    const workers = [...slots.values()].map((slot) => slot.worker).filter((worker): worker is Worker => worker !== null && worker.isConnected());
    const answers = await Promise.all(workers.map((worker) => askForMetrics(worker, id, limitMs)));
    return { asked: workers.length, answers: answers.filter((answer): answer is ProcessMetricsJson => answer !== null) };
  }

  /** One worker's metrics, or null when it does not answer within `limitMs` (or exits, or its channel is closed). */
  function askForMetrics(worker: Worker, id: number, limitMs: number): Promise<ProcessMetricsJson | null> {
    return new Promise((resolve) => {
      const finish = (answer: ProcessMetricsJson | null) => {
        clearTimeout(limit);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        resolve(answer);
      };
      const onMessage = (message: unknown) => {
        if (isFromWorker(message) && message.type === "metrics" && message.id === id) finish(message.metrics);
      };
      const onExit = () => finish(null);
      const limit = setTimeout(() => finish(null), limitMs);
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      if (!sendTo(worker, { type: "metrics-request", id }, () => finish(null))) finish(null);
    });
  }

  return {
    collectMetrics,
    httpsPort: ports.httpsPort,
    httpPort: ports.httpPort,
    apply(next, keys) {
      config = next;
      ticketKeys = keys;
      seq += 1;
      broadcast({ type: "apply", seq, config: next, ticketKeys: keys });
    },
    invalidate(requests) {
      storeInvalidations?.push(...requests);
      broadcast({ type: "invalidations", requests });
    },
    async settled() {
      const target = seq;
      const pending = [...slots.values()].filter((slot) => slot.worker !== null && slot.appliedSeq < target);
      await Promise.all(pending.map((slot) => new Promise<void>((resolve) => slot.waiters.push({ seq: target, resolve }))));
    },
    stop: stopAll,
    failed,
  };
}
