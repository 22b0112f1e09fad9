// `npm run bench:idle`: what an idle `moat start` holds, per process: RSS (anonymous and file-backed) and, with --heap, V8's heap by space.
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createBenchPki } from "./compare/bench-pki.ts";
import { fetchOnce, moatBenchConfig } from "./compare/bench-scene.ts";
import { buildMoat, moatCommand } from "./compare/moat-build.ts";
import { descendantsOf, processMemory } from "./compare/proc-stats.ts";
import { ProcessGroup } from "./compare/processes.ts";

const HELP = `npm run bench:idle -- [options]

Starts \`moat start\` from dist/ (built first) as the side-by-side bench does (edge flags, malloc
settings, its one-distribution config: an imported viewer certificate, an mTLS origin with an
imported client certificate), against a Node mTLS origin in this process; asks for one cacheable
path, rests, and reads each process's RSS from /proc (VmRSS = RssAnon + RssFile + RssShmem).

Options:
  --workers <n|auto>   the config's workers (default 1; Moat's own default is auto, one per core)
  --runs <r>           edges started one after the other (default 3)
  --rest <ms>          rest after the request before reading (default 5000, as npm run bench)
  --log-level <level>  moat start --log-level (default warn, as npm run bench's Moat)
  --heap               also V8's heap per process (a preload answers SIGUSR2 with
                       process.memoryUsage() and the heap's spaces; it adds about 0.1 MB)
  --no-build           run dist/ as it is
  --json               the results as JSON
  -h, --help           this text`;

const READY_TIMEOUT_MS = 60_000;
const HEAP_REPORT_TIMEOUT_MS = 5_000;
const BODY = Buffer.alloc(1024, "m");
/** The side-by-side bench's unit (compare-report.ts): 10^6 bytes. */
const MB = 1_000_000;

interface ProcessReading {
  role: string;
  pid: number;
  rssMB: number;
  anonMB: number;
  fileMB: number;
  heap?: HeapReport;
}

