// Builds the bench's scene on loopback, each part its own process: nginx origin (mTLS), Moat at warn and at info, nginx edge, Node ceiling; and stops it all.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import net from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BENCH_HOST, createBenchPki } from "./bench-pki.ts";
import type { BenchPkiFiles } from "./bench-pki.ts";
import { buildMoat, moatCommand } from "./moat-build.ts";
import { BODY_SIZES, NGINX_CACHE_STATUS_HEADER, nginxEdgeConf, nginxOriginConf } from "./nginx-conf.ts";
import { ProcessGroup } from "./processes.ts";
import type { BenchProcess } from "./processes.ts";
import type { BenchTools } from "./tools.ts";

export type PeerId = "moat" | "moat-info" | "nginx" | "ceiling";

export interface Peer {
  id: PeerId;
  label: string;
  /** HTTPS port for HTTP/1.1 (and HTTP/2 by ALPN, except the ceiling's). */
  port: number;
  h2Port: number;
  process: BenchProcess;
  /** Whether the response came from the edge's cache; null for the ceiling, which has none. */
  isCacheHit(headers: NodeJS.Dict<string | string[]>): boolean | null;
}

export interface Scene {
  peers: Peer[];
  origin: BenchProcess;
  /** CPU list the edges are pinned to, and the load generator's; null when unpinned. */
  edgeCpu: string | null;
  loadCpu: string | null;
  caPem: string;
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Starts everything; on any failure stops what it had started, removes its files and throws.
 * With one worker and at least two CPUs, the edges (and the ceiling) run on CPU 0, the origin and the load generator on CPU 1.
 * @example
 * const scene = await startScene({ tools, workers: 1, group });
 * try { ... } finally { await scene.close(); }
 */
export async function startScene(options: { tools: BenchTools; workers: number; group: ProcessGroup; withInfoMoat?: boolean }): Promise<Scene> {
  const { tools, workers, group } = options;
  const dir = await mkdtemp(join(tmpdir(), "moat-bench-compare-"));
  const started: BenchProcess[] = [];
  const close = async () => {
    await Promise.all(started.map((running) => group.stop(running)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const isPinned = workers === 1 && availableParallelism() >= 2;
    const edgeCpu = isPinned ? "0" : null;
    const loadCpu = isPinned ? "1" : null;
    await buildMoat();
    const pki = await createBenchPki(dir);
    const caPem = await readFile(pki.caBundle, "utf8");
    const bodiesDir = join(dir, "bodies");
    await mkdir(bodiesDir);
    for (const bytes of BODY_SIZES) await writeFile(join(bodiesDir, String(bytes)), Buffer.alloc(bytes, "o"));

    const originPort = await freePort();
    const origin = await startNginx(group, tools, "origin", join(dir, "origin"), loadCpu, (prefix) =>
      nginxOriginConf({ prefix, port: originPort, bodiesDir, pki, workers: 1 }),
    );
    started.push(origin);
    await waitForPort(origin, originPort);

    const peers: Peer[] = [];
    const moatHit = (headers: NodeJS.Dict<string | string[]>) => /(^|;)\s*hit(;|$)/.test(String(headers["cache-status"] ?? ""));
    const moatPeer = async (id: PeerId, label: string, logLevel: string): Promise<Peer> => {
      const port = await freePort();
      const moat = await startMoat(group, tools, join(dir, id), pki, { port, originPort, workers, logLevel, cpu: edgeCpu });
      started.push(moat);
      return { id, label, port, h2Port: port, process: moat, isCacheHit: moatHit };
    };
    peers.push(await moatPeer("moat", "Moat (warn)", "warn"));
    if (options.withInfoMoat ?? true) peers.push(await moatPeer("moat-info", "Moat (info, access log)", "info"));

    const nginxPort = await freePort();
    const nginx = await startNginx(group, tools, "nginx edge", join(dir, "nginx-edge"), edgeCpu, (prefix) =>
      nginxEdgeConf({ prefix, port: nginxPort, originPort, pki, workers }),
    );
    started.push(nginx);
    peers.push({ id: "nginx", label: "nginx", port: nginxPort, h2Port: nginxPort, process: nginx, isCacheHit: (headers) => headers[NGINX_CACHE_STATUS_HEADER] === "HIT" });

    const [h1Port, h2Port] = [await freePort(), await freePort()];
    const ceiling = group.start("ceiling", process.execPath, [
      new URL("./ceiling-server.ts", import.meta.url).pathname, String(h1Port), String(h2Port), pki.viewerCert, pki.viewerKey,
      // Misses: forwarded to the same origin with the same client certificate, verified against the same CA.
      `https://${BENCH_HOST}:${originPort}`, BENCH_HOST, pki.caBundle, pki.clientCert, pki.clientKey,
    ], {
      taskset: tools.taskset,
      cpu: edgeCpu,
    });
    started.push(ceiling);
    peers.push({ id: "ceiling", label: "Node https (ceiling; + undici for misses)", port: h1Port, h2Port, process: ceiling, isCacheHit: () => null });

    for (const peer of peers) await waitForPeer(peer, caPem);
    return { peers, origin, edgeCpu, loadCpu, caPem, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startNginx(group: ProcessGroup, tools: BenchTools, name: string, prefix: string, cpu: string | null, conf: (prefix: string) => string): Promise<BenchProcess> {
  await mkdir(prefix, { recursive: true });
  await writeFile(join(prefix, "nginx.conf"), conf(prefix));
  return group.start(name, tools.nginx, ["-p", prefix, "-e", "stderr", "-c", join(prefix, "nginx.conf")], { taskset: tools.taskset, cpu });
}

/**
 * `moat start` on a config of its own and a copy of the data directory (the CA; each edge its own cache).
 * `workers` is always written: Moat's default is one per core, and the bench compares a set count.
 */
async function startMoat(
  group: ProcessGroup,
  tools: BenchTools,
  dir: string,
  pki: BenchPkiFiles,
  options: { port: number; originPort: number; workers: number; logLevel: string; cpu: string | null },
): Promise<BenchProcess> {
  const dataDir = join(dir, "data");
  await cp(pki.dataDir, dataDir, { recursive: true });
  const config = moatBenchConfig(dataDir, pki, options);
  const configFile = join(dir, "moat.json");
  await writeFile(configFile, JSON.stringify(config, null, 2));
  // stdout (the JSON log lines) goes to /dev/null: the info run measures writing the access log, not a reader of it.
  const { args, env } = moatCommand(["start", "--config", configFile, "--log-level", options.logLevel]);
  return group.start(`moat (${options.logLevel})`, process.execPath, args, {
    taskset: tools.taskset,
    cpu: options.cpu,
    stdout: "ignore",
    env,
  });
}

/**
 * The bench's Moat config: one distribution on `BENCH_HOST` with an imported viewer certificate, one mTLS origin with an
 * imported client certificate; `workers` as given (`"auto"` is Moat's default).
 */
export function moatBenchConfig(dataDir: string, pki: BenchPkiFiles, options: { port: number; originPort: number; workers: number | "auto" }): Record<string, unknown> {
  return {
    dataDir,
    workers: options.workers,
    pki: { masterKeyFile: pki.masterKeyFile },
    listen: { host: "127.0.0.1", https: options.port, http: "off" },
    distributions: [
      {
        id: "bench",
        aliases: [BENCH_HOST],
        viewerCertificate: { cert: pki.viewerCert, key: pki.viewerKey },
        tls: { minVersion: "TLSv1.3" },
        origins: [
          {
            id: "origin",
            url: `https://${BENCH_HOST}:${options.originPort}`,
            // No trustedCa: Moat verifies the origin against its own CA by default, as an operator's config would.
            mtls: { clientCertificate: { cert: pki.clientCert, key: pki.clientKey } },
          },
        ],
      },
    ],
  };
}

/** A verified GET (CA pinned to Moat's, servername checked) for `host` (SNI and Host): status, body bytes and headers. */
export function fetchOnce(port: number, path: string, caPem: string, host: string = BENCH_HOST): Promise<{ status: number; bytes: number; headers: NodeJS.Dict<string | string[]> }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path, servername: host, headers: { host }, ca: caPem, agent: false, timeout: 10_000 }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} on port ${port}: no answer in 10 s`)));
    req.on("error", reject);
  });
}

async function waitForPeer(peer: Peer, caPem: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "";
  while (Date.now() < deadline) {
    if (peer.process.child.exitCode !== null || peer.process.child.signalCode !== null) {
      throw new Error(`${peer.label} exited before it answered:\n${peer.process.output()}`);
    }
    try {
      const answer = await fetchOnce(peer.port, "/no-store/1024", caPem);
      if (answer.status === 200) return;
      lastError = `status ${answer.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${peer.label} did not answer within ${READY_TIMEOUT_MS / 1000} s (last: ${lastError}):\n${peer.process.output()}`);
}

export async function waitForPort(running: BenchProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null) throw new Error(`${running.name} exited:\n${running.output()}`);
    const isOpen = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (isOpen) return;
    await sleep(50);
  }
  throw new Error(`${running.name} did not listen on ${port}:\n${running.output()}`);
}

/** A free loopback port: nginx cannot listen on port 0 and report the port. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
