// Turns the run's samples into medians per case and peer, Moat/nginx and Moat/ceiling ratios, a Markdown table and JSON.
import type { PeerId } from "./bench-scene.ts";
import type { CompareArgs } from "./compare-args.ts";
import type { CompareCase } from "./compare-cases.ts";
import type { MemorySample, RunSample } from "./compare-rounds.ts";
import type { MachineDescription } from "./machine.ts";

export interface PeerSummary {
  /** Median over the rounds; `runs` holds each round's value. */
  requestsPerSecond: number;
  runs: number[];
  p50Ms: number | null;
  p99Ms: number | null;
  cpuMicrosPerRequest: number | null;
  errors: number;
}

export interface CaseSummary {
  id: string;
  title: string;
  isFixedRate: boolean;
  peers: Partial<Record<PeerId, PeerSummary>>;
  /** Moat (warn) over nginx and over the ceiling: req/s for throughput cases; for all, p99 Moat/nginx. */
  moatOverNginx: number | null;
  moatOverCeiling: number | null;
  p99MoatOverNginx: number | null;
  /** Moat at info (access log on) over Moat at warn, where both ran. */
  infoOverWarn: number | null;
}

export interface CompareReport {
  command: string;
  machine: MachineDescription;
  settings: { durationS: number; rounds: number; workers: number; connections: number; ratePerSecond: number; edgeCpu: string | null; loadCpu: string | null };
  cases: CaseSummary[];
  memory: MemorySample[];
  samples: RunSample[];
  totalErrors: number;
  elapsedS: number;
}

/**
 * @example
 * const report = buildCompareReport({ cases: COMPARE_CASES, samples, memory, machine, args, ... });
 * process.stdout.write(formatCompareReport(report));
 */
export function buildCompareReport(input: {
  cases: CompareCase[];
  samples: RunSample[];
  memory: MemorySample[];
  machine: MachineDescription;
  args: CompareArgs;
  edgeCpu: string | null;
  loadCpu: string | null;
  elapsedS: number;
  command: string;
}): CompareReport {
  const cases = input.cases.map((compareCase): CaseSummary => {
    const peers: Partial<Record<PeerId, PeerSummary>> = {};
    for (const peer of compareCase.peers) {
      const runs = input.samples.filter((sample) => sample.caseId === compareCase.id && sample.peer === peer);
      if (runs.length === 0) continue;
      peers[peer] = {
        requestsPerSecond: median(runs.map((run) => run.requestsPerSecond))!,
        runs: runs.map((run) => Math.round(run.requestsPerSecond)),
        p50Ms: median(runs.flatMap((run) => (run.p50Ms === null ? [] : [run.p50Ms]))),
        p99Ms: median(runs.flatMap((run) => (run.p99Ms === null ? [] : [run.p99Ms]))),
        cpuMicrosPerRequest: median(runs.flatMap((run) => (run.cpuMicrosPerRequest === null ? [] : [run.cpuMicrosPerRequest]))),
        errors: runs.reduce((sum, run) => sum + run.errors, 0),
      };
    }
    const rps = (peer: PeerId) => peers[peer]?.requestsPerSecond;
    const p99 = (peer: PeerId) => peers[peer]?.p99Ms ?? undefined;
    return {
      id: compareCase.id,
      title: compareCase.title,
      isFixedRate: compareCase.isFixedRate,
      peers,
      moatOverNginx: compareCase.isFixedRate ? null : ratio(rps("moat"), rps("nginx")),
      moatOverCeiling: compareCase.isFixedRate ? null : ratio(rps("moat"), rps("ceiling")),
      p99MoatOverNginx: ratio(p99("moat"), p99("nginx")),
      infoOverWarn: ratio(rps("moat-info"), rps("moat")),
    };
  });
  return {
    command: input.command,
    machine: input.machine,
    settings: {
      durationS: input.args.durationMs / 1000,
      rounds: input.args.rounds,
      workers: input.args.workers,
      connections: input.args.connections,
      ratePerSecond: input.args.ratePerSecond,
      edgeCpu: input.edgeCpu,
      loadCpu: input.loadCpu,
    },
    cases,
    memory: input.memory,
    samples: input.samples,
    totalErrors: input.samples.reduce((sum, sample) => sum + sample.errors, 0),
    elapsedS: input.elapsedS,
  };
}

