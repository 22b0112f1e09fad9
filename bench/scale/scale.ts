// `npm run bench:scale`: hit throughput and edge CPU per request with a small vs a big cache index, and 1 vs many distributions; memory per cached entry.
import { loadavg } from "node:os";
import { treeStats } from "../compare/proc-stats.ts";
import { describeMachine } from "../compare/machine.ts";
import type { MachineDescription } from "../compare/machine.ts";
import { ProcessGroup } from "../compare/processes.ts";
import { findBenchTools } from "../compare/tools.ts";
import type { BenchTools } from "../compare/tools.ts";
import type { LoadResult } from "../compare/load-tools.ts";
import { CliUsageError, MoatError } from "../../src/errors.ts";
import { SCALE_ARGS_EXIT_USAGE, SCALE_HELP, parseScaleArgs } from "./scale-args.ts";
import type { ScaleArgs } from "./scale-args.ts";
import { fillKeys, keyPath, runRandomHits } from "./scale-load.ts";
import type { HitLoad } from "./scale-load.ts";
import { bytesPerEntryBeyondBody, formatScaleReport, summarizeComparison } from "./scale-report.ts";
import type { ComparisonInput, EdgeMemory, EdgeSample, FillSummary, ScaleReport } from "./scale-report.ts";
import { BODY_BYTES, aliasOf, checkHits, startScaleScene } from "./scale-scene.ts";
import type { ScaleEdge, ScaleScene } from "./scale-scene.ts";

/** Connections of every hit load, in all: one wrk with 32, or 8 wrk (one per alias) with 4 each. */
const CONNECTIONS = 32;
/**
 * Aliases the distributions comparison spreads its load over, evenly across the config (d0, dN/8, …). wrk has one SNI
 * per process, so one wrk each; the 1-distribution edge gets the same 8 processes, all on its one alias. Each alias
 * holds an eighth of the small cache's keys, so that both sides hit as many entries (1,000 by default) and the
 * comparison changes the number of distributions alone: with 1,000 keys per alias the many-distribution side hit
 * eight times as many entries, which the keys comparison measures on its own.
 */
const PROBED_ALIASES = 8;
/** Keys checked as hits (verified client) after each fill, besides the first and the last. */
const CHECKED_KEYS = 20;
/** Unmeasured load per edge and comparison before the rounds: an edge's hit path takes seconds of load to reach its steady CPU per request (JIT). */
const WARM_S = 3;

async function main(argv: string[]): Promise<number> {
  const args = parseScaleArgs(argv);
  if (args.wantsHelp) {
    process.stdout.write(`${SCALE_HELP}\n`);
    return 0;
  }
  const found = findBenchTools();
  if (!found.ok) {
    process.stderr.write(`bench:scale: ${found.hint}\n`);
    return SCALE_ARGS_EXIT_USAGE;
  }
  const { tools } = found;
  const machine = describeMachine(tools);
  const startedAt = performance.now();
  const progress = (text: string) => process.stderr.write(`bench:scale: ${text}\n`);
  progress(`${args.bigKeys.toLocaleString("en")} vs ${args.smallKeys.toLocaleString("en")} keys, ${args.bigDistributions.toLocaleString("en")} vs 1 distributions, ${args.rounds} round(s) × ${args.durationMs / 1000} s; Ctrl-C stops everything it started`);

  const group = new ProcessGroup();
  let scene: ScaleScene | null = null;
  let isStopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    isStopping = true;
    progress(`${signal}: stopping what it started`);
    void Promise.all([group.stopAll(), scene?.close()]).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => group.killAllNow());

  try {
    progress("building Moat, starting the origin…");
    scene = await startScaleScene({ tools, group });
    const report = await measure(tools, group, scene, args, machine, progress);
    await scene.close();
    scene = null;
    progress(`measuring the cache index in-process at ${args.bigKeys.toLocaleString("en")} entries…`);
    // Imported here: the module turns on --expose-gc for this process, which the loads above need not see.
    const { measureCacheIndex } = await import("../cache-index.ts");
    report.cacheIndex = measureCacheIndex(args.bigKeys);
    report.elapsedS = (performance.now() - startedAt) / 1000;
    report.command = `npm run bench:scale -- ${argv.join(" ")}`.trim();
    process.stdout.write(args.isJson ? `${JSON.stringify(report, null, 2)}\n` : formatScaleReport(report));
    return report.totalErrors > 0 ? 1 : 0;
  } catch (error) {
    if (isStopping) return new Promise<number>(() => {});
    throw error;
  } finally {
    await scene?.close();
    await group.stopAll();
  }
}

