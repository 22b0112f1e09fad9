// The scale bench's command line: --quick, --keys, --distributions, --duration, --rounds, --json, --help.
import { parseArgs } from "node:util";
import { CliUsageError } from "../../src/errors.ts";
import { positiveInteger, wholeSecondsOf } from "../compare/compare-args.ts";

export interface ScaleArgs {
  /** Keys of the small cache and of the big one (the 1 000 vs 1 000 000). */
  smallKeys: number;
  bigKeys: number;
  /** Distributions of the big config (the 10 000; the small config has 1). */
  bigDistributions: number;
  /** Length of each measured hit run (one edge, one round). */
  durationMs: number;
  rounds: number;
  isQuick: boolean;
  isJson: boolean;
  wantsHelp: boolean;
}

/** Exit code for a bad flag or a missing tool. */
export const SCALE_ARGS_EXIT_USAGE = 2;

/** What `--quick` changes: a tenth of the keys and distributions, shorter and fewer runs. Flags given with it still win. */
const QUICK = { keys: "100000", distributions: "1000", duration: "2s", rounds: "1" };
const FULL = { keys: "1000000", distributions: "10000", duration: "4s", rounds: "3" };
const SMALL_KEYS = 1000;

export const SCALE_HELP = `npm run bench:scale -- [options]

Does Moat's hit throughput stay flat as its cache index and its config grow? Starts on 127.0.0.1,
each its own process: an nginx origin (mTLS, answering a 32-byte body cacheable for an hour at any
/k/<n>) and three Moat edges from dist/ (built first, run as packaging/ runs them), each with a
2 GiB memory tier and no disk tier: one distribution with ${SMALL_KEYS.toLocaleString("en")} cached keys, one
distribution with --keys cached keys, and --distributions distributions (each its own alias and
origin). Fills the caches through the edges (wrk walking /k/0..N-1, 16 connections), then
loads each edge with wrk asking for keys at random among those cached, in alternating rounds, and
prints req/s, the edge's CPU µs per request, the big/small ratios (flat = within 10 %), the edge's
RSS per cached entry and the in-process cache index's heap bytes per entry.
Needs nginx, wrk, h2load and taskset; exits 2 (saying how to install them) if one is missing,
1 if any request failed. See docs/BENCHMARKS.md ("Scale") for how to read it.

Options:
  --quick               ${QUICK.keys} keys, ${QUICK.distributions} distributions, ${QUICK.rounds} round of ${QUICK.duration} (about 4 min on a
                        shared 2-vCPU VM, the full run 12: the fills go at the miss rate)
  --keys <n>            cached keys of the big cache (default ${FULL.keys})
  --distributions <n>   distributions of the big config (default ${FULL.distributions})
  --duration <d>        length of each measured run (default ${FULL.duration})
  --rounds <n>          rounds; each edge is measured once per round (default ${FULL.rounds})
  --json                write the results as JSON to stdout (progress goes to stderr)
  -h, --help            this text`;

/**
 * Parses the flags; throws CliUsageError on a bad one.
 * @example
 * parseScaleArgs(["--quick"]); // { smallKeys: 1000, bigKeys: 100000, bigDistributions: 1000, durationMs: 2000, rounds: 1, ... }
 */
export function parseScaleArgs(argv: string[]): ScaleArgs {
  const { values } = parseArgsOrThrow(argv);
  const base = values.quick ? QUICK : FULL;
  const bigKeys = positiveInteger("--keys", values.keys ?? base.keys);
  const bigDistributions = positiveInteger("--distributions", values.distributions ?? base.distributions);
  if (bigKeys <= SMALL_KEYS) throw new CliUsageError(`--keys must be more than the small cache's ${SMALL_KEYS} keys, not ${bigKeys}.`);
  if (bigDistributions < 2) throw new CliUsageError(`--distributions must be at least 2 (the small config has 1), not ${bigDistributions}.`);
  return {
    smallKeys: SMALL_KEYS,
    bigKeys,
    bigDistributions,
    durationMs: wholeSecondsOf(values.duration ?? base.duration, "4s"),
    rounds: positiveInteger("--rounds", values.rounds ?? base.rounds),
    isQuick: values.quick,
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
        quick: { type: "boolean", default: false },
        keys: { type: "string" },
        distributions: { type: "string" },
        duration: { type: "string" },
        rounds: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message, { fix: "run `npm run bench:scale -- --help`" });
  }
}
