// Profiles the edge alone: this process runs only the edge; a forked child runs the mTLS origin and the undici load.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-edge.ts [--hits 20000] [--misses 5000] [--log info|warn|silent] [--sync-log] [--access-log on|off|0.1] [--connections 16]
//
// Prints the edge process's CPU time per request (user+system, from process.cpuUsage) for each phase and its
// memory (process.memoryUsage) idle and after load. The numbers compare builds on one machine run back to back;
// they are not the side-by-side benchmark (bench/run.ts). Access-log lines go to stdout: redirect it to /dev/null.
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics } from "node:v8";
import { Client } from "undici";

const HOUR_MS = 3_600_000;
const HOST = "bench.test";
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
  const { values } = parseArgs({ options: { hits: { type: "string", default: "20000" }, misses: { type: "string", default: "5000" }, log: { type: "string", default: "warn" }, "sync-log": { type: "boolean", default: false }, "access-log": { type: "string", default: "on" }, bare: { type: "boolean", default: false }, connections: { type: "string", default: "16" } } });
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
  const config = parseConfig(
    { dataDir, listen: { host: "127.0.0.1", https: 0, http: "off" }, distributions: [{ id: "bench", aliases: [HOST], ...(values["access-log"] === "on" ? {} : { accessLog: values["access-log"] === "off" ? "off" : { sample: Number(values["access-log"]) } }), origins: [{ id: "origin", url: `https://localhost:${originPort}` }] }] },
    { source: "profile", baseDir: dataDir },
  );
  // --bare: a plain node:https server answering the same body in place of the edge (Node's own cost and memory).
  const edge = values.bare ? await bareServer(await ca.issueServerCertificate({ dnsNames: [HOST], validityMs: HOUR_MS })) : await runEdge({ config, ca, masterKey: generateMasterKey(), log: createLogger({ level: values.log as "info", ...(values["sync-log"] ? { destination: (await import("pino")).pino.destination({ dest: 1, sync: true }) } : {}) }) });
  const mb = (n: number) => Math.round(n / 1048576);
  const memory = () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().filter((s) => s.space_size > 4 * 1048576).map((s) => [s.space_name, `${mb(s.space_used_size)}/${mb(s.space_size)}`]));
    return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers), spaces };
  };
  const report: Record<string, unknown> = { idle: memory() };
  for (const [phase, path, count] of [["hit", "/hit", Number(values.hits)], ["miss", "/miss", Number(values.misses)]] as const) {
    if (count === 0) continue;
    send(child, { type: "warm", port: edge.httpsPort, caPem: ca.bundlePem, path, connections: Number(values.connections) });
    await next(child, "warm-done");
    const before = process.cpuUsage();
    const startedAt = performance.now();
    send(child, { type: "run", path, count });
    const done = await next(child, "run-done");
    const cpu = process.cpuUsage(before);
    const seconds = (performance.now() - startedAt) / 1000;
    report[phase] = { requests: count, failures: done.failures, rps: Math.round(count / seconds), edgeCpuUsPerRequest: Math.round(((cpu.user + cpu.system) / count) * 10) / 10 };
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

async function bareServer(certificate: { keyPem: string; chainPem: string }): Promise<{ httpsPort: number; stop(): Promise<void> }> {
  const server = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem }, (req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { httpsPort: (server.address() as AddressInfo).port, stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
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
  let clients: Client[] = [];
  let failures = 0;
  const one = async (client: Client, path: string) => {
    const answer = await client.request({ path, method: "GET", headers: { host: HOST } });
    const body = await answer.body.arrayBuffer();
    if (answer.statusCode !== 200 || body.byteLength !== BODY.length) failures++;
  };
  process.on("message", async (message: Message) => {
    if (message.type === "warm") {
      for (const client of clients) await client.close();
      clients = Array.from({ length: message.connections as number }, () => new Client(`https://127.0.0.1:${message.port as number}`, { connect: { ca: message.caPem as string, servername: HOST }, pipelining: 1 }));
      await Promise.all(clients.map(async (client) => { for (let i = 0; i < 20; i++) await one(client, message.path as string); }));
      send(process, { type: "warm-done" });
    } else if (message.type === "run") {
      failures = 0;
      let left = message.count as number;
      await Promise.all(clients.map(async (client) => {
        while (left-- > 0) await one(client, message.path as string).catch(() => failures++);
      }));
      send(process, { type: "run-done", failures });
    } else if (message.type === "stop") {
      for (const client of clients) await client.close();
      origin.closeAllConnections();
      origin.close();
      process.disconnect();
    }
  });
}

if (process.argv[2] === "load") await loadProcess();
else await edgeProcess();
