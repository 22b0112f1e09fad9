// A worker of `moat start`: serves the viewer ports with its own memory tier, and rebuilds only when its primary says.
// The freezer alone, not config/index.ts: the primary validated the config, and a worker never loads the validator (zod, yaml).
import { deepFreeze as freezeConfig } from "../config/freeze.ts";
import type { MoatConfig } from "../config/index.ts";
import { runEdge, ticketKeysFrom } from "../edge/index.ts";
import type { RunningEdge } from "../edge/index.ts";
import { createLogger } from "../observe/index.ts";
import type { Logger } from "../observe/index.ts";
import { openCertificateAuthority } from "../pki/index.ts";
import { loadCommandMasterKey } from "./master-key.ts";
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
  const send = (message: FromWorker) => process.send?.(message);
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
  let edge: RunningEdge;
  try {
    const config = freezeConfig(start.config);
    const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
    const ca = await openCertificateAuthority({ dataDir: config.dataDir, masterKey });
    edge = await runEdge({ config, ca, masterKey, log, role: "worker", worker: start.worker, workers: start.workers, ticketKeys: ticketKeysFrom(start.ticketKeys) });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    log.error({ error: { code, message } }, "worker could not start");
    send({ type: "failed", error: { code, message } });
    process.disconnect?.();
    return 1;
  }
  isServing = true;
  send({ type: "listening", httpsPort: edge.httpsPort, httpPort: edge.httpPort });
  await serveMessages(edge, next, log);
  return 0;
}

async function serveMessages(edge: RunningEdge, next: () => Promise<ToWorker>, log: Logger): Promise<void> {
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
      process.send?.({ type: "applied", seq } satisfies FromWorker);
    });
  };
  void (async () => {
    for (;;) {
      const message = await next();
      if (message.type === "apply") apply(message.seq, message.config, message.ticketKeys);
      if (message.type === "stop") return void stop("the primary said stop");
    }
  })();
  await stopped;
}
