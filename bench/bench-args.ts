// The bench's command line: --duration, --requests, --concurrency, --json, --help.
import { parseArgs } from "node:util";
import { parseDuration } from "../src/config/index.ts";
import { CliUsageError, InvalidDurationError } from "../src/errors.ts";

export interface BenchArgs {
  /** Upper bound on each scenario's measured time. */
  durationMs: number;
  /** Upper bound on each scenario's measured requests (the new-connection scenario caps itself lower). */
  maxRequests: number;
  concurrency: number;
  isJson: boolean;
  wantsHelp: boolean;
}

export const BENCH_HELP = `npm run bench:in-process -- [options]

Runs a CA, an mTLS origin and a Moat edge in this process on 127.0.0.1 and measures
direct vs through-the-edge traffic. Each scenario stops at --requests or --duration,
whichever comes first. Exits 1 if any request failed.

Options:
  --duration <d>      time bound per scenario (default 10s)
  --requests <n>      request bound per scenario (default 20000)
  --concurrency <n>   requests in flight at once (default 32)
  --json              write the results as JSON to stdout (progress goes to stderr)
  -h, --help          this text

Example:
  npm run bench:in-process -- --duration 5s --requests 10000 --concurrency 16 --json > bench.json`;

/**
 * Parses the bench's flags; throws CliUsageError on a bad one.
 * @example
 * parseBenchArgs(["--duration", "5s"]); // { durationMs: 5000, maxRequests: 20000, concurrency: 32, ... }
 */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgsOrThrow(argv);
  return {
    durationMs: durationOf(values.duration),
    maxRequests: positiveInteger("--requests", values.requests),
    concurrency: positiveInteger("--concurrency", values.concurrency),
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
        duration: { type: "string", default: "10s" },
        requests: { type: "string", default: "20000" },
        concurrency: { type: "string", default: "32" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message, { fix: "run `npm run bench:in-process -- --help`" });
  }
}

function durationOf(text: string): number {
  try {
    const ms = parseDuration(text);
    if (ms > 0) return ms;
  } catch (error) {
    if (!(error instanceof InvalidDurationError)) throw error;
    throw new CliUsageError(`--duration ${JSON.stringify(text)}: ${error.detail}.`, { fix: "pass e.g. --duration 10s or --duration 500ms" });
  }
  throw new CliUsageError("--duration must be more than zero.", { fix: "pass e.g. --duration 10s" });
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new CliUsageError(`${flag} must be a whole number of at least 1, not ${JSON.stringify(text)}.`);
  return value;
}
