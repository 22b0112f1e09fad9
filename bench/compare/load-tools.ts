// Runs one load (wrk for HTTP/1.1, h2load for HTTP/2 and for fixed-rate latency) against one peer and parses what it printed.
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_HOST } from "./bench-pki.ts";
import type { ProcessGroup } from "./processes.ts";
import type { BenchTools } from "./tools.ts";

export type LoadKind =
  /** wrk, HTTP/1.1 keep-alive. */
  | "h1"
  /** wrk with `Connection: close`: every request on a new TLS connection (wrk resumes no session: full handshakes). */
  | "h1-new-connection"
  /** h2load, HTTP/2, `--connections` connections × 10 streams. */
  | "h2"
  /** h2load --h1 at a fixed total rate (--rps per connection), latency from its per-request log. */
  | "h1-fixed-rate";

export interface LoadRequest {
  kind: LoadKind;
  port: number;
  path: string;
  durationS: number;
  connections: number;
  ratePerSecond: number;
  /** CPU list to pin the load generator to, or null. */
  cpu: string | null;
}

export interface LoadResult {
  /** Requests answered 2xx. */
  succeeded: number;
  /** Non-2xx answers, failed streams, socket errors, timeouts. */
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** What the tool printed, for the error message if parsing fails. */
  output: string;
}

/** HTTP/2 streams per connection (h2load -m), as in the measurement. */
export const H2_STREAMS_PER_CONNECTION = 10;
/** Connections of the fixed-rate case: each sends `rate / this` requests per second. */
const FIXED_RATE_CONNECTIONS = 20;
/** Connections of the new-connection case: enough to keep one edge core busy with handshakes. */
const NEW_CONNECTION_CONCURRENCY = 16;

/**
 * @example
 * const result = await runLoad(tools, group, { kind: "h1", port, path: "/cache/1024", durationS: 5, connections: 32, ratePerSecond: 2000, cpu: "1" });
 */
export async function runLoad(tools: BenchTools, group: ProcessGroup, request: LoadRequest): Promise<LoadResult> {
  const url = `https://${BENCH_HOST}:${request.port}${request.path}`;
  if (request.kind === "h1" || request.kind === "h1-new-connection") {
    const isClose = request.kind === "h1-new-connection";
    const connections = isClose ? NEW_CONNECTION_CONCURRENCY : request.connections;
    const args = ["-t1", `-c${connections}`, `-d${request.durationS}s`, "--latency", ...(isClose ? ["-H", "Connection: close"] : []), url];
    return parseWrk(await runTool(tools, group, "wrk", tools.wrk, args, request.cpu));
  }
  if (request.kind === "h2") {
    const args = ["-t1", `-c${request.connections}`, `-m${H2_STREAMS_PER_CONNECTION}`, `-D${request.durationS}`, url];
    return parseH2load(await runTool(tools, group, "h2load", tools.h2load, args, request.cpu), null);
  }
  const logFile = join(tmpdir(), `moat-bench-h2load-${process.pid}-${Date.now()}.tsv`);
  try {
    const perConnection = Math.max(1, Math.round(request.ratePerSecond / FIXED_RATE_CONNECTIONS));
    const args = ["--h1", "-t1", `-c${FIXED_RATE_CONNECTIONS}`, `--rps=${perConnection}`, `-D${request.durationS}`, `--log-file=${logFile}`, url];
    const output = await runTool(tools, group, "h2load", tools.h2load, args, request.cpu);
    return parseH2load(output, await readFile(logFile, "utf8").catch(() => ""));
  } finally {
    await rm(logFile, { force: true });
  }
}

async function runTool(tools: BenchTools, group: ProcessGroup, name: string, file: string, args: string[], cpu: string | null): Promise<string> {
  const running = group.start(name, file, args, { taskset: tools.taskset, cpu });
  await running.exited;
  if (running.child.exitCode !== 0) throw new Error(`${name} ${args.join(" ")} exited with ${running.child.exitCode ?? running.child.signalCode}:\n${running.output()}`);
  return running.output();
}

/**
 * Parses wrk's summary: "N requests in 5.00s", "Non-2xx or 3xx responses: N", "Socket errors: connect A, read B, write C, timeout D"
 * and the --latency distribution.
 */
export function parseWrk(output: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(output);
  if (!total) throw new Error(`could not read wrk's output:\n${output}`);
  const requests = Number(total[1]);
  const seconds = durationMs(Number(total[2]), total[3]!) / 1000;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0;
  const succeeded = requests - non2xx;
  return {
    succeeded,
    errors: non2xx + socketErrors,
    seconds,
    requestsPerSecond: succeeded / seconds,
    p50Ms: wrkPercentile(output, "50"),
    p99Ms: wrkPercentile(output, "99"),
    output,
  };
}

function wrkPercentile(output: string, percent: string): number | null {
  const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(output);
  return match ? durationMs(Number(match[1]), match[2]!) : null;
}

function durationMs(value: number, unit: string): number {
  const factor: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return value * (factor[unit] ?? 1);
}

/**
 * Parses h2load's summary ("finished in 5.00s", "requests: … N succeeded, N failed, N errored, N timeout",
 * "status codes: N 2xx, …"); with its --log-file rows (start µs, status, duration µs), the latency percentiles.
 */
export function parseH2load(output: string, log: string | null): LoadResult {
  const finished = /finished in ([\d.]+)(us|ms|s|m)\b/.exec(output);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (!finished || !requests || !status) throw new Error(`could not read h2load's output:\n${output}`);
  const seconds = durationMs(Number(finished[1]), finished[2]!) / 1000;
  // "succeeded" counts finished 2xx streams; "status codes" also counts streams the duration cut short.
  const succeeded = Math.min(Number(requests[1]), Number(status[1]));
  const errors = Number(requests[2]) + Number(requests[3]) + Number(requests[4]) + Number(status[2]) + Number(status[3]) + Number(status[4]);
  let p50Ms: number | null = null;
  let p99Ms: number | null = null;
  if (log !== null) {
    const durations = log
      .split("\n")
      .map((row) => row.split("\t"))
      .filter((columns) => columns.length >= 3 && columns[1] !== "-1")
      .map((columns) => Number(columns[2]) / 1000)
      .sort((a, b) => a - b);
    p50Ms = percentile(durations, 0.5);
    p99Ms = percentile(durations, 0.99);
  }
  return { succeeded, errors, seconds, requestsPerSecond: succeeded / seconds, p50Ms, p99Ms, output };
}

function percentile(sorted: number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}
