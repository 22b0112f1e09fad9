// Turns scenario outcomes into rows, edge-vs-direct comparisons, a text table and a JSON document.
import { availableParallelism } from "node:os";
import type { BenchArgs } from "./bench-args.ts";
import type { ScenarioOutcome } from "./scenarios.ts";

export interface ScenarioRow {
  id: string;
  title: string;
  requests: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  /** Successful requests per second. */
  reqPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Successful body bytes per second, in 10^6 bytes. */
  mbPerSec: number;
  /** Large bodies only: RSS growth during the scenario, and median time to the first body byte. */
  peakRssGrowthMiB: number | null;
  firstByteMs: number | null;
}

export interface BenchReport {
  date: string;
  node: string;
  cpus: number;
  args: { durationMs: number; maxRequests: number; concurrency: number };
  scenarios: ScenarioRow[];
  comparisons: string[];
  totalErrors: number;
}

/**
 * @example
 * const report = buildReport(outcomes, args);
 * process.stdout.write(args.isJson ? JSON.stringify(report, null, 2) : formatReport(report));
 */
export function buildReport(outcomes: ScenarioOutcome[], args: BenchArgs): BenchReport {
  const scenarios = outcomes.map(toRow);
  const comparisons = outcomes.flatMap((outcome) => {
    const baseline = scenarios.find((row) => row.id === outcome.baselineId);
    const row = scenarios.find((r) => r.id === outcome.id);
    return baseline && row ? [compare(row, baseline, outcome.large !== null)] : [];
  });
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    args: { durationMs: args.durationMs, maxRequests: args.maxRequests, concurrency: args.concurrency },
    scenarios,
    comparisons,
    totalErrors: scenarios.reduce((sum, row) => sum + row.errors, 0),
  };
}

function toRow(outcome: ScenarioOutcome): ScenarioRow {
  const { load } = outcome;
  const seconds = load.elapsedMs / 1000;
  const succeeded = load.requests - load.errors;
  // The histogram holds nanoseconds; with no successful request its percentiles are meaningless.
  const ms = (percentile: number) => (succeeded === 0 ? Number.NaN : round(load.latencyNs.percentile(percentile) / 1e6, 2));
  return {
    id: outcome.id,
    title: outcome.title,
    requests: load.requests,
    errors: load.errors,
    firstError: load.firstError,
    seconds: round(seconds, 2),
    reqPerSec: round(succeeded / seconds, 0),
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    mbPerSec: round((succeeded * outcome.bytesPerRequest) / seconds / 1e6, 1),
    peakRssGrowthMiB: outcome.large ? round(outcome.large.peakRssGrowthBytes / 2 ** 20, 1) : null,
    firstByteMs: outcome.large?.firstByteNs ? round(outcome.large.firstByteNs / 1e6, 2) : null,
  };
}

function compare(row: ScenarioRow, baseline: ScenarioRow, isThroughput: boolean): string {
  const share = `${Math.round((row.reqPerSec / baseline.reqPerSec) * 100)}%`;
  const delta = (a: number, b: number) => `${a - b >= 0 ? "+" : ""}${round(a - b, 2)} ms`;
  if (isThroughput) return `${row.id} vs ${baseline.id}: ${share} of the throughput (${row.mbPerSec} vs ${baseline.mbPerSec} MB/s)`;
  // Edge, origin and viewers share one event loop that the run keeps saturated, so the difference
  // in time per request is roughly the CPU the edge adds to each request.
  const extraUs = Math.round((1 / row.reqPerSec - 1 / baseline.reqPerSec) * 1e6);
  return `${row.id} vs ${baseline.id}: ${share} of the req/s (${row.reqPerSec} vs ${baseline.reqPerSec}), p50 ${delta(row.p50Ms, baseline.p50Ms)}, p99 ${delta(row.p99Ms, baseline.p99Ms)}, ≈${extraUs} µs more event-loop time per request`;
}

/** A plain-text table with the comparisons and any first errors beneath it. */
export function formatReport(report: BenchReport): string {
  const header = ["scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "MB/s", "1st byte ms", "peak RSS +MiB"];
  const cells = report.scenarios.map((row) => [
    row.title,
    String(row.requests),
    String(row.errors),
    String(row.reqPerSec),
    String(row.p50Ms),
    String(row.p90Ms),
    String(row.p99Ms),
    String(row.mbPerSec),
    row.firstByteMs === null ? "-" : String(row.firstByteMs),
    row.peakRssGrowthMiB === null ? "-" : String(row.peakRssGrowthMiB),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => (column === 0 ? value.padEnd(widths[column]!) : value.padStart(widths[column]!))).join(" | ")} |`;
  // Markdown: the first column left-aligned, the numbers right-aligned.
  const rule = `|${widths.map((width, column) => (column === 0 ? "-".repeat(width + 2) : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  const failures = report.scenarios.filter((row) => row.errors > 0).map((row) => `${row.id}: ${row.errors} failed; first: ${row.firstError}`);
  const sections = [
    [`Moat bench — ${report.date}, node ${report.node}, ${report.cpus} CPUs, concurrency ${report.args.concurrency}, bounds ${report.args.maxRequests} requests / ${report.args.durationMs / 1000} s per scenario`],
    [line(header), rule, ...cells.map(line)],
    report.comparisons,
    failures.length > 0 ? ["FAILED REQUESTS:", ...failures] : [],
  ];
  return `${sections.filter((section) => section.length > 0).map((section) => section.join("\n")).join("\n\n")}\n`;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
