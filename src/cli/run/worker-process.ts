// A worker of `moat start`: serves the viewer ports with its own memory tier, and rebuilds only when its primary says.
import { createDeletionRelay } from "../../cache/index.ts";
import type { CachePeers, DeletionRelay } from "../../cache/index.ts";
// The freezer alone, not config/index.ts: the primary validated the config, and a worker never loads the validator (zod, yaml).
import { deepFreeze as freezeConfig } from "../../config/freeze.ts";
import type { MoatConfig } from "../../config/index.ts";
import { openJoinedCaOnDisk, runEdge, ticketKeysFrom } from "../../edge/index.ts";
import type { RunningEdge } from "../../edge/index.ts";
import { createLogger, installEdgeMetrics, loadMetrics } from "../../observe/index.ts";
import type { Logger, ProcessMetrics } from "../../observe/index.ts";
import { openCertificateAuthority } from "../../pki/index.ts";
import { loadCommandMasterKey } from "../master-key.ts";
import { DRAIN_LIMIT_MS } from "./serve-edge.ts";
import { isToWorker } from "./worker-messages.ts";
import type { FromWorker, ToWorker } from "./worker-messages.ts";

/**
 * Runs until its primary says stop, the primary goes away, or a SIGTERM/SIGINT reaches it directly
 * (a terminal's Ctrl-C, or a supervisor signalling the whole group): each drains like a lone edge.
 * @example
 * if (cluster.isWorker) return runWorker();
 */
export async function runWorker(): Promise<number> {
  // The primary may be gone (or going) when this is sent: a closed channel is not this worker's error (it exits on disconnect).
  const send = (message: FromWorker, onFailed?: () => void): boolean => {
    if (!process.connected || !process.send) return false;
    process.send(message, undefined, {}, (error: Error | null) => void (error && onFailed?.()));
    return true;
  };
  // Messages that arrive while the edge starts wait for it, in order.
  const queue: ToWorker[] = [];
  let deliver: (() => void) | undefined;
  process.on("message", (message: unknown) => {
    if (!isToWorker(message)) return;
    queue.push(message);
    deliver?.();
  });
  const next = async (): Promise<ToWorker> => {
    while (queue.length === 0) await new Promise<void>((resolve) => (deliver = resolve));
    return queue.shift()!;
  };
  // A primary that dies before this worker serves leaves nothing to drain: exit rather than wait forever.
  let isServing = false;
  process.once("disconnect", () => {
    if (!isServing) process.exit(1);
  });
  const start = await next();
  if (start.type !== "start") return 1;
  const log = createLogger({ level: start.logLevel, worker: start.worker });
  const relay = createDeletionRelay({
    send: (batch) => send({ type: "cache-deleted", batch: batch.id, primaryKeys: batch.primaryKeys }, () => relay.acknowledged(batch.id)),
    waitLimitMs: RELAY_WAIT_LIMIT_MS,
    onGiveUp: (batch, waitedMs) =>
      log.warn({ keys: batch.primaryKeys.length, waitedMs }, "a cache deletion was not acknowledged by every other worker in time: one may serve the deleted response from memory until it expires there"),
  });
  const cachePeers: CachePeers = { deleted: relay.deleted, invalidationsApplied: (mark) => void send({ type: "invalidations-applied", mark }) };
  let edge: RunningEdge;
  let metrics: ProcessMetrics | undefined;
  try {
    // Before the edge is built: its first snapshot and its origin connections are counted too.
    if (start.metrics) {
      metrics = (await loadMetrics()).createProcessMetrics();
      installEdgeMetrics(metrics.recorder);
    }
    const config = freezeConfig(start.config);
    const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
    // A joined edge's worker has the CA's public certificates only; like every worker it never issues (its primary does).
    const ca = (await openJoinedCaOnDisk(config.dataDir)) ?? (await openCertificateAuthority({ dataDir: config.dataDir, masterKey }));
    edge = await runEdge({ config, ca, masterKey, log, edgeName: start.edgeName, role: "worker", worker: start.worker, workers: start.workers, ticketKeys: ticketKeysFrom(start.ticketKeys), cachePeers, storeInvalidations: start.storeInvalidations });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    log.error({ error: { code, message } }, "worker could not start");
    send({ type: "failed", error: { code, message } });
    process.disconnect?.();
    return 1;
  }
  isServing = true;
  send({ type: "listening", httpsPort: edge.httpsPort, httpPort: edge.httpPort });
  await serveMessages(edge, next, log, relay, metrics);
  return 0;
}

