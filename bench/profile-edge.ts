// Profiles the edge alone: this process runs only the edge; a forked child runs the mTLS origin and the undici load.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-edge.ts [--hits 20000] [--misses 5000] [--log info|warn|silent] [--sync-log] [--access-log on|off|0.1] [--connections 16] [--metrics]
//   node bench/profile-edge.ts --misses 20000 --hits 0 --profile-dir /tmp/prof   a CPU profile of each phase's load only (no startup, no warm-up)
//   node bench/profile-edge.ts --misses 20000 --hits 0 --alloc-profile-dir /tmp/alloc   what each phase's load allocates (sampled, collected objects kept)
//   node bench/profile-edge.ts --h2 [--streams 10] [--connections 32]   viewers over HTTP/2 (node:http2, as h2load -c32 -m10)
//   node bench/profile-edge.ts --log info --access-file /tmp/a/access.log  access lines to log.accessLog.file (rotated) instead of stdout
//   node bench/profile-edge.ts --log info --alternate 10 [--hits 10000]   10 pairs of runs, access log off and on by reload, in one process: the ratio
//   node --expose-gc bench/profile-edge.ts --distributions 10000 --alternate 10 --misses 0   pairs of runs with 1 and with 10,000 distributions
//                                                                       (by reload; the load's alias is the first one's either way): the ratio
//   node --expose-gc bench/profile-edge.ts --distributions 10000 --spread --alternate 10 --misses 0   pairs of runs over one alias
//                                                                       and over 8 aliases of the same 10,000 distributions: the ratio
//   node bench/profile-edge.ts --bare [--h2 [--stream-api]]            Node's own server in place of the edge: the ceiling
//                                                                       (a hit answered at once; a miss, over h1, forwarded by compare/ceiling-proxy.ts)
//
// Handshakes may take 60 s (edge to origin, viewers to edge): an edge run under valgrind (callgrind) still connects.
// Prints the edge process's CPU time per request (user+system, from process.cpuUsage) for each phase and its
// memory (process.memoryUsage) idle and after load. The numbers compare builds on one machine run back to back;
// they are not the side-by-side benchmark (bench/run.ts). Access-log lines go to stdout: redirect it to /dev/null.
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { Client } from "undici";
import { createCeilingProxy } from "./compare/ceiling-proxy.ts";
import type { CeilingProxy } from "./compare/ceiling-proxy.ts";
import { holdTickObjectShape } from "../src/tick-shape.ts";

const HOUR_MS = 3_600_000;
const HOST = "bench.test";
/** Aliases --spread loads at once, spread over the config (bench.test, d1250.bench.test, … of 10,000). */
const SPREAD_ALIASES = 8;
const BODY = Buffer.alloc(1024, "m");

interface Message {
  type: string;
  [field: string]: unknown;
}

function send(to: NodeJS.Process | ChildProcess, message: Message): void {
  (to.send as (m: Message) => void)(message);
}

function next(from: NodeJS.Process | ChildProcess, type: string): Promise<Message> {
  return new Promise((resolve) => {
    const on = (message: Message) => {
      if (message.type !== type) return;
      from.off("message", on);
      resolve(message);
    };
    from.on("message", on);
  });
}

