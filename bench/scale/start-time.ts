// `npm run bench:start`: how long `moat config check` and `moat start` take with N distributions (until "edge listening"), the edge's RSS then, and how long a reload (SIGHUP) rebuilds.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { createBenchPki } from "../compare/bench-pki.ts";
import type { BenchPkiFiles } from "../compare/bench-pki.ts";
import { buildMoat, moatCommand } from "../compare/moat-build.ts";
import { treeStats } from "../compare/proc-stats.ts";
import { loadMasterKey, openCertificateAuthority } from "../../src/pki/index.ts";

const HELP = `npm run bench:start -- [options]

Writes a config of N distributions (alias dI.gK.scale.test, K = I mod --certificates), runs
\`moat config check\` on it (--checks times), starts \`moat start\` from dist/ (built first,
workers: 1), and prints, per run: milliseconds from spawn to the "edge listening" line and the
edge's CPU time until then, that line's length, the edge's RSS then, and each reload's time and
CPU (SIGHUP until "config reloaded"; the "snapshot applied" line's buildMs). A check's CPU time is
the child's user + system time as the kernel counts it for this process's waited-for children.

Options:
  --distributions <n,…>  distribution counts, one edge each (default 1000,10000)
  --viewer <kind>        imported: --certificates wildcard certificates shared by the distributions
                         (default); issued: Moat issues one per distribution
  --client <kind>        imported: one client certificate shared by every origin (default); issued:
                         Moat issues one per origin
  --certificates <k>     distinct imported viewer certificates (default 3)
  --runs <r>             starts per count, on the same data directory (an issued run's first start
                         issues, the later ones reuse; default 2)
  --reloads <r>          SIGHUPs per start (default 2)
  --checks <c>           \`moat config check\` runs per count, before the starts (default 3)
  --cpu-prof <dir>       write a V8 CPU profile of each edge there (node --cpu-prof)
  --json                 the results as JSON
  -h, --help             this text`;

/** Every 4th distribution verifies viewers against a trust store: its context differs from its certificate's plain one. */
const VERIFYING_EVERY = 4;
/** Up to 15 minutes per start or reload: the slowest builds before the snapshot memo took about 3 minutes at 10,000. */
const STEP_TIMEOUT_MS = 900_000;

interface Options {
  counts: number[];
  viewer: "imported" | "issued";
  client: "imported" | "issued";
  certificates: number;
  runs: number;
  reloads: number;
  checks: number;
  cpuProfDir: string | null;
  isJson: boolean;
}

