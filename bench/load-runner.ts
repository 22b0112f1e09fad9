// Runs one request function from N workers until a request count or a deadline, recording latency in a histogram.
import { createHistogram } from "node:perf_hooks";
import type { RecordableHistogram } from "node:perf_hooks";

/** One request; rejects (or throws) when the request failed. `worker` is 0..concurrency-1. */
export type SendRequest = (worker: number) => Promise<void>;

export interface LoadBounds {
  concurrency: number;
  maxRequests: number;
  durationMs: number;
}

export interface LoadResult {
  /** Requests finished, successful or not. */
  requests: number;
  errors: number;
  /** The first failure's message, so a failing run says why. */
  firstError: string | null;
  elapsedMs: number;
  /** Latency of successful requests, in nanoseconds. */
  latencyNs: RecordableHistogram;
}

/**
 * Keeps `concurrency` requests in flight; no new one starts after `maxRequests` have started or
 * `durationMs` has passed, and the ones in flight are waited for.
 * @example
 * const result = await runLoad({ concurrency: 32, maxRequests: 20_000, durationMs: 10_000 }, (w) => get(clients[w]));
 */
export async function runLoad(bounds: LoadBounds, send: SendRequest): Promise<LoadResult> {
  const latencyNs = createHistogram();
  const result: LoadResult = { requests: 0, errors: 0, firstError: null, elapsedMs: 0, latencyNs };
  const startedAt = performance.now();
  const deadline = startedAt + bounds.durationMs;
  let started = 0;

  async function worker(index: number): Promise<void> {
    while (started < bounds.maxRequests && performance.now() < deadline) {
      started++;
      const t0 = process.hrtime.bigint();
      try {
        await send(index);
        // A histogram refuses values below 1; a request is never that fast, but be safe.
        latencyNs.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
      } catch (error) {
        result.errors++;
        result.firstError ??= describeError(error);
      }
      result.requests++;
    }
  }

  await Promise.all(Array.from({ length: bounds.concurrency }, (_, index) => worker(index)));
  result.elapsedMs = performance.now() - startedAt;
  return result;
}

/** Folds a warm-up's failures into the measured result: a failure anywhere must fail the run. */
export function withWarmupErrors(measured: LoadResult, warmup: LoadResult): LoadResult {
  return { ...measured, errors: measured.errors + warmup.errors, firstError: warmup.firstError ?? measured.firstError };
}

function describeError(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}
