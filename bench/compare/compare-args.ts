// The side-by-side bench's command line: --duration, --rounds, --workers, --connections, --rate, --cases, --json, --help.
import { parseArgs } from "node:util";
import { parseDuration } from "../../src/config/index.ts";
import { CliUsageError, InvalidDurationError } from "../../src/errors.ts";

export interface CompareArgs {
  /** Length of each measured load run (one case, one peer, one round). */
  durationMs: number;
  rounds: number;
  /** nginx `worker_processes`, and Moat's `workers` when more than 1 (Moat refuses the key if it does not know it). */
  workers: number;
  /** Connections the throughput cases keep open (wrk -c, h2load -c). */
  connections: number;
  /** Total requests per second of the fixed-rate latency cases. */
  ratePerSecond: number;
  /** Case ids to run (--cases hit-1k,miss-1k); empty runs them all. */
  caseIds: string[];
  isJson: boolean;
  wantsHelp: boolean;
}

/** Exit code for a bad flag or a missing tool. */
export const COMPARE_ARGS_EXIT_USAGE = 2;

export const COMPARE_HELP = `npm run bench -- [options]

Starts on 127.0.0.1, each as its own process: an nginx origin that requires a client
certificate from Moat's CA, the Moat edge (\`moat start\` built first with \`npm run build\` and run
from dist/ with the edge's node flags and malloc settings, as packaging/ runs it; --log-level warn,
and a second one at the default info level for the access-log case), nginx as a caching mTLS edge with the same
certificates, and a bare Node https server as Node's ceiling (for misses a bare proxy: undici's keep-alive
mTLS pool to the same origin, a minimal dispatch handler, no cache). Loads them in turn with wrk (HTTP/1.1)
and h2load (HTTP/2, fixed-rate latency), over several rounds, and prints medians and ratios.
Needs nginx, wrk, h2load and taskset; exits 2 (saying how to install them) if one is missing.
See docs/BENCHMARKS.md for how to read the results.

Options:
  --duration <d>      length of each load run (default 5s)
  --rounds <n>        rounds; every peer runs every case once per round (default 3)
  --workers <n>       edge worker processes: nginx worker_processes, Moat \`workers\` if > 1 (default 1)
  --connections <n>   connections of the throughput cases (default 32)
  --rate <n>          requests/s of the fixed-rate latency cases (default 2000)
  --cases <ids>       run only these cases, comma-separated (hit-1k, hit-16k, hit-1m, h2-hit-1k,
                      miss-1k, new-conn, rate-hit-1k, rate-miss-1k); default all
  --json              write the results as JSON to stdout (progress goes to stderr)
  -h, --help          this text

Example:
  npm run bench -- --duration 3s --rounds 2 --json > bench.json`;

/**
 * Parses the flags; throws CliUsageError on a bad one.
 * @example
 * parseCompareArgs(["--rounds", "5"]); // { durationMs: 5000, rounds: 5, workers: 1, ... }
 */
export function parseCompareArgs(argv: string[]): CompareArgs {
  const { values } = parseArgsOrThrow(argv);
  return {
    durationMs: wholeSecondsOf(values.duration),
    rounds: positiveInteger("--rounds", values.rounds),
    workers: positiveInteger("--workers", values.workers),
    connections: positiveInteger("--connections", values.connections),
    ratePerSecond: positiveInteger("--rate", values.rate),
    caseIds: values.cases === "" ? [] : values.cases.split(",").map((id) => id.trim()),
    isJson: values.json,
    wantsHelp: values.help,
  };
}

function parseArgsOrThrow(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: "string", default: "5s" },
        rounds: { type: "string", default: "3" },
        workers: { type: "string", default: "1" },
        connections: { type: "string", default: "32" },
        rate: { type: "string", default: "2000" },
        cases: { type: "string", default: "" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message, { fix: "run `npm run bench -- --help`" });
  }
}

/** A --duration for wrk and h2load, which count whole seconds; `example` goes into the fix. Shared with bench:scale. */
export function wholeSecondsOf(text: string, example = "5s"): number {
  try {
    const ms = parseDuration(text);
    if (ms >= 1000) return Math.round(ms / 1000) * 1000;
  } catch (error) {
    if (!(error instanceof InvalidDurationError)) throw error;
    throw new CliUsageError(`--duration ${JSON.stringify(text)}: ${error.detail}.`, { fix: `pass e.g. --duration ${example}` });
  }
  throw new CliUsageError("--duration must be at least 1s (wrk and h2load count whole seconds).", { fix: `pass e.g. --duration ${example}` });
}

export function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new CliUsageError(`${flag} must be a whole number of at least 1, not ${JSON.stringify(text)}.`);
  return value;
}
