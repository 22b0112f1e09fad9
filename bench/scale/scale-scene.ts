// The scale bench's processes on loopback: an nginx mTLS origin answering a small cacheable body at any /k/<n>, and Moat edges with 1 or many distributions.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createBenchPki } from "../compare/bench-pki.ts";
import type { BenchPkiFiles } from "../compare/bench-pki.ts";
import { fetchOnce, freePort, waitForPort } from "../compare/bench-scene.ts";
import { buildMoat, moatCommand } from "../compare/moat-build.ts";
import { mtlsOriginServer, nginxPreamble } from "../compare/nginx-conf.ts";
import type { BenchProcess, ProcessGroup } from "../compare/processes.ts";
import type { BenchTools } from "../compare/tools.ts";

/** The origin's body for every key: small, so that a million entries are mostly index and metadata. */
export const BODY_BYTES = 32;
/** Every alias is a name under this one, covered by one wildcard viewer certificate. */
const ALIAS_DOMAIN = "scale.test";
/** The memory tier of every edge: large enough for a million small entries with their metadata (about 700 B each as Moat counts them). */
const MEMORY_TIER = "2GiB";
/** A config of thousands of distributions takes a while to load (each imports its certificates and builds its TLS context). */
const READY_TIMEOUT_MS = 600_000;

export const aliasOf = (distribution: number) => `d${distribution}.${ALIAS_DOMAIN}`;

export interface ScaleEdge {
  label: string;
  distributions: number;
  port: number;
  process: BenchProcess;
  /** From spawn until it answered its first request. */
  startMs: number;
}

export interface ScaleScene {
  origin: BenchProcess;
  caPem: string;
  edgeCpu: string | null;
  loadCpu: string | null;
  startEdge(label: string, distributions: number): Promise<ScaleEdge>;
  close(): Promise<void>;
}

/**
 * Builds Moat, makes the certificates and starts the origin; edges are started one by one with `startEdge`.
 * With at least two CPUs the edges run on CPU 0, the origin and the load generators on CPU 1.
 * @example
 * const scene = await startScaleScene({ tools, group });
 * const edge = await scene.startEdge("1 distribution", 1);
 */
export async function startScaleScene(options: { tools: BenchTools; group: ProcessGroup }): Promise<ScaleScene> {
  const { tools, group } = options;
  const dir = await mkdtemp(join(tmpdir(), "moat-bench-scale-"));
  const started: BenchProcess[] = [];
  const close = async () => {
    await Promise.all(started.map((running) => group.stop(running)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const isPinned = availableParallelism() >= 2;
    const edgeCpu = isPinned ? "0" : null;
    const loadCpu = isPinned ? "1" : null;
    await buildMoat();
    const pki = await createBenchPki(dir, { viewerNames: [`*.${ALIAS_DOMAIN}`] });
    const caPem = await readFile(pki.caBundle, "utf8");
    const originPort = await freePort();
    const originDir = join(dir, "origin");
    await mkdir(originDir);
    await writeFile(join(originDir, "nginx.conf"), originConf(originDir, originPort, pki));
    const origin = group.start("origin", tools.nginx, ["-p", originDir, "-e", "stderr", "-c", join(originDir, "nginx.conf")], { taskset: tools.taskset, cpu: loadCpu });
    started.push(origin);
    await waitForPort(origin, originPort);

    const startEdge = async (label: string, distributions: number): Promise<ScaleEdge> => {
      const edgeDir = join(dir, `edge-${started.length}`);
      await mkdir(edgeDir);
      const dataDir = join(edgeDir, "data");
      await cp(pki.dataDir, dataDir, { recursive: true });
      const port = await freePort();
      const configFile = join(edgeDir, "moat.json");
      await writeFile(configFile, JSON.stringify(edgeConfig({ dataDir, port, originPort, pki, distributions })));
      const { args, env } = moatCommand(["start", "--config", configFile, "--log-level", "warn"]);
      const startedAt = performance.now();
      const edge = group.start(`moat (${label})`, process.execPath, args, { taskset: tools.taskset, cpu: edgeCpu, stdout: "ignore", env });
      started.push(edge);
      await waitForEdge(edge, port, caPem, label);
      return { label, distributions, port, process: edge, startMs: performance.now() - startedAt };
    };
    return { origin, caPem, edgeCpu, loadCpu, startEdge, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** TLS 1.3, a client certificate from Moat's CA required, and the same 32-byte body at every /k/<n>, cacheable for an hour. */
function originConf(prefix: string, port: number, pki: BenchPkiFiles): string {
  return `${nginxPreamble(prefix, 1, "warn")}
${mtlsOriginServer(port, pki, [`location /k/ { add_header Cache-Control "public, max-age=3600" always; return 200 "${"k".repeat(BODY_BYTES)}"; }`])}
}
`;
}

/**
 * `distributions` distributions d0 … dN-1, each with one alias (dI.scale.test), the same imported wildcard viewer
 * certificate and its own origin entry (the same nginx, the same client certificate), as an operator's config
 * for many sites on one origin fleet would be. Memory tier only: a disk tier would write a file per key.
 */
export function edgeConfig(options: { dataDir: string; port: number; originPort: number; pki: BenchPkiFiles; distributions: number }): Record<string, unknown> {
  const { pki } = options;
  return {
    dataDir: options.dataDir,
    workers: 1,
    pki: { masterKeyFile: pki.masterKeyFile },
    listen: { host: "127.0.0.1", https: options.port, http: "off" },
    cache: { memory: { maxSize: MEMORY_TIER }, disk: "off" },
    distributions: Array.from({ length: options.distributions }, (_, index) => ({
      id: `d${index}`,
      aliases: [aliasOf(index)],
      viewerCertificate: { cert: pki.viewerCert, key: pki.viewerKey },
      tls: { minVersion: "TLSv1.3" },
      origins: [{ id: "origin", url: `https://localhost:${options.originPort}`, mtls: { clientCertificate: { cert: pki.clientCert, key: pki.clientKey } } }],
    })),
  };
}

/** Ready once it answers d0's /k/0 with the body (which caches that key: the fills count it). */
async function waitForEdge(edge: BenchProcess, port: number, caPem: string, label: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "";
  while (Date.now() < deadline) {
    if (edge.child.exitCode !== null || edge.child.signalCode !== null) throw new Error(`Moat (${label}) exited before it answered:\n${edge.output()}`);
    try {
      const answer = await fetchOnce(port, "/k/0", caPem, aliasOf(0));
      if (answer.status === 200 && answer.bytes === BODY_BYTES) return;
      lastError = `status ${answer.status}, ${answer.bytes} bytes`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`Moat (${label}) did not answer within ${READY_TIMEOUT_MS / 1000} s (last: ${lastError}):\n${edge.output()}`);
}

/**
 * Verified GETs (CA pinned, name checked) of `paths` on `host`: each must be 200 with the body and a cache hit.
 * Returns the paths that were not, with what came back.
 */
export async function checkHits(port: number, host: string, paths: readonly string[], caPem: string): Promise<string[]> {
  const problems: string[] = [];
  for (const path of paths) {
    const answer = await fetchOnce(port, path, caPem, host);
    const cacheStatus = String(answer.headers["cache-status"] ?? "");
    const isHit = /(^|;)\s*hit(;|$)/.test(cacheStatus);
    if (answer.status !== 200 || answer.bytes !== BODY_BYTES || !isHit) problems.push(`${host}${path}: ${answer.status}, ${answer.bytes} bytes, Cache-Status "${cacheStatus}"`);
  }
  return problems;
}