async function edgeProcess(): Promise<void> {
  const { values } = parseArgs({ options: { hits: { type: "string", default: "20000" }, misses: { type: "string", default: "5000" }, log: { type: "string", default: "warn" }, "sync-log": { type: "boolean", default: false }, "access-log": { type: "string", default: "on" }, bare: { type: "boolean", default: false }, "profile-dir": { type: "string" }, "alloc-profile-dir": { type: "string" }, connections: { type: "string" }, h2: { type: "boolean", default: false }, streams: { type: "string", default: "10" }, "stream-api": { type: "boolean", default: false }, metrics: { type: "boolean", default: false }, "access-file": { type: "string" }, alternate: { type: "string", default: "0" }, distributions: { type: "string", default: "1" }, spread: { type: "boolean", default: false } } });
  // --distributions N with --alternate: the sides of a pair are 1 and N distributions, not the access log off and on;
  // with --spread too, both sides have N, and the load goes to one alias ("off") or to 8 spread over the config ("on").
  const manyDistributions = Number(values.distributions);
  const spreadAliases = Array.from({ length: SPREAD_ALIASES }, (_, k) => (k === 0 ? HOST : `d${Math.floor((k * manyDistributions) / SPREAD_ALIASES)}.${HOST}`));
  if (values.spread && (manyDistributions < SPREAD_ALIASES || values.h2 || Number(values.alternate) === 0)) throw new Error(`--spread needs --alternate, --distributions ${SPREAD_ALIASES} or more, and HTTP/1.1 viewers (not --h2)`);
  const connections = Number(values.connections ?? (values.h2 ? 32 : 16));
  const { parseConfig } = await import("../src/config/index.ts");
  const { runEdge } = await import("../src/edge/index.ts");
  const { createLogger } = await import("../src/observe/index.ts");
  const { createEphemeralCertificateAuthority, generateMasterKey } = await import("../src/pki/index.ts");
  const ca = await createEphemeralCertificateAuthority();
  const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
  const child = fork(new URL(import.meta.url).pathname, ["load"], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] });
  send(child, { type: "origin", keyPem: serverCertificate.keyPem, chainPem: serverCertificate.chainPem, clientCaPem: ca.bundlePem });
  const { port: originPort } = (await next(child, "origin-ready")) as unknown as { port: number };
  const dataDir = await mkdtemp(join(tmpdir(), "moat-profile-"));
  // Extra distributions (d1.bench.test …) share one imported viewer certificate: 10,000 issued ones would take minutes to make.
  const sharedViewer = manyDistributions > 1 ? await ca.issueServerCertificate({ dnsNames: [HOST, `*.${HOST}`], validityMs: HOUR_MS }) : null;
  if (sharedViewer) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dataDir, "viewer.pem"), sharedViewer.chainPem, { mode: 0o600 });
    await writeFile(join(dataDir, "viewer.key"), sharedViewer.keyPem, { mode: 0o600 });
  }
  const configWith = (accessLog: string, distributions = 1) =>
    parseConfig(
      {
        dataDir,
        listen: { host: "127.0.0.1", https: 0, http: "off" },
        ...(values["access-file"] ? { log: { accessLog: { file: values["access-file"] } } } : {}),
        distributions: Array.from({ length: distributions }, (_, index) => ({
          id: index === 0 ? "bench" : `d${index}`,
          aliases: [index === 0 ? HOST : `d${index}.${HOST}`],
          ...(sharedViewer ? { viewerCertificate: { cert: "viewer.pem", key: "viewer.key" } } : {}),
          ...(accessLog === "on" ? {} : { accessLog: accessLog === "off" ? "off" : { sample: Number(accessLog) } }),
          origins: [{ id: "origin", url: `https://localhost:${originPort}`, timeouts: { connect: "60s" } }],
        })),
      },
      { source: "profile", baseDir: dataDir },
    );
  const config = configWith(values["access-log"]);
  // --bare: a plain node:https (or node:http2 with --h2) server answering the same body in place of the edge (Node's own cost and memory).
  const missProxy = async () => {
    const client = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "bench", originId: "origin", validityMs: HOUR_MS });
    return createCeilingProxy({ originUrl: `https://localhost:${originPort}`, serverName: "localhost", caPem: ca.bundlePem, clientCertPem: client.chainPem, clientKeyPem: client.keyPem });
  };
  // --metrics: the edge records metrics as `moat start --metrics` makes it (the page is never scraped here: a scrape's cost is not a request's).
  if (values.metrics) {
    const { installEdgeMetrics, loadMetrics } = await import("../src/observe/index.ts");
    installEdgeMetrics((await loadMetrics()).createProcessMetrics().recorder);
  }
  const edge = values.bare ? await bareServer(await ca.issueServerCertificate({ dnsNames: [HOST], validityMs: HOUR_MS }), values.h2 ? (values["stream-api"] ? "h2-stream" : "h2") : "h1", await missProxy()) : await runEdge({ config, ca, masterKey: generateMasterKey(), log: createLogger({ level: values.log as "info", ...(values["sync-log"] ? { destination: (await import("pino")).pino.destination({ dest: 1, sync: true }) } : {}) }) });
  const mb = (n: number) => Math.round(n / 1048576);
  const memory = () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().filter((s) => s.space_size > 4 * 1048576).map((s) => [s.space_name, `${mb(s.space_used_size)}/${mb(s.space_size)}`]));
    return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers), spaces };
  };
  const report: Record<string, unknown> = { idle: memory() };
  for (const [phase, path, count] of [["hit", "/hit", Number(values.hits)], ["miss", "/miss", Number(values.misses)]] as const) {
    if (count === 0) continue;
    send(child, { type: "warm", port: edge.httpsPort, caPem: ca.bundlePem, path, connections, h2: values.h2, streams: Number(values.streams) });
    await next(child, "warm-done");
    // --alternate N: N pairs of runs in this one process, the access log off then on (or on then off, in turn), by
    // reload: both sides of a pair share the JIT's state and the heap, seconds apart, so a busy machine's drift
    // cancels out of their ratio far better than between processes.
    if (!values.bare && Number(values.alternate) > 0) {
      const running = edge as { apply(config: ReturnType<typeof configWith>): Promise<unknown> };
      const pairs: { off: number; on: number; ratio: number }[] = [];
      // --spread: the config once, for both sides; each side's viewers then connect anew (below).
      if (values.spread) await running.apply(configWith(values["access-log"], manyDistributions));
      // Pair -1 is a warm-up (the JIT still settling on both paths), not counted; with --profile-dir the last pair's two runs are profiled.
      for (let pair = -1; pair < Number(values.alternate); pair++) {
        const result: Record<string, number> = {};
        for (const side of pair % 2 === 0 ? ["off", "on"] : ["on", "off"]) {
          if (values.spread) {
            // To one alias, or to the spread ones in turn.
            send(child, { type: "warm", port: edge.httpsPort, caPem: ca.bundlePem, path, connections, h2: values.h2, streams: Number(values.streams), hosts: side === "on" ? spreadAliases : [HOST] });
            await next(child, "warm-done");
          } else await running.apply(manyDistributions > 1 ? configWith(values["access-log"], side === "off" ? 1 : manyDistributions) : configWith(side === "off" ? "off" : values["access-log"]));
          // Lines of the previous run still waiting go out now, not inside this run.
          await new Promise((resolve) => setTimeout(resolve, 150));
          // The snapshot just replaced is garbage (10,000 distributions' worth with --distributions): collected now
          // (node --expose-gc), not by V8's concurrent marking threads during the run, whose CPU process.cpuUsage counts.
          globalThis.gc?.();
          const profiling = values["profile-dir"] && pair === Number(values.alternate) - 1 ? await startProfile() : null;
          const gcMs = { minor: 0, major: 0 };
          const gcWatch = new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) gcMs[(entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? "minor" : "major"] += entry.duration;
          });
          gcWatch.observe({ entryTypes: ["gc"] });
          const before = process.cpuUsage();
          send(child, { type: "run", path, count });
          const done = await next(child, "run-done");
          const cpu = process.cpuUsage(before);
          gcWatch.disconnect();
          if (profiling) await profiling.stopInto(join(values["profile-dir"] as string, `${phase}-${side}-${process.pid}.cpuprofile`));
          if (done.failures !== 0) throw new Error(`${done.failures} failed requests`);
          result[side] = Math.round(((cpu.user + cpu.system) / count) * 10) / 10;
          // GC time per request, scavenges and the rest (mark-compacts): a full GC that falls in one run skews its pair.
          result[`${side}GcUs`] = Math.round((gcMs.minor * 1000 * 10) / count) / 10;
          result[`${side}MajorGcUs`] = Math.round((gcMs.major * 1000 * 10) / count) / 10;
        }
        if (pair < 0) continue;
        pairs.push({ off: result.off as number, on: result.on as number, ratio: Math.round(((result.on as number) / (result.off as number)) * 1000) / 1000 });
        process.stderr.write(`${JSON.stringify({ phase, pair, ...result, ratio: pairs.at(-1)?.ratio })}\n`);
      }
      const median = (numbers: number[]) => {
        const sorted = [...numbers].sort((a, b) => a - b);
        const middle = sorted.length >> 1;
        return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
      };
      const ratios = pairs.map((p) => p.ratio);
      report[phase] = { alternate: pairs.length, requestsPerRun: count, offMedian: median(pairs.map((p) => p.off)), onMedian: median(pairs.map((p) => p.on)), ratioMedian: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios) };
      continue;
    }
    // Garbage collections during the phase: scavenges count the young generation's fills (what a request allocates),
    // mark-compacts what was promoted; their pauses are what a request's p99 waits behind.
    const gcs = { minor: 0, major: 0, ms: 0, maxMs: 0 };
    const gcWatch = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
        else gcs.major++;
        gcs.ms += entry.duration;
        gcs.maxMs = Math.max(gcs.maxMs, entry.duration);
      }
    });
    gcWatch.observe({ entryTypes: ["gc"] });
    const profiling = values["profile-dir"] ? await startProfile() : null;
    const allocations = values["alloc-profile-dir"] ? await startAllocationProfile() : null;
    const before = process.cpuUsage();
    const startedAt = performance.now();
    send(child, { type: "run", path, count });
    const done = await next(child, "run-done");
    const cpu = process.cpuUsage(before);
    if (profiling) await profiling.stopInto(join(values["profile-dir"] as string, `${phase}-${process.pid}.cpuprofile`));
    if (allocations) await allocations.stopInto(join(values["alloc-profile-dir"] as string, `${phase}-${process.pid}.heapprofile`));
    gcWatch.disconnect();
    const seconds = (performance.now() - startedAt) / 1000;
    report[phase] = { requests: count, failures: done.failures, rps: Math.round(count / seconds), edgeCpuUsPerRequest: Math.round(((cpu.user + cpu.system) / count) * 10) / 10, userUs: Math.round((cpu.user / count) * 10) / 10, systemUs: Math.round((cpu.system / count) * 10) / 10, gc: { scavenges: gcs.minor, others: gcs.major, ms: Math.round(gcs.ms), maxPauseMs: Math.round(gcs.maxMs * 10) / 10 } };
  }
  report.afterLoad = memory();
  send(child, { type: "stop" });
  await new Promise((resolve) => child.once("exit", resolve));
  // Let timers and idle connections go, then see what memory stays.
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.PROFILE_IDLE_MS ?? 2000)));
  globalThis.gc?.();
  report.afterIdle = { ...memory(), ...(await residentBreakdown()) };
  process.stderr.write(`${JSON.stringify(report)}\n`);
  await edge.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/** The inspector's CPU profiler around one phase: what `--cpu-prof` shows, less startup and warm-up. */
