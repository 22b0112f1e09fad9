// The scale bench's results: medians over the rounds, big/small ratios and whether they are flat (within 10 %), memory per entry; as Markdown or JSON.
import type { CacheIndexResult } from "../cache-index.ts";
import type { MachineDescription } from "../compare/machine.ts";

/** "Stays flat": the big side within this fraction of the small side. */
export const FLAT_TOLERANCE = 0.1;

export interface EdgeSample {
  requestsPerSecond: number;
  /** Edge CPU time (utime + stime of its process tree) over the run, per request answered. */
  cpuMicrosPerRequest: number;
  errors: number;
}

export interface ComparisonInput {
  id: "keys" | "distributions";
  title: string;
  /** How the load was made, for the report. */
  load: string;
  small: { label: string; samples: EdgeSample[] };
  big: { label: string; samples: EdgeSample[] };
}

export interface ComparisonSummary {
  id: ComparisonInput["id"];
  title: string;
  load: string;
  small: SideSummary;
  big: SideSummary;
  /** big / small req/s (1 = the same, below 1 = slower with the bigger index or config). */
  throughputRatio: number;
  /** big / small CPU µs per request (above 1 = more work per request). */
  cpuRatio: number;
  /** Whether big req/s is at least 90 % of small's. */
  isThroughputFlat: boolean;
  /** Whether big CPU per request is at most 110 % of small's. */
  isCpuFlat: boolean;
}

interface SideSummary {
  label: string;
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  errors: number;
  /** Every round's req/s and edge CPU µs per request, in run order, to show the noise (and a GC landing in one round). */
  rounds: number[];
  cpuRounds: number[];
}

export interface EdgeMemory {
  label: string;
  distributions: number;
  cachedKeys: number;
  startMs: number;
  rssIdleBytes: number;
  rssAfterFillBytes: number;
  rssAfterLoadBytes: number;
}

export interface FillSummary {
  label: string;
  keys: number;
  seconds: number;
  requestsPerSecond: number;
  cpuMicrosPerRequest: number;
  errors: number;
}

export interface ScaleReport {
  command: string;
  machine: MachineDescription;
  settings: { durationS: number; rounds: number; bodyBytes: number; edgeCpu: string | null; loadCpu: string | null };
  comparisons: ComparisonSummary[];
  fills: FillSummary[];
  edges: EdgeMemory[];
  /** (RSS after filling the big cache − RSS before) / keys added − body bytes, and the same between the small and big edges after the load. */
  rssBytesPerEntryBeyondBody: { overFill: number; bigMinusSmall: number };
  /** Extra RSS the many-distribution edge holds per distribution, idle, against the 1-distribution edge. */
  rssBytesPerDistribution: number;
  cacheIndex: CacheIndexResult | null;
  totalErrors: number;
  elapsedS: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Medians of each side over the rounds, and the ratios.
 * @example
 * summarizeComparison({ id: "keys", title, load, small: { label, samples }, big: { label, samples } }).isThroughputFlat;
 */
export function summarizeComparison(input: ComparisonInput): ComparisonSummary {
  const side = (given: ComparisonInput["small"]): SideSummary => ({
    label: given.label,
    requestsPerSecond: median(given.samples.map((sample) => sample.requestsPerSecond)),
    cpuMicrosPerRequest: median(given.samples.map((sample) => sample.cpuMicrosPerRequest)),
    errors: given.samples.reduce((sum, sample) => sum + sample.errors, 0),
    rounds: given.samples.map((sample) => Math.round(sample.requestsPerSecond)),
    cpuRounds: given.samples.map((sample) => Math.round(sample.cpuMicrosPerRequest)),
  });
  const small = side(input.small);
  const big = side(input.big);
  const throughputRatio = big.requestsPerSecond / small.requestsPerSecond;
  const cpuRatio = big.cpuMicrosPerRequest / small.cpuMicrosPerRequest;
  return {
    id: input.id,
    title: input.title,
    load: input.load,
    small,
    big,
    throughputRatio,
    cpuRatio,
    isThroughputFlat: throughputRatio >= 1 - FLAT_TOLERANCE,
    isCpuFlat: cpuRatio <= 1 + FLAT_TOLERANCE,
  };
}

/** Bytes of RSS per entry beyond its body, from an RSS difference over a number of entries. */
export function bytesPerEntryBeyondBody(rssDeltaBytes: number, entries: number, bodyBytes: number): number {
  return entries > 0 ? Math.round(rssDeltaBytes / entries - bodyBytes) : Number.NaN;
}

const MIB = 1024 * 1024;
const round = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "-");
const thousands = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en") : "-");