async function measure(tools: BenchTools, group: ProcessGroup, scene: ScaleScene, args: ScaleArgs, machine: MachineDescription, progress: (text: string) => void): Promise<ScaleReport> {
  const durationS = args.durationMs / 1000;
  const cpu = scene.loadCpu;
  progress("starting the edges…");
  const small = await scene.startEdge("1 distribution", 1);
  const bigCache = await scene.startEdge("1 distribution, big cache", 1);
  progress(`starting the edge with ${args.bigDistributions.toLocaleString("en")} distributions…`);
  const many = await scene.startEdge(`${args.bigDistributions.toLocaleString("en")} distributions`, args.bigDistributions);
  progress(`edges up (the ${args.bigDistributions.toLocaleString("en")}-distribution one in ${(many.startMs / 1000).toFixed(1)} s)`);
  const rssIdle = new Map<ScaleEdge, number>([small, bigCache, many].map((edge) => [edge, treeStats(edge.process.pid).rssBytes]));
  const probed = Array.from({ length: PROBED_ALIASES }, (_, index) => aliasOf(Math.floor((index * args.bigDistributions) / PROBED_ALIASES)));

  const fills: FillSummary[] = [];
  let totalErrors = 0;
  const fill = async (edge: ScaleEdge, host: string, keys: number, label: string) => {
    progress(`filling ${label}: ${keys.toLocaleString("en")} keys…`);
    const before = treeStats(edge.process.pid).cpuMicros;
    const result = await fillKeys(tools, group, { port: edge.port, host, count: keys, cpu, caPem: scene.caPem });
    const cpuMicros = treeStats(edge.process.pid).cpuMicros - before;
    fills.push({ label, keys, seconds: result.seconds, requestsPerSecond: result.requestsPerSecond, cpuMicrosPerRequest: cpuMicros / Math.max(1, result.succeeded), errors: result.errors });
    totalErrors += result.errors;
    const checked = [0, keys - 1, ...Array.from({ length: CHECKED_KEYS }, () => Math.floor(Math.random() * keys))].map(keyPath);
    const problems = await checkHits(edge.port, host, checked, scene.caPem);
    if (problems.length > 0) throw new Error(`after filling ${label}, these were not cache hits:\n${problems.join("\n")}`);
  };
  await fill(small, aliasOf(0), args.smallKeys, `1 distribution (small cache)`);
  const bigBefore = treeStats(bigCache.process.pid).rssBytes;
  await fill(bigCache, aliasOf(0), args.bigKeys, `1 distribution (big cache)`);
  const bigAfterFill = treeStats(bigCache.process.pid).rssBytes;
  const keysPerAlias = Math.ceil(args.smallKeys / PROBED_ALIASES);
  for (const host of probed) await fill(many, host, keysPerAlias, `${host} of ${args.bigDistributions.toLocaleString("en")} distributions`);
  const rssAfterFill = new Map<ScaleEdge, number>([small, bigCache, many].map((edge) => [edge, treeStats(edge.process.pid).rssBytes]));

  const keysLoad = (edge: ScaleEdge, keys: number): HitLoad => ({ port: edge.port, hosts: [aliasOf(0)], connectionsPerHost: CONNECTIONS, keys, durationS, cpu });
  const spreadLoad = (edge: ScaleEdge, hosts: readonly string[], keys: number): HitLoad => ({ port: edge.port, hosts, connectionsPerHost: CONNECTIONS / PROBED_ALIASES, keys, durationS, cpu });
  const cases: Array<{ input: ComparisonInput; smallLoad: HitLoad; bigLoad: HitLoad; smallEdge: ScaleEdge; bigEdge: ScaleEdge }> = [
    {
      input: {
        id: "keys",
        title: "cached keys",
        load: `wrk -t1 -c${CONNECTIONS}, keys at random among those cached`,
        small: { label: `${args.smallKeys.toLocaleString("en")} keys`, samples: [] },
        big: { label: `${args.bigKeys.toLocaleString("en")} keys`, samples: [] },
      },
      smallEdge: small,
      bigEdge: bigCache,
      smallLoad: keysLoad(small, args.smallKeys),
      bigLoad: keysLoad(bigCache, args.bigKeys),
    },
    {
      input: {
        id: "distributions",
        title: "distributions (1 alias each)",
        load: `${PROBED_ALIASES} wrk -t1 -c${CONNECTIONS / PROBED_ALIASES} at once, one per alias (${probed.join(", ")}), ${keysPerAlias.toLocaleString("en")} keys at random per alias; all on ${aliasOf(0)}'s ${args.smallKeys.toLocaleString("en")} keys for the 1-distribution edge: ${(keysPerAlias * PROBED_ALIASES).toLocaleString("en")} entries hit on either side`,
        small: { label: "1 distribution", samples: [] },
        big: { label: `${args.bigDistributions.toLocaleString("en")} distributions`, samples: [] },
      },
      smallEdge: small,
      bigEdge: many,
      smallLoad: spreadLoad(small, Array.from({ length: PROBED_ALIASES }, () => aliasOf(0)), args.smallKeys),
      bigLoad: spreadLoad(many, probed, keysPerAlias),
    },
  ];

  const measureOne = async (edge: ScaleEdge, load: HitLoad): Promise<EdgeSample> => {
    const before = treeStats(edge.process.pid).cpuMicros;
    const result: LoadResult = await runRandomHits(tools, group, load);
    const cpuMicros = treeStats(edge.process.pid).cpuMicros - before;
    totalErrors += result.errors;
    if (result.errors > 0) progress(`${edge.label}: ${result.errors} failed requests:\n${result.output}`);
    return { requestsPerSecond: result.requestsPerSecond, cpuMicrosPerRequest: cpuMicros / Math.max(1, result.succeeded), errors: result.errors };
  };
  progress("warming up (unmeasured)…");
  for (const { smallEdge, bigEdge, smallLoad, bigLoad } of cases) {
    await measureOne(smallEdge, { ...smallLoad, durationS: WARM_S });
    await measureOne(bigEdge, { ...bigLoad, durationS: WARM_S });
  }
  for (let round = 0; round < args.rounds; round++) {
    for (const { input, smallEdge, bigEdge, smallLoad, bigLoad } of cases) {
      // Alternate which side goes first, so that a slow patch of a shared machine does not always fall on the same one.
      const order = round % 2 === 0 ? (["small", "big"] as const) : (["big", "small"] as const);
      for (const side of order) {
        progress(`round ${round + 1}/${args.rounds}: ${input.title}, ${input[side].label} (load average ${loadavg()[0]!.toFixed(2)})`);
        const sample = side === "small" ? await measureOne(smallEdge, smallLoad) : await measureOne(bigEdge, bigLoad);
        input[side].samples.push(sample);
      }
    }
  }
  const rssAfterLoad = new Map<ScaleEdge, number>([small, bigCache, many].map((edge) => [edge, treeStats(edge.process.pid).rssBytes]));
  const cachedKeys = new Map<ScaleEdge, number>([
    [small, args.smallKeys],
    [bigCache, args.bigKeys],
    [many, keysPerAlias * PROBED_ALIASES],
  ]);
  const edges: EdgeMemory[] = [small, bigCache, many].map((edge) => ({
    label: edge === bigCache ? `${args.bigKeys.toLocaleString("en")} keys` : edge.label,
    distributions: edge.distributions,
    cachedKeys: cachedKeys.get(edge)!,
    startMs: edge.startMs,
    rssIdleBytes: rssIdle.get(edge)!,
    rssAfterFillBytes: rssAfterFill.get(edge)!,
    rssAfterLoadBytes: rssAfterLoad.get(edge)!,
  }));
  return {
    command: "",
    machine,
    settings: { durationS, rounds: args.rounds, bodyBytes: BODY_BYTES, edgeCpu: scene.edgeCpu, loadCpu: scene.loadCpu },
    comparisons: cases.map(({ input }) => summarizeComparison(input)),
    fills,
    edges,
    rssBytesPerEntryBeyondBody: {
      // The big edge already held /k/0 (its readiness check), hence keys − 1 entries added.
      overFill: bytesPerEntryBeyondBody(bigAfterFill - bigBefore, args.bigKeys - 1, BODY_BYTES),
      bigMinusSmall: bytesPerEntryBeyondBody(rssAfterLoad.get(bigCache)! - rssAfterLoad.get(small)!, args.bigKeys - args.smallKeys, BODY_BYTES),
    },
    rssBytesPerDistribution: (rssIdle.get(many)! - rssIdle.get(small)!) / (args.bigDistributions - 1),
    cacheIndex: null,
    totalErrors,
    elapsedS: 0,
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof MoatError) {
      process.stderr.write(`bench:scale: ${error.message}\n`);
      process.exitCode = error instanceof CliUsageError ? SCALE_ARGS_EXIT_USAGE : 1;
      return;
    }
    process.stderr.write(`bench:scale: failed:\n${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