async function startProfile(): Promise<{ stopInto(file: string): Promise<void> }> {
  const { Session } = await import("node:inspector/promises");
  const { mkdir, writeFile } = await import("node:fs/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  // 250 µs: enough samples in a few seconds of load without costing much more than --cpu-prof (1 ms).
  await session.post("Profiler.setSamplingInterval", { interval: 250 });
  await session.post("Profiler.start");
  return {
    async stopInto(file) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      await mkdir(join(file, ".."), { recursive: true });
      await writeFile(file, JSON.stringify(profile));
    },
  };
}

/** V8's sampling heap profiler around one phase, keeping samples of objects already collected: what a request allocates, not what stays. */
async function startAllocationProfile(): Promise<{ stopInto(file: string): Promise<void> }> {
  const { Session } = await import("node:inspector/promises");
  const { mkdir, writeFile } = await import("node:fs/promises");
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stopInto(file) {
      const { profile } = await session.post("HeapProfiler.stopSampling");
      session.disconnect();
      await mkdir(join(file, ".."), { recursive: true });
      await writeFile(file, JSON.stringify(profile));
    },
  };
}

/** Linux only: anonymous vs file-backed resident memory, and the largest mappings (where RSS that is not V8 heap lives). */
async function residentBreakdown(): Promise<Record<string, unknown>> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile("/proc/self/status", "utf8").catch(() => "");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  const smaps = await readFile("/proc/self/smaps", "utf8").catch(() => "");
  const mappings: { name: string; rssKb: number }[] = [];
  let current: { name: string; rssKb: number } | undefined;
  for (const line of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
    if (head) mappings.push((current = { name: head[1] ?? "[anon]", rssKb: 0 }));
    else if (current && line.startsWith("Rss:")) current.rssKb = Number(line.split(/\s+/)[1]);
  }
  const bySize = new Map<string, { count: number; rssMB: number }>();
  for (const m of mappings) {
    const size = m.rssKb >= 65536 ? ">=64MB" : m.rssKb >= 8192 ? "8-64MB" : m.rssKb >= 1024 ? "1-8MB" : "<1MB";
    const key = `${m.name.startsWith("/") ? "file" : m.name} ${size}`;
    const entry = bySize.get(key) ?? { count: 0, rssMB: 0 };
    entry.count++;
    entry.rssMB += m.rssKb / 1024;
    bySize.set(key, entry);
  }
  const top = [...bySize].sort((a, b) => b[1].rssMB - a[1].rssMB).slice(0, 6).map(([k, v]) => `${k}: ${v.count} maps ${Math.round(v.rssMB)}MB`);
  return { rssAnonMB: Math.round(kb("RssAnon") / 1024), rssFileMB: Math.round(kb("RssFile") / 1024), mappings: top };
}

