// CPU per HTTP/2 cache hit of two source trees, A/B: each edge is its own process, h2load (-c32 -m10, a fixed count) loads them in turn.
//
//   node bench/h2-hit-cost.ts --a /work/main/src --b src [--requests 40000] [--rounds 7] [--prewarm 5000] [--log warn|info] [--path /hit] [--callgrind]
//
// Prints, per round and as medians with their spread, each edge's CPU (user+system, from process.cpuUsage in that
// edge process) per request over exactly --requests requests: a count that does not depend on what else the machine
// runs, unlike requests per second (which it prints too, for a quiet machine). The rounds interleave A and B and
// alternate which goes first, so that a neighbour's load falls on both. With --callgrind each edge runs under
// valgrind (apt-get install valgrind) and the report adds the instructions each executed per request (all its
// threads: JIT, GC, libuv): a count other processes do not move. Valgrind runs the edge some 50 times slower,
// so give it a small --requests and --warmup (a few thousand) and expect minutes.
import { fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const HOUR_MS = 3_600_000;
const HOST = "localhost";
const BODY = Buffer.alloc(1024, "m");

interface Message {
  type: string;
  [field: string]: unknown;
}

function next(from: NodeJS.Process | ChildProcess, type: string): Promise<Message> {
  return new Promise((done) => {
    const on = (message: Message) => {
      if (message.type !== type) return;
      from.off("message", on);
      done(message);
    };
    from.on("message", on);
  });
}

/** One edge from one source tree, with its own mTLS origin; answers "cpu" with its process.cpuUsage. */
async function edgeProcess(src: string, level: string): Promise<void> {
  const { parseConfig } = await import(join(src, "config/index.ts"));
  const { runEdge } = await import(join(src, "edge/index.ts"));
  const { createLogger } = await import(join(src, "observe/index.ts"));
  const { createEphemeralCertificateAuthority, generateMasterKey } = await import(join(src, "pki/index.ts"));
  const ca = await createEphemeralCertificateAuthority();
  const originCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
  const origin = https.createServer({ key: originCertificate.keyPem, cert: originCertificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length, "cache-control": req.url === "/hit" ? "public, max-age=3600" : "no-store" });
    res.end(BODY);
  });
  await new Promise<void>((done) => origin.listen(0, "127.0.0.1", done));
  const dataDir = await mkdtemp(join(tmpdir(), "moat-h2cost-"));
  const config = parseConfig(
    { dataDir, listen: { host: "127.0.0.1", https: 0, http: "off" }, distributions: [{ id: "bench", aliases: [HOST], origins: [{ id: "origin", url: `https://localhost:${(origin.address() as AddressInfo).port}` }] }] },
    { source: "h2-hit-cost", baseDir: dataDir },
  );
  const edge = await runEdge({ config, ca, masterKey: generateMasterKey(), log: createLogger({ level }) });
  process.on("message", async (message: Message) => {
    if (message.type === "cpu") {
      const cpu = process.cpuUsage();
      process.send?.({ type: "cpu", us: cpu.user + cpu.system });
    } else if (message.type === "stop") {
      await edge.stop();
      origin.closeAllConnections();
      origin.close();
      await rm(dataDir, { recursive: true, force: true });
      process.disconnect();
    }
  });
  process.send?.({ type: "ready", port: edge.httpsPort });
}

function h2load(port: number, path: string, requests: number): Promise<{ rps: number; ok: number; failed: number }> {
  return new Promise((done, fail) => {
    const child = spawn("h2load", ["-t1", "-c32", "-m10", `-n${requests}`, `https://${HOST}:${port}${path}`], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.once("error", fail);
    child.once("close", () => {
      const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
      const status = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(out);
      const twoXX = Number(/status codes: (\d+) 2xx/.exec(out)?.[1] ?? 0);
      done({ rps, ok: Math.min(Number(status?.[1] ?? 0), twoXX), failed: Number(status?.[2] ?? requests) });
    });
  });
}

function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median: Math.round(median * 10) / 10, min: Math.round((sorted[0] as number) * 10) / 10, max: Math.round((sorted.at(-1) as number) * 10) / 10 };
}

