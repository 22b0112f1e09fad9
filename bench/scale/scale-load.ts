// The scale bench's two loads, both wrk with a Lua script: filling an edge's cache (walking /k/0..N-1) and hits on keys drawn at random.
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchOnce } from "../compare/bench-scene.ts";
import { parseWrk } from "../compare/load-tools.ts";
import type { LoadResult } from "../compare/load-tools.ts";
import type { ProcessGroup } from "../compare/processes.ts";
import type { BenchTools } from "../compare/tools.ts";

/** Where the cached keys live: /k/0 … /k/N-1, all answered by the origin with the same small cacheable body. */
export const keyPath = (index: number) => `/k/${index}`;

/** wrk takes SNI and Host from the URL, and the aliases resolve nowhere: connect to 127.0.0.1 whatever the URL's host. */
const RESOLVE_TO_LOOPBACK = `wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end`;

/** What the fill script prints once every key has been answered: wrk itself stops only at its --duration. */
const FILLED_MARKER = "moat-bench-scale-filled";
/**
 * Connections the fill keeps open: enough to keep the edge's core busy with misses, few enough that the edge's pool of
 * origin connections (which the RSS per entry includes) stays small.
 */
const FILL_CONNECTIONS = 16;
/** The slowest fill rate the bench waits for (misses per second) before it calls the fill failed; wrk's --duration. */
const SLOWEST_FILL_PER_SECOND = 100;

/** wrk's Lua for the fill: each request takes the next key (one thread: one counter for all connections); prints the marker at the count-th answer. */
export function walkKeysScript(count: number): string {
  return `-- written by bench/scale/scale-load.ts
${RESOLVE_TO_LOOPBACK}
local count = ${count}
local sent = 0
local answered = 0
request = function()
  local path = "/k/" .. (sent % count)
  sent = sent + 1
  return wrk.format(nil, path)
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == count then
    io.write("\\n${FILLED_MARKER}\\n")
    io.flush()
  end
end
`;
}

/**
 * Asks `host` (SNI and Host) through the edge on `port` for /k/0 … /k/count-1: wrk with FILL_CONNECTIONS keep-alive
 * connections walking the keys, stopped (SIGINT: it then prints its summary) at the count-th answer. That answer need
 * not be the last key's: up to FILL_CONNECTIONS requests are in flight when wrk stops, the last keys among them, and
 * a fill cut short may not be stored. So those last keys are asked for once more, one at a time, with a verifying client.
 * @example
 * const fill = await fillKeys(tools, group, { port, host: "d0.scale.test", count: 1_000_000, cpu: "1", caPem });
 */
export async function fillKeys(tools: BenchTools, group: ProcessGroup, request: { port: number; host: string; count: number; cpu: string | null; caPem: string }): Promise<LoadResult> {
  const result = await walkKeys(tools, group, request);
  for (let index = Math.max(0, request.count - FILL_CONNECTIONS); index < request.count; index++) {
    const answer = await fetchOnce(request.port, keyPath(index), request.caPem, request.host);
    if (answer.status !== 200) throw new Error(`${request.host}${keyPath(index)} answered ${answer.status} after the fill`);
  }
  return result;
}

async function walkKeys(tools: BenchTools, group: ProcessGroup, request: { port: number; host: string; count: number; cpu: string | null }): Promise<LoadResult> {
  const scriptFile = join(tmpdir(), `moat-bench-scale-fill-${process.pid}-${request.host}-${request.port}.lua`);
  await writeFile(scriptFile, walkKeysScript(request.count));
  try {
    const limitS = Math.max(60, Math.ceil(request.count / SLOWEST_FILL_PER_SECOND));
    const args = ["-t1", `-c${FILL_CONNECTIONS}`, `-d${limitS}s`, "-s", scriptFile, `https://${request.host}:${request.port}/`];
    const running = group.start("wrk (fill)", tools.wrk, args, { taskset: tools.taskset, cpu: request.cpu });
    let seen = "";
    let isFilled = false;
    running.child.stdout?.on("data", (chunk: Buffer) => {
      seen = (seen + chunk.toString("utf8")).slice(-200);
      if (!isFilled && seen.includes(FILLED_MARKER)) {
        isFilled = true;
        running.child.kill("SIGINT");
      }
    });
    await running.exited;
    if (!isFilled) throw new Error(`the fill of ${request.count} keys on ${request.host} did not finish in ${limitS} s:\n${running.output()}`);
    if (running.child.exitCode !== 0) throw new Error(`wrk ${args.join(" ")} exited with ${running.child.exitCode ?? running.child.signalCode}:\n${running.output()}`);
    return parseWrk(running.output());
  } finally {
    await rm(scriptFile, { force: true });
  }
}

/** wrk's Lua for the hits: each request asks for a key drawn at random among `keys`, so that lookups land all over a big index. */
export function randomKeysScript(keys: number, seed: number): string {
  return `-- written by bench/scale/scale-load.ts
${RESOLVE_TO_LOOPBACK}
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