/** h1: node:https; h2: node:http2's compatibility API (req, res); h2-stream: its 'stream' event, no req/res objects. */
async function bareServer(certificate: { keyPem: string; chainPem: string }, protocol: "h1" | "h2" | "h2-stream", missProxy: CeilingProxy): Promise<{ httpsPort: number; stop(): Promise<void> }> {
  // As the edge (runEdge) and the bench's ceiling do: idle collections must not slow its later requests (src/tick-shape.ts).
  holdTickObjectShape();
  const options = { key: certificate.keyPem, cert: certificate.chainPem };
  if (protocol === "h1") {
    const server = https.createServer(options, (req, res) => {
      if (req.url === "/miss") return missProxy.handle(req, res);
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
      res.end(BODY);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { httpsPort: (server.address() as AddressInfo).port, stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }).then(() => missProxy.close()) };
  }
  const server = http2.createSecureServer(options);
  if (protocol === "h2") {
    server.on("request", (req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
      res.end(BODY);
    });
  } else {
    // No stream.resume(), as bench/compare/ceiling-server.ts and as Moat's bodiless reads: on Node 24 a resumed
    // stream that ends with its response has its finished write fail with an ERR_STREAM_DESTROYED (a stack trace
    // each), which cost this ceiling 4-5 µs per stream (19.8 µs per hit without, 24 with).
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": BODY.length });
      stream.end(BODY);
    });
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { httpsPort: (server.address() as AddressInfo).port, stop: () => new Promise((resolve) => { for (const session of sessions) session.destroy(); server.close(() => resolve()); }) };
}