export function formatScaleReport(report: ScaleReport): string {
  const { machine, settings } = report;
  const lines = [
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), Linux ${machine.kernel}, Node ${machine.node}, nginx ${machine.nginx}, wrk ${machine.wrk}, h2load ${machine.h2load}; load average ${machine.loadAverageAtStart} at start`,
    `settings: ${settings.rounds} round(s) × ${settings.durationS} s per edge and comparison, ${settings.bodyBytes}-byte bodies; ` +
      (settings.edgeCpu === null ? "unpinned" : `edges on CPU ${settings.edgeCpu}, load generators and origin on CPU ${settings.loadCpu}`),
    "",
    "| comparison | small | big | req/s small / big | big/small req/s | edge CPU µs/req small / big | big/small CPU | flat (±10 %) | errors |",
    "|---|---|---|---:|---:|---:|---:|---|---:|",
  ];
  for (const comparison of report.comparisons) {
    const flat = `${comparison.isThroughputFlat ? "yes" : "NO"} (req/s), ${comparison.isCpuFlat ? "yes" : "NO"} (CPU)`;
    lines.push(
      `| ${comparison.title} | ${comparison.small.label} | ${comparison.big.label} | ${thousands(comparison.small.requestsPerSecond)} / ${thousands(comparison.big.requestsPerSecond)} | ` +
        `${round(comparison.throughputRatio, 2)} | ${round(comparison.small.cpuMicrosPerRequest)} / ${round(comparison.big.cpuMicrosPerRequest)} | ${round(comparison.cpuRatio, 2)} | ${flat} | ${comparison.small.errors + comparison.big.errors} |`,
    );
  }
  lines.push("");
  for (const comparison of report.comparisons) {
    lines.push(
      `${comparison.id}: ${comparison.load}; by round, req/s small ${JSON.stringify(comparison.small.rounds)}, big ${JSON.stringify(comparison.big.rounds)}; ` +
        `CPU µs/req small ${JSON.stringify(comparison.small.cpuRounds)}, big ${JSON.stringify(comparison.big.cpuRounds)}`,
    );
  }
  lines.push("", "| edge | distributions | cached keys | start s | RSS MB idle | after fill | after load |", "|---|---:|---:|---:|---:|---:|---:|");
  for (const edge of report.edges) {
    lines.push(
      `| ${edge.label} | ${thousands(edge.distributions)} | ${thousands(edge.cachedKeys)} | ${round(edge.startMs / 1000, 1)} | ${round(edge.rssIdleBytes / MIB)} | ${round(edge.rssAfterFillBytes / MIB)} | ${round(edge.rssAfterLoadBytes / MIB)} |`,
    );
  }
  lines.push("");
  for (const fill of report.fills) {
    lines.push(`fill ${fill.label}: ${thousands(fill.keys)} misses in ${round(fill.seconds, 1)} s (${thousands(fill.requestsPerSecond)} req/s, ${round(fill.cpuMicrosPerRequest)} edge CPU µs/req), ${fill.errors} errors`);
  }
  const perEntry = report.rssBytesPerEntryBeyondBody;
  lines.push(
    "",
    `memory per cached entry beyond its ${settings.bodyBytes}-byte body: ${round(perEntry.overFill)} B of edge RSS over the big fill, ${round(perEntry.bigMinusSmall)} B big edge − small edge after the load`,
  );
  if (report.cacheIndex) {
    const index = report.cacheIndex;
    lines.push(
      `in-process cache index at ${thousands(index.entries)} entries: memory tier ${index.memoryTierBytesPerEntry} B/entry of heap (index + metadata, body excluded), disk index ${index.diskIndexBytesPerEntry} B/entry`,
    );
  }
  lines.push(`config size: ${round(report.rssBytesPerDistribution / 1024, 1)} KiB of RSS per distribution (idle, many − 1)`);
  lines.push("", `${report.totalErrors} failed requests; ${round(report.elapsedS)} s in all.`, "");
  return lines.join("\n");
}