interface HeapReport {
  memoryUsage: NodeJS.MemoryUsage;
  spaces: Array<{ space_name: string; space_size: number; space_used_size: number }>;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      workers: { type: "string", default: "1" },
      runs: { type: "string", default: "3" },
      rest: { type: "string", default: "5000" },
      "log-level": { type: "string", default: "warn" },
      heap: { type: "boolean", default: false },
      "no-build": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return void console.log(HELP), 0;
  const workers = values.workers === "auto" ? "auto" : Number(values.workers);
  const runs = Number(values.runs);
  const restMs = Number(values.rest);
  if ((workers !== "auto" && !(Number.isInteger(workers) && workers >= 1)) || !(runs >= 1) || !(restMs >= 0)) {
    console.error(`bench:idle: --workers is auto or a count, --runs a count, --rest milliseconds\n\n${HELP}`);
    return 2;
  }
  if (!values["no-build"]) await buildMoat();
  const dir = await mkdtemp(join(tmpdir(), "moat-bench-idle-"));
  const group = new ProcessGroup();
  const origin = await startOrigin(await createBenchPki(dir));
  const results: ProcessReading[][] = [];
  try {
    for (let run = 1; run <= runs; run += 1) {
      const readings = await idleRun({ dir: join(dir, `run-${run}`), pki: origin.pki, originPort: origin.port, workers, restMs, logLevel: values["log-level"], heap: values.heap, group });
      results.push(readings);
      if (!values.json) printRun(run, readings);
    }
  } finally {
    await group.stopAll();
    origin.server.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (values.json) console.log(JSON.stringify({ workers, restMs, logLevel: values["log-level"], runs: results }, null, 2));
  return 0;
}

/** An mTLS origin (its client must present a certificate from Moat's CA) answering every path with 1 KiB, cacheable for an hour. */
async function startOrigin(pki: Awaited<ReturnType<typeof createBenchPki>>): Promise<{ server: https.Server; port: number; pki: typeof pki }> {
  const [cert, key, ca] = await Promise.all([readFile(pki.originCert), readFile(pki.originKey), readFile(pki.caBundle)]);
  const server = https.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (_request, response) => {
    response.writeHead(200, { "cache-control": "public, max-age=3600", "content-type": "application/octet-stream", "content-length": BODY.length });
    response.end(BODY);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port, pki };
}

async function idleRun(options: { dir: string; pki: Awaited<ReturnType<typeof createBenchPki>>; originPort: number; workers: number | "auto"; restMs: number; logLevel: string; heap: boolean; group: ProcessGroup }): Promise<ProcessReading[]> {
  const { cp, mkdir } = await import("node:fs/promises");
  await mkdir(options.dir, { recursive: true });
  const dataDir = join(options.dir, "data");
  await cp(options.pki.dataDir, dataDir, { recursive: true });
  const port = await freePort();
  const configFile = join(options.dir, "moat.json");
  await writeFile(configFile, JSON.stringify(moatBenchConfig(dataDir, options.pki, { port, originPort: options.originPort, workers: options.workers })));
  const { args, env } = moatCommand(["start", "--config", configFile, "--log-level", options.logLevel]);
  const heapDir = join(options.dir, "heap");
  if (options.heap) await mkdir(heapDir);
  const nodeArgs = process.env.MOAT_BENCH_PRELOAD ? ["--import", process.env.MOAT_BENCH_PRELOAD, ...args] : options.heap ? ["--import", new URL("./heap-report-hook.mjs", import.meta.url).pathname, ...args] : args;
  const moat = options.group.start("moat", process.execPath, nodeArgs, { env: { ...env, MOAT_BENCH_HEAP_DIR: heapDir }, stdout: "ignore" });
  try {
    const caPem = await readFile(options.pki.caBundle, "utf8");
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (moat.child.exitCode !== null) throw new Error(`moat start exited:\n${moat.output()}`);
      const answer = await fetchOnce(port, "/cache/1024", caPem).catch(() => null);
      if (answer?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`moat start did not answer within ${READY_TIMEOUT_MS / 1000} s:\n${moat.output()}`);
      await sleep(100);
    }
    await sleep(options.restMs);
    const pids = descendantsOf(moat.pid);
    const readings = pids.map((pid, index): ProcessReading => {
      const memory = processMemory(pid);
      return { role: pids.length === 1 ? "alone" : index === 0 ? "primary" : `worker ${index}`, pid, rssMB: memory.rssBytes / MB, anonMB: memory.anonBytes / MB, fileMB: memory.fileBytes / MB };
    });
    if (options.heap) {
      for (const reading of readings) reading.heap = await heapReport(reading.pid, heapDir);
    }
    return readings;
  } finally {
    await options.group.stop(moat);
  }
}

/** Asks the preload in `pid` for its heap report (after the RSS was read: writing it allocates) and waits for the file. */
async function heapReport(pid: number, dir: string): Promise<HeapReport> {
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + HEAP_REPORT_TIMEOUT_MS;
  for (;;) {
    const text = await readFile(join(dir, `heap-${pid}.json`), "utf8").catch(() => null);
    if (text) return JSON.parse(text) as HeapReport;
    if (Date.now() > deadline) throw new Error(`process ${pid} wrote no heap report within ${HEAP_REPORT_TIMEOUT_MS / 1000} s`);
    await sleep(50);
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function printRun(run: number, readings: ProcessReading[]): void {
  const mb = (bytes: number) => (bytes / MB).toFixed(1);
  for (const reading of readings) {
    let line = `run ${run} ${reading.role}: RSS ${reading.rssMB.toFixed(1)} MB (anon ${reading.anonMB.toFixed(1)}, file ${reading.fileMB.toFixed(1)})`;
    if (reading.heap) {
      const { memoryUsage, spaces } = reading.heap;
      line += `; heap ${mb(memoryUsage.heapUsed)} used of ${mb(memoryUsage.heapTotal)}, external ${mb(memoryUsage.external)} (buffers ${mb(memoryUsage.arrayBuffers)}); `;
      line += spaces.map((space) => `${space.space_name.replace(/_space$/, "")} ${mb(space.space_used_size)}/${mb(space.space_size)}`).join(", ");
    }
    console.log(line);
  }
  const total = readings.reduce((sum, reading) => sum + reading.rssMB, 0);
  if (readings.length > 1) console.log(`run ${run} all processes: RSS ${total.toFixed(1)} MB`);
}

process.exitCode = await main();
