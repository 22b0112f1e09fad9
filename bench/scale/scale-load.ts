// The scale bench's two loads: filling an edge's cache (h2load walking /k/0..N-1 on one HTTP/2 connection) and hits on keys drawn at random (wrk with a Lua script).
import { open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseH2load, parseWrk } from "../compare/load-tools.ts";
import type { LoadResult } from "../compare/load-tools.ts";
import type { ProcessGroup } from "../compare/processes.ts";
import type { BenchTools } from "../compare/tools.ts";

/** Where the cached keys live: /k/0 … /k/N-1, all answered by the origin with the same small cacheable body. */
export const keyPath = (index: number) => `/k/${index}`;

/**
 * HTTP/2 streams the fill keeps in flight on its one connection. One connection, because h2load starts every
 * client at the first URI: several clients would ask for the same keys at the same time (collapsed into one fill).
 */
const FILL_STREAMS = 128;

/**
 * Asks `host` (SNI and :authority) through the edge on `port` for /k/0 … /k/count-1, each once, in order.
 * @example
 * const fill = await fillKeys(tools, group, { port, host: "d0.scale.test", count: 1_000_000, cpu: "1" });
 */
export async function fillKeys(tools: BenchTools, group: ProcessGroup, request: { port: number; host: string; count: number; cpu: string | null }): Promise<LoadResult> {
  const uriFile = join(tmpdir(), `moat-bench-scale-uris-${process.pid}-${request.host}-${request.port}.txt`);
  try {
    await writeUriFile(uriFile, request.count);
    const args = ["-c1", `-m${FILL_STREAMS}`, `-n${request.count}`, `--base-uri=https://${request.host}:${request.port}`, `--connect-to=127.0.0.1:${request.port}`, `--input-file=${uriFile}`];
    return parseH2load(await runTool(tools, group, "h2load (fill)", tools.h2load, args, request.cpu), null);
  } finally {
    await rm(uriFile, { force: true });
  }
}

/** One path a line: for a million keys about 10 MB, written in slabs rather than a line at a time. */
async function writeUriFile(file: string, count: number): Promise<void> {
  const handle = await open(file, "w");
  try {
    const slab = 50_000;
    for (let start = 0; start < count; start += slab) {
      const lines: string[] = [];
      for (let index = start; index < Math.min(count, start + slab); index++) lines.push(keyPath(index));
      await handle.write(`${lines.join("\n")}\n`);
    }
  } finally {
    await handle.close();
  }
}

/**
 * wrk's Lua: connect to 127.0.0.1 whatever the URL's host (wrk takes SNI and Host from the URL, and the aliases resolve
 * nowhere), and ask each request for a key drawn at random among `keys`, so that lookups land all over a big index.
 */
export function randomKeysScript(keys: number, seed: number): string {
  return `-- written by bench/scale/scale-load.ts
wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end
math.randomseed(${seed})
local keys = ${keys}
request = function()
  return wrk.format(nil, "/k/" .. math.random(0, keys - 1))
end
`;
}

export interface HitLoad {
  port: number;
  /** One wrk process per entry, all at once, each its own SNI and Host (wrk has one per process). */
  hosts: readonly string[];
  connectionsPerHost: number;
  keys: number;
  durationS: number;
  cpu: string | null;
}

/**
 * Runs one wrk (one thread) per host at the same time and sums what they report; seconds is the longest run.
 * @example
 * const hits = await runRandomHits(tools, group, { port, hosts: ["d0.scale.test"], connectionsPerHost: 32, keys: 1000, durationS: 4, cpu: "1" });
 */
export async function runRandomHits(tools: BenchTools, group: ProcessGroup, load: HitLoad): Promise<LoadResult> {
  const scriptFile = join(tmpdir(), `moat-bench-scale-${process.pid}-${load.port}-${load.keys}.lua`);
  await writeFile(scriptFile, randomKeysScript(load.keys, load.port));
  try {
    const results = await Promise.all(
      load.hosts.map(async (host) => {
        const args = ["-t1", `-c${load.connectionsPerHost}`, `-d${load.durationS}s`, "--latency", "-s", scriptFile, `https://${host}:${load.port}/`];
        return parseWrk(await runTool(tools, group, `wrk (${host})`, tools.wrk, args, load.cpu));
      }),
    );
    return sumLoads(results);
  } finally {
    await rm(scriptFile, { force: true });
  }
}

/** Several load generators' results as one: counts added, the longest duration, percentiles of the first (null for more than one). */
export function sumLoads(results: readonly LoadResult[]): LoadResult {
  const succeeded = results.reduce((sum, result) => sum + result.succeeded, 0);
  const errors = results.reduce((sum, result) => sum + result.errors, 0);
  const seconds = Math.max(...results.map((result) => result.seconds));
  const only = results.length === 1 ? results[0]! : null;
  return {
    succeeded,
    errors,
    seconds,
    requestsPerSecond: seconds > 0 ? succeeded / seconds : 0,
    p50Ms: only?.p50Ms ?? null,
    p99Ms: only?.p99Ms ?? null,
    output: results.map((result) => result.output).join("\n"),
  };
}

async function runTool(tools: BenchTools, group: ProcessGroup, name: string, file: string, args: string[], cpu: string | null): Promise<string> {
  const running = group.start(name, file, args, { taskset: tools.taskset, cpu });
  await running.exited;
  if (running.child.exitCode !== 0) throw new Error(`${name} ${args.join(" ")} exited with ${running.child.exitCode ?? running.child.signalCode}:\n${running.output()}`);
  return running.output();
}