/** Markdown: the machine, the table of medians and ratios, RSS per peer, the Moat (info) line. */
export function formatCompareReport(report: CompareReport): string {
  const { machine, settings } = report;
  const lines = [
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), Linux ${machine.kernel}, Node ${machine.node}, nginx ${machine.nginx}, wrk ${machine.wrk}, h2load ${machine.h2load}; load average ${machine.loadAverageAtStart} at start`,
    `settings: ${settings.rounds} rounds × ${settings.durationS} s per case and peer, ${settings.workers} worker(s), ${settings.connections} connections, fixed rate ${settings.ratePerSecond} req/s; ` +
      (settings.edgeCpu === null ? "unpinned" : `edges on CPU ${settings.edgeCpu}, load generator and origin on CPU ${settings.loadCpu}`),
    "",
    "| case | Moat | nginx | Node ceiling | Moat/nginx | Moat/ceiling | p50 ms Moat / nginx | p99 ms Moat / nginx | edge CPU µs/req Moat / nginx / ceiling | errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const summary of report.cases) {
    const moat = summary.peers.moat;
    const nginx = summary.peers.nginx;
    const ceiling = summary.peers.ceiling;
    const errors = Object.values(summary.peers).reduce((sum, peer) => sum + (peer?.errors ?? 0), 0);
    lines.push(
      `| ${summary.title} | ${rate(moat)} | ${rate(nginx)} | ${rate(ceiling)} | ${fixed(summary.moatOverNginx)} | ${fixed(summary.moatOverCeiling)} | ` +
        `${ms(moat?.p50Ms)} / ${ms(nginx?.p50Ms)} | ${ms(moat?.p99Ms)} / ${ms(nginx?.p99Ms)} | ` +
        `${micros(moat)} / ${micros(nginx)} / ${micros(ceiling)} | ${errors} |`,
    );
  }
  lines.push("", "Requests/s are medians over the rounds; fixed-rate rows show the rate achieved. \"-\": the peer does not take part in that case.");
  for (const summary of report.cases) {
    const info = summary.peers["moat-info"];
    if (!info || summary.infoOverWarn === null) continue;
    lines.push(`Moat at --log-level info (access log to /dev/null), ${summary.title}: ${rate(info)} req/s, ${fixed(summary.infoOverWarn)}× Moat at warn, ${micros(info)} µs/req.`);
  }
  lines.push("", "| RSS MB | idle | after load | after 5 s rest | after 35 s rest |", "|---|---:|---:|---:|---:|");
  for (const sample of report.memory) {
    lines.push(`| ${sample.peer} | ${mb(sample.idleBytes)} | ${mb(sample.afterLoadBytes)} | ${mb(sample.afterRestBytes)} | ${mb(sample.afterLongRestBytes)} |`);
  }
  lines.push("", `${report.totalErrors} failed requests; ${Math.round(report.elapsedS)} s in all.`, "");
  return lines.join("\n");
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | null {
  return numerator === undefined || denominator === undefined || denominator === 0 ? null : numerator / denominator;
}

function rate(peer: PeerSummary | undefined): string {
  if (!peer) return "-";
  return peer.requestsPerSecond >= 1000 ? `${(peer.requestsPerSecond / 1000).toFixed(1)} k` : String(Math.round(peer.requestsPerSecond));
}

function fixed(value: number | null): string {
  return value === null ? "-" : value.toFixed(2);
}

function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return value >= 10 ? value.toFixed(0) : value.toFixed(2);
}

function micros(peer: PeerSummary | undefined): string {
  return peer?.cpuMicrosPerRequest === null || peer?.cpuMicrosPerRequest === undefined ? "-" : peer.cpuMicrosPerRequest.toFixed(0);
}

function mb(bytes: number): string {
  return (bytes / 1_000_000).toFixed(0);
}
