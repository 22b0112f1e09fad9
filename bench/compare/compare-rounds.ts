// Runs every case against every peer in turn, round after round, and records throughput, latency, errors and the edge's CPU time per request.
import { setTimeout as sleep } from "node:timers/promises";
import type { Peer, PeerId, Scene } from "./bench-scene.ts";
import { fetchOnce } from "./bench-scene.ts";
import type { CompareCase } from "./compare-cases.ts";
import { runLoad } from "./load-tools.ts";
import type { ProcessGroup } from "./processes.ts";
import { treeStats } from "./proc-stats.ts";
import type { BenchTools } from "./tools.ts";

export interface RunSample {
  round: number;
  caseId: string;
  peer: PeerId;
  requestsPerSecond: number;
  succeeded: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** utime + stime of the peer's processes over the run, divided by the requests answered. */
  cpuMicrosPerRequest: number | null;
}

export interface MemorySample {
  peer: PeerId;
  idleBytes: number;
  afterLoadBytes: number;
  /** After the load stopped and the edges rested REST_MS. */
  afterRestBytes: number;
  /** After LONG_REST_MS of rest: past the 30 s of idleness after which Moat gives a burst's memory back. */
  afterLongRestBytes: number;
}

export interface RoundsOptions {
  tools: BenchTools;
  group: ProcessGroup;
  scene: Scene;
  cases: CompareCase[];
  rounds: number;
  durationS: number;
  connections: number;
  ratePerSecond: number;
  /** Told before each run, for progress on stderr. */
  onProgress(text: string): void;
}

export const REST_MS = 5000;
/** The second reading after the load: Moat's idle release waits for 30 s of idleness after a burst (idle-memory.ts). */
export const LONG_REST_MS = 35_000;
/** Unmeasured seconds of load on each peer first, so that every peer's first measured run finds its code warm. */
const WARM_UP_S = 1;

/** A whole run's estimated length, printed before it starts. */
export function estimateSeconds(cases: CompareCase[], rounds: number, durationS: number): number {
  const runs = cases.reduce((sum, compareCase) => sum + compareCase.peers.length, 0);
  return Math.round(15 + 4 * WARM_UP_S + rounds * runs * (durationS + 0.5) + (REST_MS + LONG_REST_MS) / 1000);
}

/**
 * @example
 * const { samples, memory } = await runRounds({ tools, group, scene, cases: COMPARE_CASES, rounds: 3, durationS: 5, ... });
 */
export async function runRounds(options: RoundsOptions): Promise<{ samples: RunSample[]; memory: MemorySample[] }> {
  const { scene } = options;
  const peers = new Map(scene.peers.map((peer) => [peer.id, peer]));
  // Each cacheable path requested once per edge, so that measured runs are hits from their first request.
  for (const peer of scene.peers) {
    for (const path of new Set(options.cases.map((compareCase) => compareCase.path))) await fetchOnce(peer.port, path, scene.caPem);
  }
  // Idle is read as the rest is, after 5 s without a request: a process that just started or just answered is not idle yet (Moat gives start-up's memory back 2–4 s after it first goes idle; a later burst's after 30 s of idleness).
  options.onProgress(`resting ${REST_MS / 1000} s, then idle RSS`);
  await sleep(REST_MS);
  const idle = new Map(scene.peers.map((peer) => [peer.id, treeStats(peer.process.pid).rssBytes]));
  for (const peer of scene.peers) {
    options.onProgress(`warm-up ${peer.label}`);
    await runLoad(options.tools, options.group, { kind: "h1", port: peer.port, path: "/cache/1024", durationS: WARM_UP_S, connections: options.connections, ratePerSecond: options.ratePerSecond, cpu: scene.loadCpu });
  }

  const samples: RunSample[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const compareCase of options.cases) {
      // Peers take turns, and the order rotates each round, so that a slow patch of a shared machine does not always hit the same peer.
      const order = rotate(compareCase.peers, round - 1);
      for (const peerId of order) {
        const peer = peers.get(peerId);
        if (!peer) continue;
        options.onProgress(`round ${round}/${options.rounds}: ${compareCase.title} — ${peer.label}`);
        samples.push(await measure(options, compareCase, peer, round));
      }
    }
  }

  const afterLoad = new Map(scene.peers.map((peer) => [peer.id, treeStats(peer.process.pid).rssBytes]));
  options.onProgress(`resting ${REST_MS / 1000} s, then RSS again`);
  await sleep(REST_MS);
  const afterRest = new Map(scene.peers.map((peer) => [peer.id, treeStats(peer.process.pid).rssBytes]));
  options.onProgress(`resting to ${LONG_REST_MS / 1000} s, then RSS once more`);
  await sleep(LONG_REST_MS - REST_MS);
  const memory = scene.peers.map((peer) => ({
    peer: peer.id,
    idleBytes: idle.get(peer.id) ?? 0,
    afterLoadBytes: afterLoad.get(peer.id) ?? 0,
    afterRestBytes: afterRest.get(peer.id) ?? 0,
    afterLongRestBytes: treeStats(peer.process.pid).rssBytes,
  }));
  return { samples, memory };
}

async function measure(options: RoundsOptions, compareCase: CompareCase, peer: Peer, round: number): Promise<RunSample> {
  const before = treeStats(peer.process.pid);
  const result = await runLoad(options.tools, options.group, {
    kind: compareCase.kind,
    port: compareCase.kind === "h2" ? peer.h2Port : peer.port,
    path: compareCase.path,
    durationS: options.durationS,
    connections: options.connections,
    ratePerSecond: options.ratePerSecond,
    cpu: options.scene.loadCpu,
  });
  const cpuMicros = treeStats(peer.process.pid).cpuMicros - before.cpuMicros;
  return {
    round,
    caseId: compareCase.id,
    peer: peer.id,
    requestsPerSecond: result.requestsPerSecond,
    succeeded: result.succeeded,
    errors: result.errors,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    cpuMicrosPerRequest: result.succeeded > 0 ? cpuMicros / result.succeeded : null,
  };
}

function rotate<T>(items: T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