// How long a request whose unsafe method deleted cached keys waits for the other workers to delete them too (an IPC
// round trip through the primary, well under a millisecond when they are well): a stuck worker must not hold every POST.
const RELAY_WAIT_LIMIT_MS = 2_000;

async function serveMessages(edge: RunningEdge, next: () => Promise<ToWorker>, log: Logger, relay: DeletionRelay, metrics: ProcessMetrics | undefined): Promise<void> {
  let stopping: Promise<void> | undefined;
  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ why, inFlight: "draining" }, "stopping: no new connections; requests in flight finish");
      const limit = setTimeout(() => {
        log.warn({ limitMs: DRAIN_LIMIT_MS }, "drain limit reached: exiting with requests still in flight");
        process.exit(1);
      }, DRAIN_LIMIT_MS).unref();
      await edge.stop();
      clearTimeout(limit);
      // Without its IPC channel nothing keeps the process up: it ends once its last socket closes.
      if (process.connected) process.disconnect();
      markStopped();
    })();
    return stopping;
  };
  // The primary coordinates reloads: a SIGHUP that reaches a worker (sent to the whole group) changes nothing here.
  process.on("SIGHUP", () => log.debug("SIGHUP ignored: the primary reloads every worker"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // The primary died (SIGKILL, a crash): node:cluster exits the worker at once on an unasked disconnect;
  // this only logs why, for a runtime that would not.
  process.on("disconnect", () => void stop("the primary is gone"));
  let applying = Promise.resolve();
  const apply = (seq: number, config: MoatConfig, ticketKeys: Uint8Array) => {
    applying = applying.then(async () => {
      try {
        await edge.apply(freezeConfig(config));
        // After the rebuild, which may have rotated this listener's keys on its own: the group's replace them.
        edge.setTicketKeys(ticketKeysFrom(ticketKeys));
      } catch (error) {
        const { code, message } = error as { code?: string; message: string };
        log.error({ error: { code, message } }, "rebuild asked by the primary failed; the running snapshot stays");
      }
      if (process.connected) process.send?.({ type: "applied", seq } satisfies FromWorker, undefined, {}, () => {});
    });
  };
  const dropRelayed = (id: number, primaryKeys: readonly string[]) => {
    // Gone from memory (and from the fills in progress) once the call returns: the sibling may go on at once.
    const onDisk = edge.dropRelayedCacheKeys(primaryKeys);
    if (process.connected) process.send?.({ type: "cache-keys-dropped", relay: id } satisfies FromWorker, undefined, {}, () => {});
    onDisk.catch((error: Error) => log.error({ error: { message: error.message } }, "deleting from disk the keys another worker deleted failed"));
  };
  // A worker started without metrics answers with none: the primary's page then lacks its series, never waits for them.
  const answerMetrics = (id: number) => {
    const gathered = metrics ? metrics.json() : Promise.resolve([]);
    gathered.then(
      (json) => process.connected && process.send?.({ type: "metrics", id, metrics: json } satisfies FromWorker, undefined, {}, () => {}),
      (error: Error) => log.error({ error: { message: error.message } }, "gathering this worker's metrics failed"),
    );
  };
  void (async () => {
    for (;;) {
      const message = await next();
      if (message.type === "apply") apply(message.seq, message.config, message.ticketKeys);
      // The loop goes on while draining: requests in flight may still delete cached keys and wait for their relay.
      if (message.type === "stop") void stop("the primary said stop");
      if (message.type === "cache-deletion-relayed") relay.acknowledged(message.batch);
      if (message.type === "drop-cache-keys") dropRelayed(message.relay, message.primaryKeys);
      if (message.type === "invalidations") edge.applyInvalidations(message.requests);
      if (message.type === "metrics-request") answerMetrics(message.id);
    }
  })();
  await stopped;
}
