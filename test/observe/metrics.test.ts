// The Prometheus endpoint of `moat start`: real edges, real TLS to a real origin, scraped over a socket and read as the text format.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import http from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { isGroupAlive, startMoat, type RunningMoat } from "../cli/moat-process.ts";
import { withDeadline } from "../support/deadline.ts";
import { createTestMasterKey, type TestMasterKey } from "../support/master-key.ts";
import { parsePrometheusText, samplesOf, sumOf, type MetricFamily } from "../support/prometheus-text.ts";
import { startTestOrigin, type TestOrigin } from "../support/test-origin.ts";
import { createViewerClient, viewerRequest, viewerRequestWithSni } from "../support/viewer-client.ts";

const config = (originUrl: string, head: string) => `dataDir: ./data
${head}
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
`;

/** One plain-HTTP request to the metrics port, with a deadline. */
function scrapeRaw(port: number, options: { path?: string; method?: string } = {}): Promise<{ status: number; contentType: string; body: string }> {
  return withDeadline(
    `${options.method ?? "GET"} ${options.path ?? "/metrics"}`,
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: options.path ?? "/metrics", method: options.method ?? "GET", agent: false, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"]), body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("timeout", () => req.destroy(new Error("the metrics request timed out")));
      req.on("error", reject);
      req.end();
    }),
    15_000,
  );
}

async function scrape(port: number): Promise<Map<string, MetricFamily>> {
  const page = await scrapeRaw(port);
  assert.equal(page.status, 200, page.body);
  assert.equal(page.contentType, "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheusText(page.body);
}

/** The viewer certificate the edge serves for `servername`: its serial (lowercase hex) and not-after. */
function servedCertificate(port: number, servername: string, caPem: string): Promise<{ serialHex: string; notAfterS: number }> {
  return withDeadline(
    "the viewer certificate",
    new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: caPem }, () => {
        const peer = socket.getPeerX509Certificate()!;
        socket.destroy();
        resolve({ serialHex: peer.serialNumber.toLowerCase(), notAfterS: Math.floor(peer.validToDate.getTime() / 1000) });
      });
      socket.on("error", reject);
    }),
    10_000,
  );
}

