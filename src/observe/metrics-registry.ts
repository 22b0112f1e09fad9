// The edge's Prometheus metrics (prom-client): one registry per process, the recorder the edge calls, and the /metrics listener.
// Loaded only when metrics are on (observe/index.ts loadMetrics): `moat start` without them never loads prom-client.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "./logger.ts";
import type { CertificateInUse, EdgeMetrics, EdgeMetricsSources, OriginConnectionKind, OriginPoolStats } from "./edge-metrics.ts";
import { RequestTally } from "./request-tally.ts";
import type { MetricJson } from "./request-tally.ts";

/** One process's metrics in prom-client's JSON form: what a worker sends its primary. */
export type ProcessMetricsJson = MetricJson[];

export interface ProcessMetrics {
  readonly registry: Registry;
  /** What the edge calls (install it with installEdgeMetrics). */
  readonly recorder: EdgeMetrics;
  /** This process's metrics as JSON, for its primary to aggregate. */
  json(): Promise<ProcessMetricsJson>;
}

/**
 * The metrics of one process (a lone edge, a primary, or a worker), with Node's default metrics (process_*, nodejs_*).
 * @example
 * const metrics = createProcessMetrics();
 * installEdgeMetrics(metrics.recorder);
 */
export function createProcessMetrics(): ProcessMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const tally = new RequestTally();
  registry.registerMetric(tally.requestsMetric() as never);
  registry.registerMetric(tally.durationMetric() as never);
  let sources: EdgeMetricsSources | undefined;

  const originConnections = new Counter({
    name: "moat_origin_connections_total",
    help: "Origin requests by how they got a connection: full (a new connection, full TLS handshake), resumed (a new connection that resumed a TLS session), reused (a keep-alive connection used again).",
    labelNames: ["distribution", "origin", "kind"],
    registers: [registry],
  });
  const originFailures = new Counter({
    name: "moat_origin_failures_total",
    help: "Origin requests that failed, by cause: the Moat-Error code (origin-cert-untrusted, origin-connect-timeout, …).",
    labelNames: ["distribution", "origin", "cause"],
    registers: [registry],
  });
  // An origin pool's counts (undici's pool stats), two states per gauge.
  const poolGauge = (name: string, help: string, states: readonly (keyof OriginPoolStats)[]) =>
    new Gauge({
      name,
      help,
      labelNames: ["distribution", "origin", "state"],
      registers: [registry],
      collect() {
        this.reset();
        for (const pool of sources?.originPools?.() ?? []) {
          if (pool.stats === null) continue;
          for (const state of states) this.set({ distribution: pool.distribution, origin: pool.origin, state }, pool.stats[state]);
        }
      },
    });
  poolGauge("moat_origin_pool_connections", "Connections an origin's pool holds now, by state: connected (all open) and free (idle keep-alive).", ["connected", "free"]);
  poolGauge("moat_origin_pool_requests", "Requests an origin's pool holds now, by state: running (on a connection) and pending (waiting for one).", ["running", "pending"]);
  const cacheGauge = (name: string, help: string, read: (stats: ReturnType<NonNullable<EdgeMetricsSources["cacheStats"]>>) => [number, number]) =>
    new Gauge({
      name,
      help,
      labelNames: ["tier"],
      registers: [registry],
      collect() {
        this.reset();
        const stats = sources?.cacheStats?.();
        if (stats === undefined) return;
        const [memory, disk] = read(stats);
        this.set({ tier: "memory" }, memory);
        if (sources?.reportsDiskTier) this.set({ tier: "disk" }, disk);
      },
    });
  cacheGauge("moat_cache_bytes", "Bytes the cache holds, by tier (memory: summed over workers, each has its own; disk: shared, reported once).", (s) => [s.memoryBytes, s.diskBytes]);
  cacheGauge("moat_cache_objects", "Responses the cache holds, by tier (memory: summed over workers; disk: shared, reported once).", (s) => [s.memoryEntries, s.diskEntries]);

  const notAfter = new Gauge({
    name: "moat_certificate_not_after_seconds",
    help: "When each certificate in use expires (Unix seconds): viewer server certificates, origin client certificates, the CA's roots and intermediates.",
    labelNames: ["distribution", "origin", "role", "serial"],
    registers: [registry],
    // Under workers only the primary keeps certificates: the others report none, and max keeps its values.
    aggregator: "max",
  });
  const rotations = new Counter({
    name: "moat_certificate_rotations_total",
    help: "Renewals of issued certificates (what=certificate) and CA rotation steps (what=ca), by outcome: succeeded or failed.",
    labelNames: ["what", "outcome"],
    registers: [registry],
  });
  for (const what of ["certificate", "ca"]) for (const outcome of ["succeeded", "failed"]) rotations.inc({ what, outcome }, 0);
  const generation = new Gauge({
    name: "moat_snapshot_generation",
    help: "The generation of the snapshot the edge serves: it goes up with each reload, renewal or rotation that went live.",
    registers: [registry],
    aggregator: "max",
  });
  const snapshotFailures = new Counter({
    name: "moat_snapshot_build_failures_total",
    help: "Rebuilds refused (a bad reload, a failed renewal or rotation, a changed file refused): the running snapshot stayed.",
    registers: [registry],
  });

  const recorder: EdgeMetrics = {
    request: (distribution, status, cache, seconds) => tally.record(distribution, status, cache, seconds),
    originConnection: (distribution: string, origin: string, kind: OriginConnectionKind) => originConnections.inc({ distribution, origin, kind }),
    originFailure: (distribution, origin, cause) => originFailures.inc({ distribution, origin, cause }),
    rotation: (what, outcome) => rotations.inc({ what, outcome }),
    snapshotApplied(next, certificates: readonly CertificateInUse[]) {
      generation.set(next);
      // Replaced, not added to: a rotated certificate's old serial leaves the gauge with the snapshot that used it.
      notAfter.reset();
      for (const certificate of certificates) {
        const labels = { distribution: certificate.distribution, origin: certificate.origin, role: certificate.role, serial: certificate.serialHex };
        notAfter.set(labels, Math.floor(certificate.notAfter.getTime() / 1000));
      }
    },
    snapshotFailed: () => snapshotFailures.inc(),
    watch(next) {
      sources = next;
    },
  };
  return { registry, recorder, json: () => registry.getMetricsAsJSON() as unknown as Promise<ProcessMetricsJson> };
}