async function driver(): Promise<void> {
  const { values } = parseArgs({ options: { a: { type: "string" }, b: { type: "string" }, requests: { type: "string", default: "40000" }, rounds: { type: "string", default: "7" }, log: { type: "string", default: "warn" }, path: { type: "string", default: "/hit" }, warmup: { type: "string", default: "20000" }, callgrind: { type: "boolean", default: false }, prewarm: { type: "string", default: "5000" } } });
  const dumpDir = values.callgrind ? await mkdtemp(join(tmpdir(), "moat-h2cost-callgrind-")) : "";
  const trees = [values.a, values.b].filter((tree): tree is string => tree !== undefined).map((tree) => resolve(tree));
  const requests = Number(values.requests);
  const edges = trees.map((src) =>
    fork(new URL(import.meta.url).pathname, ["edge", src, values.log], {
      ...(values.callgrind
        ? { execPath: "valgrind", execArgv: ["--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${dumpDir}/out.%p`, process.execPath, "--max-semi-space-size=8"] }
        : { execArgv: ["--max-semi-space-size=8"] }),
      env: { ...process.env, MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072", MALLOC_TRIM_THRESHOLD_: "131072" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    }),
  );
  const ports = (await Promise.all(edges.map((edge) => next(edge, "ready")))).map((ready) => ready.port as number);
  const cpuOf = async (edge: ChildProcess) => {
    edge.send({ type: "cpu" });
    return (await next(edge, "cpu")).us as number;
  };
  // Callgrind's count since it was zeroed: dumped, and read from the dump's totals line.
  const instructionsOf = async (edge: ChildProcess, isZeroing: boolean) => {
    if (!values.callgrind) return Number.NaN;
    const { execFileSync } = await import("node:child_process");
    const { readdir, readFile } = await import("node:fs/promises");
    execFileSync("callgrind_control", [isZeroing ? "-z" : "-d", String(edge.pid)], { stdio: "ignore" });
    if (isZeroing) return 0;
    const dumps = (await readdir(dumpDir)).filter((name) => name.startsWith(`out.${edge.pid}.`)).sort((x, y) => Number(x.split(".").at(-1)) - Number(y.split(".").at(-1)));
    const text = await readFile(join(dumpDir, dumps.at(-1) as string), "utf8");
    return Number(/^(?:totals|summary): (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  // Warm-up: the first request fills the cache; the rest let the JIT settle.
  for (const port of ports) await h2load(port, values.path, Number(values.warmup));
  const results = trees.map(() => ({ us: [] as number[], rps: [] as number[], instructions: [] as number[] }));
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = trees.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const edge = edges[index] as ChildProcess;
      // Right before each measured run: an edge that sat idle through the other's run measured 40-80 % more CPU
      // per request in its first seconds back (V8 shrinks its young generation and cools its code while idle).
      await h2load(ports[index] as number, values.path, Number(values.prewarm));
      await instructionsOf(edge, true);
      const before = await cpuOf(edge);
      const load = await h2load(ports[index] as number, values.path, requests);
      const after = await cpuOf(edge);
      const instructions = (await instructionsOf(edge, false)) / requests;
      results[index]?.instructions.push(instructions);
      if (load.ok !== requests) throw new Error(`round ${round}: ${trees[index]} answered ${load.ok} of ${requests} with 2xx (${load.failed} failed)`);
      const us = (after - before) / requests;
      results[index]?.us.push(us);
      results[index]?.rps.push(load.rps);
      process.stderr.write(`round ${round + 1} ${trees[index]}: ${us.toFixed(1)} µs/req, ${Math.round(load.rps)} req/s${values.callgrind ? `, ${Math.round(instructions)} instructions/req` : ""}\n`);
    }
  }
  for (const edge of edges) edge.send({ type: "stop" });
  const report = trees.map((tree, index) => ({ tree, cpuUsPerRequest: stats(results[index]?.us ?? []), rps: stats(results[index]?.rps ?? []), ...(values.callgrind ? { instructionsPerRequest: stats(results[index]?.instructions ?? []) } : {}) }));
  // Within a round A and B ran back to back: the ratio of the two is steadier than either under a neighbour's load.
  const [first, second] = results;
  const ratios = first && second ? first.us.map((us, round) => (second.us[round] as number) / us) : [];
  const instructionRatios = values.callgrind && first && second ? first.instructions.map((count, round) => (second.instructions[round] as number) / count) : [];
  if (dumpDir) await rm(dumpDir, { recursive: true, force: true });
  const ratio = ratios.length > 0 ? { cpuBOverA: { median: Math.round(stats(ratios.map((r) => r * 1000)).median) / 1000, min: Math.round(Math.min(...ratios) * 1000) / 1000, max: Math.round(Math.max(...ratios) * 1000) / 1000 }, ...(instructionRatios.length > 0 ? { instructionsBOverA: { median: Math.round(stats(instructionRatios.map((r) => r * 1000)).median) / 1000, min: Math.round(Math.min(...instructionRatios) * 1000) / 1000, max: Math.round(Math.max(...instructionRatios) * 1000) / 1000 } } : {}) } : {};
  process.stdout.write(`${JSON.stringify({ requests, rounds: Number(values.rounds), log: values.log, path: values.path, report, ...ratio })}\n`);
}

if (process.argv[2] === "edge") await edgeProcess(process.argv[3] as string, process.argv[4] as string);
else await driver();