describe("moat start with metrics.listen (one process)", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let moat: RunningMoat;
  let port: number;
  let metricsPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-metrics-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        if (req.url?.startsWith("/cached")) res.setHeader("cache-control", "max-age=3600");
        if (req.url === "/missing") res.statusCode = 404;
        res.end(`body of ${req.url}`);
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url, 'workers: 1\nmetrics: { listen: "127.0.0.1:0" }'));
    moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
    const listening = await withDeadline("the edge to listen", moat.waitForLine("the edge to listen", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    const metricsLine = await withDeadline("the metrics endpoint", moat.waitForLine("metrics listening", (line) => line.msg === "metrics listening"), 30_000);
    metricsPort = Number(metricsLine.port);
  });

  after(async () => {
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("a loopback endpoint starts without the unauthenticated warning, and serves only GET /metrics", async () => {
    assert.ok(!moat.lines.some((line) => line.msg?.toString().includes("no authentication")), "no warning on loopback");
    assert.equal((await scrapeRaw(metricsPort, { path: "/" })).status, 404);
    assert.equal((await scrapeRaw(metricsPort, { path: "/metrics/x" })).status, 404);
    const post = await scrapeRaw(metricsPort, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal((await scrapeRaw(metricsPort, { method: "HEAD" })).status, 200);
  });

  test("requests are counted by distribution, status and cache result as traffic comes, and their durations observed", { timeout: 60_000 }, async () => {
    const before = await scrape(metricsPort);
    const requestsBefore = sumOf(before, "moat_requests_total", { distribution: "site" });
    const countBefore = sumOf(before, "moat_request_duration_seconds_count", { distribution: "site" });
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });
    try {
      // One miss, then hits; a 404 from the origin; a path with no behavior is still the distribution's.
      for (let i = 0; i < 5; i++) assert.equal((await viewerRequest(client, { path: "/cached/one", host: "site.test" })).status, 200);
      assert.equal((await viewerRequest(client, { path: "/missing", host: "site.test" })).status, 404);
    } finally {
      await client.close();
    }
    // A host this edge does not serve: counted with no distribution.
    assert.equal((await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "other.test", path: "/" })).status, 421);

    const now = await scrape(metricsPort);
    assert.equal(sumOf(now, "moat_requests_total", { distribution: "site" }) - requestsBefore, 6);
    assert.equal(sumOf(now, "moat_request_duration_seconds_count", { distribution: "site" }) - countBefore, 6);
    const hits = samplesOf(now, "moat_requests_total", { distribution: "site", status: "200", cache: "hit" });
    assert.equal(hits.length, 1, JSON.stringify(samplesOf(now, "moat_requests_total")));
    assert.ok(hits[0]!.value >= 4, `4 hits at least, saw ${hits[0]!.value}`);
    const missed = samplesOf(now, "moat_requests_total", { distribution: "site", status: "200" }).filter((sample) => sample.labels.cache!.startsWith("miss"));
    assert.equal(missed.reduce((sum, s) => sum + s.value, 0), 1, JSON.stringify(samplesOf(now, "moat_requests_total")));
    assert.ok(sumOf(now, "moat_requests_total", { distribution: "site", status: "404" }) >= 1);
    assert.ok(sumOf(now, "moat_requests_total", { distribution: "", status: "421", cache: "none" }) >= 1);
    // The histogram is cumulative and its +Inf bucket is its count.
    const buckets = samplesOf(now, "moat_request_duration_seconds_bucket", { distribution: "site" });
    assert.ok(buckets.length > 2);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, "cumulative buckets");
    assert.equal(buckets.at(-1)!.labels.le, "+Inf");
    assert.equal(buckets.at(-1)!.value, sumOf(now, "moat_request_duration_seconds_count", { distribution: "site" }));
    assert.equal(now.get("moat_request_duration_seconds")?.type, "histogram");
    assert.equal(now.get("moat_requests_total")?.type, "counter");
  });

  test("origin connections count a full handshake, then reuse; the cache reports its memory tier", { timeout: 60_000 }, async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });
    try {
      // Misses one after another: the edge keeps its origin connection alive and reuses it.
      for (let i = 0; i < 3; i++) assert.equal((await viewerRequest(client, { path: `/plain/${i}`, host: "site.test" })).status, 200);
    } finally {
      await client.close();
    }
    const now = await scrape(metricsPort);
    assert.ok(sumOf(now, "moat_origin_connections_total", { distribution: "site", origin: "app", kind: "full" }) >= 1);
    assert.ok(sumOf(now, "moat_origin_connections_total", { distribution: "site", origin: "app", kind: "reused" }) >= 1);
    assert.ok(samplesOf(now, "moat_origin_pool_connections", { distribution: "site", origin: "app", state: "connected" }).length === 1);
    assert.ok(sumOf(now, "moat_cache_objects", { tier: "memory" }) >= 1, "the cached object is in memory");
    assert.ok(sumOf(now, "moat_cache_bytes", { tier: "memory" }) > 0);
    assert.equal(samplesOf(now, "moat_cache_bytes", { tier: "disk" }).length, 1, "a lone edge reports its disk tier");
  });

  test("an origin that refuses connections is counted by its cause", { timeout: 60_000 }, async () => {
    // The test origin stays up; a failure is made by a distribution whose origin port has nothing listening.
    const refused = await new Promise<number>((resolve) => {
      const server = http.createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const start = moat.lines.length;
    const text = config(origin.url, 'workers: 1\nmetrics: { listen: "127.0.0.1:0" }') + `  - id: down\n    aliases: [down.test]\n    origins: [{ id: gone, url: "https://localhost:${refused}" }]\n`;
    await writeFile(join(dir, "moat.yaml"), text);
    process.kill(moat.child.pid!, "SIGHUP");
    await withDeadline("the reload", moat.waitForLine("config reloaded", (line) => moat.lines.indexOf(line) >= start && line.msg === "config reloaded"), 30_000);
    const answer = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "down.test", host: "down.test", path: "/" });
    assert.equal(answer.status, 502);
    const now = await scrape(metricsPort);
    assert.equal(sumOf(now, "moat_origin_failures_total", { distribution: "down", origin: "gone", cause: "origin-connect-refused" }), 1);
    assert.ok(sumOf(now, "moat_snapshot_generation") >= 2, "the reload went live");
  });

  test("each certificate's not-after gauge matches the certificate the edge serves, and the CA's are listed", { timeout: 30_000 }, async () => {
    const served = await servedCertificate(port, "site.test", ca.bundlePem);
    const now = await scrape(metricsPort);
    const viewer = samplesOf(now, "moat_certificate_not_after_seconds", { distribution: "site", role: "viewer-server" });
    assert.deepEqual(
      viewer.map((sample) => [sample.labels.serial, sample.value]),
      [[served.serialHex, served.notAfterS]],
    );
    assert.equal(samplesOf(now, "moat_certificate_not_after_seconds", { distribution: "site", origin: "app", role: "origin-client" }).length, 1);
    const rootSerial = new X509Certificate(ca.rootPem).serialNumber.toLowerCase();
    assert.equal(samplesOf(now, "moat_certificate_not_after_seconds", { role: "ca-root", serial: rootSerial }).length, 1);
    assert.equal(samplesOf(now, "moat_certificate_not_after_seconds", { role: "ca-intermediate" }).length >= 1, true);
    // Rotation counters exist from the start (0), so that increase() over them works before the first event.
    assert.equal(samplesOf(now, "moat_certificate_rotations_total", { what: "certificate", outcome: "failed" }).length, 1);
    // Node's default metrics.
    assert.ok(now.has("process_cpu_user_seconds_total"));
    assert.ok(now.has("nodejs_eventloop_lag_seconds"));
  });
});