/** The text a scrape gets, and its Content-Type. */
export interface MetricsPage {
  contentType: string;
  body: string;
}

/** A lone edge's page: its own registry. */
export async function processPage(metrics: ProcessMetrics): Promise<MetricsPage> {
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/**
 * A primary's page: its own metrics and every worker's that answered in time, aggregated as prom-client aggregates a
 * cluster (counters and histograms summed). `moat_metrics_workers_answered` against `moat_metrics_workers` shows a worker left out.
 * @example
 * const page = await groupPage(metrics, () => group.collectMetrics(2000));
 */
export async function groupPage(metrics: ProcessMetrics, askWorkers: () => Promise<{ asked: number; answers: ProcessMetricsJson[] }>): Promise<MetricsPage> {
  const [own, workers] = await Promise.all([metrics.json(), askWorkers()]);
  const help = "Workers asked for their metrics at this scrape, and those that answered within the deadline (2 s): the page counts only those.";
  const page: ProcessMetricsJson = [
    { name: "moat_metrics_workers", help: "Workers asked for their metrics at this scrape.", type: "gauge", aggregator: "sum", values: [{ labels: {}, value: workers.asked }] },
    { name: "moat_metrics_workers_answered", help, type: "gauge", aggregator: "sum", values: [{ labels: {}, value: workers.answers.length }] },
  ];
  const aggregated = AggregatorRegistry.aggregate([own, ...workers.answers, page] as never);
  return { contentType: aggregated.contentType, body: await aggregated.metrics() };
}

/**
 * A primary's metrics and its workers' that answered in time, summed as groupPage sums them, in JSON form: what the
 * admin API's /traffic reads.
 * @example
 * const traffic = () => groupJson(metrics, () => group.collectMetrics(2000));
 */
export async function groupJson(metrics: ProcessMetrics, askWorkers: () => Promise<{ asked: number; answers: ProcessMetricsJson[] }>): Promise<ProcessMetricsJson> {
  const [own, workers] = await Promise.all([metrics.json(), askWorkers()]);
  return (await AggregatorRegistry.aggregate([own, ...workers.answers] as never).getMetricsAsJSON()) as unknown as ProcessMetricsJson;
}

export interface MetricsEndpoint {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

// A scrape is one small GET; anything slower than these is not Prometheus.
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 32;
// A page's render (a primary waits up to 2 s for its workers) never holds a scrape longer than this.
const RENDER_LIMIT_MS = 5_000;

/** True for an address only this host reaches: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/**
 * Serves `GET /metrics` (and HEAD) in the Prometheus text format on plain HTTP; any other path is 404, another method 405.
 * No authentication, as is usual for a Prometheus target: off loopback, a warning says so at start.
 * @example
 * const endpoint = await startMetricsEndpoint({ host: "127.0.0.1", port: 9464 }, () => processPage(metrics), log);
 */
export async function startMetricsEndpoint(address: { host: string; port: number }, render: () => Promise<MetricsPage>, log: Logger): Promise<MetricsEndpoint> {
  const server: Server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: 8 * 1024 }, (req, res) => void answer(req, res, render, log));
  server.maxConnections = MAX_CONNECTIONS;
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error: Error) => log.error({ error: { message: error.message } }, "metrics listener error"));
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : address.port;
  log.info({ host: address.host, port, path: "/metrics" }, "metrics listening");
  if (!isLoopbackHost(address.host)) {
    log.warn({ host: address.host, port }, "the metrics endpoint is plain HTTP with no authentication and listens beyond loopback: anyone who reaches this port reads the edge's distributions, origins and certificate serials; listen on 127.0.0.1, or firewall the port to the Prometheus server");
  }
  return {
    host: address.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, render: () => Promise<MetricsPage>, log: Logger): Promise<void> {
  // The body of a request is never read: a request that has one closes its connection after the answer.
  const hasBody = (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") || req.headers["transfer-encoding"] !== undefined;
  if (hasBody) res.shouldKeepAlive = false;
  const path = (req.url ?? "").split("?")[0];
  if (path !== "/metrics") return plain(res, 404, "not found: the metrics are at /metrics\n");
  if (req.method !== "GET" && req.method !== "HEAD") return plain(res, 405, "method not allowed: GET /metrics\n", { allow: "GET, HEAD" });
  let limit: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_resolve, reject) => {
      limit = setTimeout(() => reject(new Error(`the metrics took longer than ${RENDER_LIMIT_MS} ms to gather`)), RENDER_LIMIT_MS);
    });
    const page = await Promise.race([render(), timedOut]);
    res.writeHead(200, { "content-type": page.contentType, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : page.body);
  } catch (error) {
    log.error({ error: { message: (error as Error).message } }, "metrics scrape failed");
    plain(res, 500, "the metrics could not be gathered; see the edge's log\n");
  } finally {
    clearTimeout(limit);
  }
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(text);
}
