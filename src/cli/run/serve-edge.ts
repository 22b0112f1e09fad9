// Keeps a running edge in step with its config source (a file or a store; SIGHUP, changes) and drains it on SIGTERM/SIGINT.
import cluster from "node:cluster";
import { once } from "node:events";
import type { RunningEdge } from "../../edge/index.ts";
import type { Logger } from "../../observe/index.ts";
import { createFileConfigSource } from "./config-source.ts";
import type { ConfigSource } from "./config-source.ts";

/** How long a drain may take before the edge exits anyway; a supervisor's stop timeout must be longer (packaging/systemd/moat.service). */
export const DRAIN_LIMIT_MS = 30_000;

/** Stop signals caught before serveEdge took over; `release` stops catching them and says which came first. */
export interface HeldStopSignals {
  release(): string | undefined;
}

/**
 * Catches SIGTERM and SIGINT from the moment it is called, before the edge listens: a supervisor may
 * signal as soon as the port answers, in the instant before serveEdge installs its handlers, and
 * Node's default action would kill the edge with no drain and no word in the log. A signal held
 * here starts the drain as soon as serveEdge takes over; a second one exits at once.
 * @example
 * const held = holdStopSignals(log);
 * const edge = await runEdge(...);
 * await serveEdge({ edge, configFile, log, heldSignals: held });
 */
export function holdStopSignals(log: Logger): HeldStopSignals {
  let pending: string | undefined;
  const hold = (signal: string) => {
    if (pending) {
      log.warn({ signal }, "second signal while starting: exiting");
      void exitNow();
    }
    pending = signal;
    log.info({ signal }, "stop requested while starting: the edge drains as soon as it is up");
  };
  const onTerm = () => hold("SIGTERM");
  const onInt = () => hold("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  return {
    release() {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      return pending;
    },
  };
}

// A primary's workers go with it, and it exits only once they are gone: nothing is left holding a port.
// Alone, there are none and it exits at once.
async function exitNow(): Promise<never> {
  const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined && !worker.isDead());
  const exited = Promise.all(workers.map((worker) => once(worker!, "exit")));
  for (const worker of workers) worker!.process.kill("SIGKILL");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  process.exit(1);
}

/**
 * Resolves once the edge has stopped after a signal. The config's source (a file, or a store) is watched, and
 * each change it reports is read, validated and applied as a whole; a refused one leaves the running snapshot.
 * @example
 * await serveEdge({ edge, configFile: "./moat.yaml", log, onStopped: () => origin.close() });
 * await serveEdge({ edge, source: createStoreConfigSource({ store, log }), log });
 */
export function serveEdge(options: { edge: RunningEdge; configFile?: string; source?: ConfigSource; log: Logger; onStopping?: () => Promise<void>; beforeSourceClose?: () => Promise<void>; heldSignals?: HeldStopSignals }): Promise<void> {
  const { edge, log } = options;
  const source = options.source ?? createFileConfigSource(options.configFile ?? "");
  let reloading = Promise.resolve();
  const reload = (why: string): Promise<void> => {
    reloading = reloading.then(async () => {
      try {
        const config = await source.load();
        const snapshot = await edge.apply(config);
        source.served?.();
        log.info({ why, snapshot: snapshot.generation, ...source.describe() }, "config reloaded");
      } catch (error) {
        // The running snapshot stays: a bad edit never takes the edge down. A store outage was logged once, by the source.
        if (source.isReported(error)) return;
        log.error({ why, ...source.describe(), error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "config reload refused; keeping the running config");
      }
    });
    return reloading;
  };

  const stopWatching = source.watch(reload, log);
  // The edge serves what the source loaded at start.
  source.served?.();
  const onHup = () => void reload("SIGHUP");
  process.on("SIGHUP", onHup);

  return new Promise((resolve) => {
    let isStopping = false;
    const stop = (signal: string) => {
      if (isStopping) {
        log.warn({ signal }, "second signal: exiting without waiting for requests in flight");
        return void exitNow();
      }
      isStopping = true;
      log.info({ signal, inFlight: "draining" }, "stopping: no new connections; requests in flight finish");
      stopWatching();
      process.off("SIGHUP", onHup);
      const limit = setTimeout(() => {
        log.warn({ limitMs: DRAIN_LIMIT_MS }, "drain limit reached: exiting with requests still in flight");
        void exitNow();
      }, DRAIN_LIMIT_MS);
      limit.unref();
      // The farewell first (it has its own deadline): the edge watches the source no more, so invalidations must not wait for it.
      // What must still write to the store (the last audit checkpoint, with its own deadline) finishes before it closes.
      const beforeClose = Promise.all([source.farewell?.(), options.beforeSourceClose?.()]);
      Promise.all([edge.stop(), options.onStopping?.(), beforeClose.then(() => source.close())]).then(() => {
        clearTimeout(limit);
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onInt);
        resolve();
      });
    };
    // `on`, not `once`: a second SIGTERM or SIGINT must reach stop (and force the exit) rather than
    // Node's default action, which kills the process without a word in the log.
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    // Released after ours are installed, so that no instant is left without a handler.
    const early = options.heldSignals?.release();
    if (early) stop(early);
  });
}