describe("moat start with workers: 2 and --metrics", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let moat: RunningMoat;
  let port: number;
  let metricsPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-metrics-workers-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => res.end(`body of ${req.url}`),
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url, "workers: 2"));
    moat = startMoat(["start", "--config", join(dir, "moat.yaml"), "--metrics", "127.0.0.1:0"], { cwd: dir, env: key.env, detached: true });
    const listening = await withDeadline("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    const metricsLine = await withDeadline("the metrics endpoint", moat.waitForLine("metrics listening", (line) => line.msg === "metrics listening"), 30_000);
    assert.equal(metricsLine.worker, 0, "the primary serves the endpoint");
    metricsPort = Number(metricsLine.port);
  });

  after(async () => {
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("requests spread over both workers are all counted on the one endpoint", { timeout: 60_000 }, async () => {
    const before = await scrape(metricsPort);
    assert.equal(sumOf(before, "moat_metrics_workers"), 2);
    assert.equal(sumOf(before, "moat_metrics_workers_answered"), 2);
    const sent = 10;
    const start = moat.lines.length;
    // A fresh connection each: round-robin hands them to alternate workers.
    for (let i = 0; i < sent; i++) assert.equal((await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: `/w/${i}` })).status, 200);
    // Access lines reach stdout within 100 ms of their request (logger.ts): each worker logged at least one.
    for (const worker of [1, 2]) await withDeadline(`worker ${worker}'s access line`, moat.waitForLine(`worker ${worker} served`, (line) => moat.lines.indexOf(line) >= start && line.msg === "request" && line.worker === worker), 10_000);
    const now = await scrape(metricsPort);
    assert.equal(sumOf(now, "moat_requests_total", { distribution: "site" }) - sumOf(before, "moat_requests_total", { distribution: "site" }), sent);
    assert.equal(sumOf(now, "moat_request_duration_seconds_count", { distribution: "site" }) - sumOf(before, "moat_request_duration_seconds_count", { distribution: "site" }), sent);
    // The certificates are the primary's: reported once, not once per process.
    const viewer = samplesOf(now, "moat_certificate_not_after_seconds", { distribution: "site", role: "viewer-server" });
    assert.equal(viewer.length, 1);
    const served = await servedCertificate(port, "site.test", ca.bundlePem);
    assert.equal(viewer[0]!.labels.serial, served.serialHex);
    assert.equal(viewer[0]!.value, served.notAfterS);
  });

  test("a worker that does not answer in time is left out, and the page says so", { timeout: 60_000 }, async () => {
    const stalled = moat.lines.find((line) => line.msg === "worker listening" && line.workerNumber === 1);
    const pid = Number(stalled?.pid);
    assert.ok(pid > 0, "the primary logged worker 1's pid");
    // A stopped process reads no message: the primary's 2 s deadline passes without its answer.
    process.kill(pid, "SIGSTOP");
    try {
      const page = await scrape(metricsPort);
      assert.equal(sumOf(page, "moat_metrics_workers"), 2);
      assert.equal(sumOf(page, "moat_metrics_workers_answered"), 1);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // Once it runs again it answers the next scrape (its late answer to the earlier one is ignored).
    const again = await scrape(metricsPort);
    assert.equal(sumOf(again, "moat_metrics_workers_answered"), 2);
  });
});
