// Gives memory back when the process goes idle: one last-resort garbage collection shrinks V8's young generation (grown under load up to --max-semi-space-size) and compacts the old one.
//
// Why: V8 sizes the young generation for the allocation rate it has seen and does not shrink it on its own
// while the process is idle (no full collection runs then). An edge that served a burst kept 16 MB of empty
// semi-spaces for good, and a primary kept those it grew while it validated the config and issued certificates.
// Measured from dist/ (docs/BENCHMARKS.md, "Memory"): a worker 76 → 70 MB idle, a primary 92 → 77 MB.
import type { Logger } from "../observe/index.ts";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How often the event loop's utilization is sampled: a burst's memory is given back 2–4 s after it ends. */
const CHECK_INTERVAL_MS = 2_000;
/** Below this share of the last interval spent outside the event loop's idle wait, the process is idle. */
const IDLE_UTILIZATION = 0.05;
/** Only a process that grew this much since the last collection collects again (a collection costs ~10–30 ms of CPU). */
const MIN_GROWTH_BYTES = 4 * 1024 * 1024;

export interface IdleMemoryRelease {
  stop(): void;
}

type LastResortGc = (options: { type: "major"; flavor: "last-resort" }) => void;

/**
 * Samples the event loop every 2 s; when it was idle and the RSS grew since the last collection, collects once.
 * @example
 * const idleMemory = releaseMemoryWhenIdle(log);
 * // … on stop:
 * idleMemory.stop();
 */
export function releaseMemoryWhenIdle(log: Logger): IdleMemoryRelease {
  let gc: LastResortGc | null | undefined;
  let rssAfterRelease = 0;
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const since = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    if (since.utilization >= IDLE_UTILIZATION) return;
    const rssBefore = process.memoryUsage.rss();
    if (rssBefore - rssAfterRelease < MIN_GROWTH_BYTES) return;
    gc ??= exposeGc(log);
    if (!gc) return void clearInterval(timer);
    const startedAt = performance.now();
    gc({ type: "major", flavor: "last-resort" });
    rssAfterRelease = process.memoryUsage.rss();
    log.debug({ rssBefore, rssAfter: rssAfterRelease, gcMs: Math.round(performance.now() - startedAt) }, "idle: memory given back");
  }, CHECK_INTERVAL_MS).unref();
  return { stop: () => clearInterval(timer) };
}

// V8's gc() with options, for this one caller, without --expose-gc on the command line (which would give every
// module a global gc): the flag is on only while a new context is made, whose global holds the function.
function exposeGc(log: Logger): LastResortGc | null {
  if (typeof globalThis.gc === "function") return globalThis.gc as LastResortGc;
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as LastResortGc;
  } catch (error) {
    log.debug({ error: { message: (error as Error).message } }, "idle memory release unavailable: V8 gave no gc()");
    return null;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}
