// Reads a process tree's memory (VmRSS) and CPU time (utime + stime) from /proc: nginx's master and workers, Moat and any workers it forks.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, almost always 100). */
const TICKS_PER_SECOND = readTicksPerSecond();

export interface TreeStats {
  rssBytes: number;
  cpuMicros: number;
  processes: number;
}

/**
 * RSS and CPU time summed over `rootPid` and its descendants (taskset execs its command, so the root is the program itself).
 * @example
 * const before = treeStats(edge.pid); // ... load ... ; const cpuMicros = treeStats(edge.pid).cpuMicros - before.cpuMicros;
 */
export function treeStats(rootPid: number): TreeStats {
  const pids = descendantsOf(rootPid);
  let rssBytes = 0;
  let cpuMicros = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    cpuMicros += ((stat.utime + stat.stime) * 1_000_000) / TICKS_PER_SECOND;
    rssBytes += readRssBytes(pid);
  }
  return { rssBytes, cpuMicros, processes: pids.length };
}

/** `rootPid` and every process under it, parents first. */
export function descendantsOf(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function readStat(pid: number): { ppid: number; utime: number; stime: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
}

/** One process's resident memory from /proc/PID/status, in bytes: all of it, and its anonymous, file-backed and shared-memory parts (0 for a process gone). */
export interface ProcessMemory {
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
  shmemBytes: number;
}

export function processMemory(pid: number): ProcessMemory {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // gone: zeros
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { rssBytes: kb("VmRSS"), anonBytes: kb("RssAnon"), fileBytes: kb("RssFile"), shmemBytes: kb("RssShmem") };
}

function readRssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function readTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