/** One HTTP/2 connection's client: `request` resolves to the status and body length. */
function h2Client(port: number, caPem: string): { request(path: string): Promise<{ status: number; bytes: number }>; close(): Promise<void> } {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: HOST });
  session.on("error", () => {});
  return {
    request: (path) => new Promise((resolve, reject) => {
      const stream = session.request({ ":path": path, ":authority": HOST });
      let status = 0;
      let bytes = 0;
      stream.on("response", (headers) => (status = Number(headers[":status"])));
      stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
      stream.on("end", () => resolve({ status, bytes }));
      stream.on("error", reject);
    }),
    close: () => new Promise((resolve) => session.close(() => resolve())),
  };
}

async function loadProcess(): Promise<void> {
  const { keyPem, chainPem, clientCaPem } = (await next(process, "origin")) as unknown as { keyPem: string; chainPem: string; clientCaPem: string };
  const origin = https.createServer({ key: keyPem, cert: chainPem, ca: clientCaPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume();
    const caching = req.url === "/hit" ? "public, max-age=3600" : "no-store";
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length, "cache-control": caching });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  send(process, { type: "origin-ready", port: (origin.address() as AddressInfo).port });
  // One lane per h1 connection, or per h2 stream kept open (connections × streams lanes over HTTP/2).
  let lanes: ((path: string) => Promise<boolean>)[] = [];
  let closers: (() => Promise<void>)[] = [];
  let failures = 0;
  const one = async (lane: (path: string) => Promise<boolean>, path: string) => {
    if (!(await lane(path))) failures++;
  };
  process.on("message", async (message: Message) => {
    if (message.type === "warm") {
      for (const close of closers) await close();
      lanes = [];
      closers = [];
      for (let c = 0; c < (message.connections as number); c++) {
        if (message.h2) {
          const client = h2Client(message.port as number, message.caPem as string);
          closers.push(client.close);
          const lane = async (path: string) => {
            const answer = await client.request(path);
            return answer.status === 200 && answer.bytes === BODY.length;
          };
          for (let s = 0; s < (message.streams as number); s++) lanes.push(lane);
        } else {
          // Connections take the hosts in turn (SNI and Host alike: Moat answers 421 when they name different distributions).
          const hosts = (message.hosts as string[] | undefined) ?? [HOST];
          const host = hosts[c % hosts.length] as string;
          const client = new Client(`https://127.0.0.1:${message.port as number}`, { connect: { ca: message.caPem as string, servername: host, timeout: 60_000 }, pipelining: 1 });
          closers.push(() => client.close());
          lanes.push(async (path) => {
            const answer = await client.request({ path, method: "GET", headers: { host } });
            const body = await answer.body.arrayBuffer();
            return answer.statusCode === 200 && body.byteLength === BODY.length;
          });
        }
      }
      await Promise.all(lanes.map(async (lane) => { for (let i = 0; i < 20; i++) await one(lane, message.path as string); }));
      send(process, { type: "warm-done" });
    } else if (message.type === "run") {
      failures = 0;
      let left = message.count as number;
      await Promise.all(lanes.map(async (lane) => {
        while (left-- > 0) await one(lane, message.path as string).catch(() => failures++);
      }));
      send(process, { type: "run-done", failures });
    } else if (message.type === "stop") {
      for (const close of closers) await close();
      origin.closeAllConnections();
      origin.close();
      process.disconnect();
    }
  });
}

if (process.argv[2] === "load") await loadProcess();
else await edgeProcess();
