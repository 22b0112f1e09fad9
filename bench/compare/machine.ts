// Describes the machine a run happened on: CPUs, kernel, load, and the versions of Node, nginx, wrk and h2load.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, release } from "node:os";
import type { BenchTools } from "./tools.ts";

export interface MachineDescription {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  nginx: string;
  wrk: string;
  h2load: string;
  /** 1-minute load average when the run started: above 0 means something else was using the CPUs. */
  loadAverageAtStart: number;
}

/**
 * @example
 * const machine = describeMachine(tools); // { cpus: 2, cpuModel: "AMD EPYC ...", kernel: "6.1.0", ... }
 */
export function describeMachine(tools: BenchTools): MachineDescription {
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(readText("/proc/cpuinfo"))?.[1]?.trim() ?? "unknown",
    kernel: release(),
    node: process.version,
    nginx: versionOf(tools.nginx, ["-v"], /nginx\/(\S+)/),
    wrk: versionOf(tools.wrk, ["-v"], /wrk (\S+)/),
    h2load: versionOf(tools.h2load, ["--version"], /nghttp2\/(\S+)/),
    loadAverageAtStart: Math.round(loadavg()[0]! * 100) / 100,
  };
}

function versionOf(file: string, args: string[], pattern: RegExp): string {
  const run = spawnSync(file, args, { encoding: "utf8", timeout: 5000 });
  return pattern.exec(`${run.stdout ?? ""}${run.stderr ?? ""}`)?.[1] ?? "unknown";
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