interface RunResult {
  distributions: number;
  run: number;
  listeningMs: number;
  /** The edge's CPU time (user + system) until then: steadier than wall time on a shared machine. */
  listeningCpuMs: number;
  listeningLineBytes: number;
  rssMiB: number;
  reloads: Array<{ ms: number; cpuMs: number; buildMs: number | null }>;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      distributions: { type: "string", default: "1000,10000" },
      viewer: { type: "string", default: "imported" },
      client: { type: "string", default: "imported" },
      certificates: { type: "string", default: "3" },
      runs: { type: "string", default: "2" },
      reloads: { type: "string", default: "2" },
      checks: { type: "string", default: "3" },
      "cpu-prof": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const whole = (flag: string, text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} must be a whole number, not ${text}`);
    return value;
  };
  const kind = (flag: string, text: string) => {
    if (text !== "imported" && text !== "issued") throw new Error(`--${flag} must be imported or issued, not ${text}`);
    return text;
  };
  return {
    counts: values.distributions.split(",").map((text) => whole("distributions", text)),
    viewer: kind("viewer", values.viewer),
    client: kind("client", values.client),
    certificates: Math.max(1, whole("certificates", values.certificates)),
    runs: Math.max(1, whole("runs", values.runs)),
    reloads: whole("reloads", values.reloads),
    checks: whole("checks", values.checks),
    cpuProfDir: values["cpu-prof"] ?? null,
    isJson: values.json,
  };
}

/** K wildcard viewer certificates (*.gK.scale.test) from the bench's CA, written beside its other files. */
async function writeViewerCertificates(dir: string, pki: BenchPkiFiles, count: number): Promise<Array<{ cert: string; key: string }>> {
  const masterKey = await loadMasterKey({ kind: "file", path: pki.masterKeyFile, from: "bench" }, { dataDir: pki.dataDir });
  const ca = await openCertificateAuthority({ dataDir: pki.dataDir, masterKey });
  const files: Array<{ cert: string; key: string }> = [];
  for (let index = 0; index < count; index++) {
    const issued = await ca.issueServerCertificate({ dnsNames: [`*.g${index}.scale.test`], validityMs: 60 * 86_400_000 });
    const cert = join(dir, `viewer-${index}.pem`);
    const key = join(dir, `viewer-${index}.key`);
    await writeFile(cert, issued.chainPem);
    await writeFile(key, issued.keyPem, { mode: 0o600 });
    files.push({ cert, key });
  }
  return files;
}

function configOf(options: Options, pki: BenchPkiFiles, dataDir: string, viewers: Array<{ cert: string; key: string }>, count: number): Record<string, unknown> {
  const issued = { issuedBy: "moat" };
  return {
    dataDir,
    workers: 1,
    pki: { masterKeyFile: pki.masterKeyFile },
    listen: { host: "127.0.0.1", https: 0, http: "off" },
    cache: { memory: { maxSize: "64MiB" }, disk: "off" },
    trustStores: { partners: { caBundle: pki.caBundle } },
    distributions: Array.from({ length: count }, (_, index) => ({
      id: `d${index}`,
      aliases: [`d${index}.g${index % viewers.length}.scale.test`],
      viewerCertificate: options.viewer === "issued" ? issued : viewers[index % viewers.length],
      ...(index % VERIFYING_EVERY === 0 ? { viewerMtls: { mode: "optional", trustStore: "partners" } } : {}),
      // Nothing listens there: start-up makes no origin connection.
      origins: [{ id: "origin", url: "https://localhost:9", mtls: { clientCertificate: options.client === "issued" ? issued : { cert: pki.clientCert, key: pki.clientKey } } }],
    })),
  };
}

/** Lines of the edge's JSON log as they come, with a way to wait for the next one with a given msg. */
function followLog(child: ChildProcess): (msg: string) => Promise<{ line: string; fields: Record<string, unknown> }> {
  const waiting: Array<{ msg: string; resolve: (found: { line: string; fields: Record<string, unknown> }) => void }> = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on("line", (line) => {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (Number(fields.level) >= 50) process.stderr.write(`edge: ${line.slice(0, 2000)}\n`);
    const index = waiting.findIndex((wait) => wait.msg === fields.msg);
    if (index !== -1) waiting.splice(index, 1)[0]!.resolve({ line, fields });
  });
  return (msg) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
      const onExit = () => reject(new Error(`moat exited before "${msg}"`));
      child.once("exit", onExit);
      waiting.push({
        msg,
        resolve: (found) => {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(found);
        },
      });
    });
}

interface CheckResult {
  distributions: number;
  run: number;
  ms: number;
  cpuMs: number;
}

/** User + system CPU time, in ms, of this process's children that have exited and been waited for (/proc/self/stat's cutime and cstime). */
function childrenCpuMs(): number {
  const text = readFileSync("/proc/self/stat", "utf8");
  // Fields after the command name: [0] is field 3 (state), cutime is field 16, cstime 17.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on Linux whatever the kernel's HZ. */
const CLOCK_TICKS_PER_SECOND = 100;

/** `moat config check FILE` once, from dist/: wall time and its CPU time; throws unless the config is valid. */
async function checkOnce(configFile: string, count: number, run: number): Promise<CheckResult> {
  const { args, env } = moatCommand(["config", "check", configFile]);
  const cpuBefore = childrenCpuMs();
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (output += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  const ms = performance.now() - startedAt;
  if (code !== 0) throw new Error(`moat config check exited ${code}:\n${output.slice(0, 4000)}`);
  return { distributions: count, run, ms, cpuMs: childrenCpuMs() - cpuBefore };
}

async function runOnce(configFile: string, options: Options, count: number, run: number): Promise<RunResult> {
  const { args, env } = moatCommand(["start", "--config", configFile, "--log-level", "info"]);
  const nodeArgs = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=start-${count}-${options.viewer}-${run}.cpuprofile`, ...args] : args;
  const startedAt = performance.now();
  const child = spawn(process.execPath, nodeArgs, { stdio: ["ignore", "pipe", "inherit"], env });
  const next = followLog(child);
  try {
    const listening = await next("edge listening");
    const listeningMs = performance.now() - startedAt;
    const atListening = treeStats(child.pid!);
    const rssMiB = atListening.rssBytes / 1048576;
    const reloads: RunResult["reloads"] = [];
    for (let index = 0; index < options.reloads; index++) {
      const reloadedAt = performance.now();
      const cpuBefore = treeStats(child.pid!).cpuMicros;
      const applied = next("snapshot applied");
      const reloaded = next("config reloaded");
      child.kill("SIGHUP");
      const { fields } = await applied;
      await reloaded;
      reloads.push({ ms: performance.now() - reloadedAt, cpuMs: (treeStats(child.pid!).cpuMicros - cpuBefore) / 1000, buildMs: typeof fields.buildMs === "number" ? fields.buildMs : null });
    }
    return { distributions: count, run, listeningMs, listeningCpuMs: atListening.cpuMicros / 1000, listeningLineBytes: Buffer.byteLength(listening.line), rssMiB, reloads };
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  process.stderr.write("bench:start: building Moat…\n");
  await buildMoat();
  const dir = await mkdtemp(join(tmpdir(), "moat-bench-start-"));
  const results: RunResult[] = [];
  const checks: CheckResult[] = [];
  try {
    const pki = await createBenchPki(dir, { viewerNames: ["*.scale.test"] });
    const viewers = await writeViewerCertificates(join(dir, "certs"), pki, options.certificates);
    for (const count of options.counts) {
      // The CA is the bench's: each count gets a copy of its data directory (and issues into that copy).
      const dataDir = join(dir, `data-${count}`);
      await cp(pki.dataDir, dataDir, { recursive: true });
      const configFile = join(dir, `moat-${count}.json`);
      await writeFile(configFile, JSON.stringify(configOf(options, pki, dataDir, viewers, count)));
      for (let run = 1; run <= options.checks; run++) {
        const check = await checkOnce(configFile, count, run);
        checks.push(check);
        process.stderr.write(`bench:start: ${formatCheck(check)}\n`);
      }
      for (let run = 1; run <= options.runs; run++) {
        process.stderr.write(`bench:start: ${count.toLocaleString("en")} distributions, run ${run}/${options.runs}…\n`);
        const result = await runOnce(configFile, options, count, run);
        results.push(result);
        process.stderr.write(`bench:start: ${formatResult(result)}\n`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const heading = `viewer certificates ${options.viewer}${options.viewer === "imported" ? ` (${options.certificates} shared)` : ""}, origin client certificates ${options.client}, every ${VERIFYING_EVERY}th distribution verifying viewers`;
  process.stdout.write(options.isJson ? `${JSON.stringify({ settings: options, checks, results }, null, 2)}\n` : `${heading}\n${[...checks.map(formatCheck), ...results.map(formatResult)].join("\n")}\n`);
  return 0;
}

function formatCheck(check: CheckResult): string {
  return `${check.distributions.toLocaleString("en")} distributions, check ${check.run}: moat config check ${(check.ms / 1000).toFixed(2)} s (CPU ${(check.cpuMs / 1000).toFixed(2)} s)`;
}

function formatResult(result: RunResult): string {
  const reloads = result.reloads.map((reload) => `${(reload.ms / 1000).toFixed(2)} s, CPU ${(reload.cpuMs / 1000).toFixed(2)} s (build ${reload.buildMs ?? "?"} ms)`).join("; ");
  return `${result.distributions.toLocaleString("en")} distributions, run ${result.run}: edge listening after ${(result.listeningMs / 1000).toFixed(2)} s (CPU ${(result.listeningCpuMs / 1000).toFixed(2)} s), RSS ${result.rssMiB.toFixed(0)} MiB, listening line ${result.listeningLineBytes.toLocaleString("en")} bytes; reloads ${reloads || "none"}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench:start: ${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
