// Gives memory back when the process goes idle: one last-resort garbage collection shrinks V8's young generation (grown under load up to --max-semi-space-size) and compacts the old one.
//
// Why: V8 sizes the young generation for the allocation rate it has seen and does not shrink it on its own
// while the process is idle (no full collection runs then). An edge that served a burst kept 16 MB of empty
// semi-spaces for good, and a primary kept those it grew while it validated the config and issued certificates.
// Measured from dist/ (docs/BENCHMARKS.md, "Memory"): a worker 76 → 70 MB idle, a primary 92 → 77 MB.
import type { Logger } from "../../observe/index.ts";
import { performance } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How often the event loop's utilization is sampled: start-up's memory is given back 2–4 s after the process first goes idle. */
const CHECK_INTERVAL_MS = 2_000;
/** Below this share of the last interval spent outside the event loop's idle wait, the process is idle. */
const IDLE_UTILIZATION = 0.05;
/**
 * After its first collection (what start-up left: a config validated, certificates issued), the release waits for
 * this many idle checks in a row, 30 s: the collection shrinks the young generation and moves the whole heap, and the
 * requests of the next ~100 ms pay for it (at 2,000 misses/s, 13–22 ms each instead of under 1; docs/BENCHMARKS.md,
 * "Latency after a lull"). Traffic that pauses for seconds must not pay that after every lull.
 */
const IDLE_CHECKS_AFTER_FIRST = 15;
/** Only a process that grew this much since the last collection collects again (a collection costs ~10–30 ms of CPU). */
const MIN_GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * Above this much live heap no collection is run: a last-resort collection marks and compacts the whole heap, several
 * times, and the event loop waits for it (387 ms at 345 MB of live heap, a million small objects, in a bare process:
 * about what a memory tier of a million entries holds). There the pause costs more than the young generation's
 * 16 MB it gives back, and V8's own memory reducer still shrinks it later.
 */
const MAX_HEAP_BYTES = 256 * 1024 * 1024;

export interface IdleMemoryRelease {
  stop(): void;
}

/** What the release reads and runs; tests replace it. */
export interface IdleMemoryProbes {
  /** The event loop's utilization (0–1) since the previous call. */
  utilizationSinceLastCall(): number;
  rssBytes(): number;
  /** Bytes of the V8 heap in use (live objects and garbage not yet collected). */
  heapUsedBytes(): number;
  /** Runs the collection; false when V8 offers none (nothing more is tried). */
  collect(): boolean;
}

/**
 * Samples the event loop every 2 s; when it was idle (the first time: for one check; later: for 30 s in a row) and the
 * RSS grew since the last collection, collects once, unless the heap is past 256 MiB.
 * @example
 * const idleMemory = releaseMemoryWhenIdle(log);
 * // … on stop:
 * idleMemory.stop();
 */
export function releaseMemoryWhenIdle(log: Logger, probes: IdleMemoryProbes = nodeProbes(log)): IdleMemoryRelease {
  // 0 until the first collection.
  let rssAfterRelease = 0;
  let idleChecks = 0;
  const timer = setInterval(() => {
    if (probes.utilizationSinceLastCall() >= IDLE_UTILIZATION) return void (idleChecks = 0);
    idleChecks += 1;
    if (rssAfterRelease > 0 && idleChecks < IDLE_CHECKS_AFTER_FIRST) return;
    const rssBefore = probes.rssBytes();
    if (rssBefore - rssAfterRelease < MIN_GROWTH_BYTES) return;
    if (probes.heapUsedBytes() > MAX_HEAP_BYTES) return;
    const startedAt = performance.now();
    if (!probes.collect()) return void clearInterval(timer);
    rssAfterRelease = probes.rssBytes();
    log.debug({ rssBefore, rssAfter: rssAfterRelease, gcMs: Math.round(performance.now() - startedAt) }, "idle: memory given back");
  }, CHECK_INTERVAL_MS).unref();
  return { stop: () => clearInterval(timer) };
}

function nodeProbes(log: Logger): IdleMemoryProbes {
  let last = performance.eventLoopUtilization();
  let gc: LastResortGc | null | undefined;
  return {
    utilizationSinceLastCall() {
      const since = performance.eventLoopUtilization(last);
      last = performance.eventLoopUtilization();
      return since.utilization;
    },
    rssBytes: () => process.memoryUsage.rss(),
    heapUsedBytes: () => getHeapStatistics().used_heap_size,
    collect() {
      gc ??= exposeGc(log);
      gc?.({ type: "major", flavor: "last-resort" });
      return gc !== null;
    },
  };
}

type LastResortGc = (options: { type: "major"; flavor: "last-resort" }) => void;

// V8's gc() with options, for this one caller, without --expose-gc on the command line (which would give every
// module a global gc): the flag is on only while a new context is made, whose global holds the function.
export function exposeGc(log: Logger): LastResortGc | null {
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
