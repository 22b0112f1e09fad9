// OpenTelemetry export: one SERVER span per viewer request, sent to a real OTLP/HTTP collector over mTLS; the origin's traceparent names that span; a collector that is down, untrusted or silent never touches a viewer request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startOtlpCollector } from "../support/otlp-collector.ts";
import type { OtlpCollector } from "../support/otlp-collector.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { createViewerCa } from "../support/viewer-pki.ts";
import { connectH2, createViewerClient, h2Request, viewerRequest } from "../support/viewer-client.ts";

const HOUR_MS = 3_600_000;
const SERVER = 2;
const STATUS_ERROR = 2;

let ca: CertificateAuthority;
let origin: TestOrigin;
let dir: string;
/** Files the edge reads: the collector's CA, and the client certificate it presents to the collector. */
const files = { collectorCa: "", otherCa: "", clientCert: "", clientKey: "", headers: "" };
let collectorCertificate: Awaited<ReturnType<CertificateAuthority["issueServerCertificate"]>>;
let clientCaPem: string;
let closedPort: number;

before(async () => {
  ca = await createEphemeralCertificateAuthority();
  const originCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
  origin = await startTestOrigin({ certificate: originCertificate, clientCaPem: ca.bundlePem });
  // The collector's own PKI: a CA of its own for its server certificate, another for the edges' client certificates.
  const collectorCa = await createEphemeralCertificateAuthority({ name: "Collector" });
  collectorCertificate = await collectorCa.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
  const edgeClients = await createViewerCa("Edge telemetry CA");
  const client = await edgeClients.issue("valid", "edge-eu-1");
  clientCaPem = edgeClients.certPem;
  const otherCa = await createEphemeralCertificateAuthority({ name: "Other" });
  dir = await mkdtemp(join(tmpdir(), "moat-otel-"));
  files.collectorCa = join(dir, "collector-ca.pem");
  files.otherCa = join(dir, "other-ca.pem");
  files.clientCert = join(dir, "edge-otlp.pem");
  files.clientKey = join(dir, "edge-otlp.key");
  files.headers = join(dir, "otlp-headers");
  await writeFile(files.collectorCa, collectorCa.bundlePem);
  await writeFile(files.otherCa, otherCa.bundlePem);
  await writeFile(files.clientCert, client.chainPem);
  await writeFile(files.clientKey, client.keyPem);
  await writeFile(files.headers, "# the collector's tenant\nX-Scope-OrgID: edges\n", { mode: 0o600 });
  // A port nothing listens on: a collector that is down.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

after(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

function siteConfig(tracing: Record<string, unknown> | undefined, extraDistributions: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    ...(tracing ? { tracing } : {}),
    distributions: [{ id: "site", aliases: ["site.test"], origins: [{ id: "api", url: origin.url }] }, ...extraDistributions],
  };
}

async function get(edge: TestEdge, path: string, headers: Record<string, string> = {}, host = "site.test") {
  const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: host });
  try {
    return await viewerRequest(client, { path, host, headers });
  } finally {
    await client.close();
  }
}

/** The traceparent the origin got for the request to `path`. */
function originTraceparent(path: string): string {
  const seen = origin.seen.filter((request) => request.url === path);
  assert.equal(seen.length, 1, `the origin saw ${path} once`);
  return String(seen[0]?.headers.traceparent);
}

const hex = (length: number) => Array.from({ length }, () => Math.floor(Math.random() * 16).toString(16)).join("").replace(/^0/, "a");

describe("export to a collector that requires the edge's client certificate", () => {
  let collector: OtlpCollector;
  let edge: TestEdge;
  let closedOrigin: string;

  before(async () => {
    collector = await startOtlpCollector({ certificate: collectorCertificate, clientCaPem });
    closedOrigin = `https://127.0.0.1:${closedPort}`;
    edge = await startTestEdge(
      ca,
      siteConfig(
        {
          serviceName: "moat-test-edge",
          otlp: { endpoint: collector.url, trustedCa: files.collectorCa, clientCertificate: { cert: files.clientCert, key: files.clientKey }, headersFile: files.headers, batchDelay: "20ms" },
        },
        [{ id: "down", aliases: ["down.test"], origins: [{ id: "gone", url: closedOrigin }] }],
      ),
    );
  });

  after(async () => {
    await edge.close();
    await collector.close();
  });

  test("a request gives one SERVER span parented on the viewer's traceparent, and the origin's traceparent names that span", async () => {
    const traceId = hex(32);
    const viewerParent = hex(16);
    const res = await get(edge, "/catalog/item?secret=1", { traceparent: `00-${traceId}-${viewerParent}-01`, tracestate: "vendor=abc", "user-agent": "trace-test/1.0" });
    assert.equal(res.status, 200);
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(collector.spans.filter((each) => each.traceId === traceId).length, 1, "one span for the request");
    assert.equal(span.kind, SERVER);
    assert.equal(span.parentSpanId, viewerParent, "the span's parent is the viewer's");
    assert.equal(span.name, "GET *");
    assert.deepEqual(
      pick(span.attributes, ["http.request.method", "url.scheme", "url.path", "http.route", "http.response.status_code", "server.address", "network.protocol.version", "client.address", "user_agent.original", "moat.distribution", "moat.cache", "moat.origin", "moat.error"]),
      { "http.request.method": "GET", "url.scheme": "https", "url.path": "/catalog/item", "http.route": "*", "http.response.status_code": 200, "server.address": "site.test", "network.protocol.version": "1.1", "client.address": "127.0.0.1", "user_agent.original": "trace-test/1.0", "moat.distribution": "site", "moat.cache": "miss", "moat.origin": "api", "moat.error": undefined },
    );
    assert.equal(span.attributes["server.port"], edge.edge.httpsPort);
    assert.equal(typeof span.attributes["moat.request_id"], "string");
    assert.equal(span.status.code ?? 0, 0, "a 200 leaves the status unset");
    assert.equal(span.resource["service.name"], "moat-test-edge");
    // The origin's parent is the edge's span, in the viewer's trace, sampled; the viewer's tracestate goes on with it.
    assert.equal(originTraceparent("/catalog/item?secret=1"), `00-${traceId}-${span.spanId}-01`);
    assert.equal(origin.seen.find((request) => request.url === "/catalog/item?secret=1")?.headers.tracestate, "vendor=abc");
    // The access line names the same trace.
    const line = await edge.waitForLog((each) => each.msg === "request" && each.path === "/catalog/item?secret=1");
    assert.equal(line.traceId, traceId);
    // Over mTLS: the collector saw the edge's client certificate, the headers file's header and OTLP's JSON encoding.
    assert.ok(collector.requests.length > 0);
    assert.ok(collector.requests.every((request) => request.clientCn === "edge-eu-1" && request.headers["x-scope-orgid"] === "edges" && request.contentType === "application/json"));
  });

  test("a request without a traceparent starts a trace: a root span whose id is the origin's parent-id", async () => {
    assert.equal((await get(edge, "/no-parent")).status, 200);
    const sent = originTraceparent("/no-parent");
    const [, traceId, parentId, flags] = sent.split("-");
    assert.equal(flags, "01");
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(span.spanId, parentId);
    assert.equal(span.parentSpanId, "", "a root span");
  });

  test("an HTTP/2 request (over the raw stream) gives its span too", async () => {
    const traceId = hex(32);
    const session = await connectH2(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "site.test" });
    try {
      assert.equal((await h2Request(session, { ":path": "/h2", ":authority": "site.test", traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
    } finally {
      session.close();
    }
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(span.attributes["network.protocol.version"], "2");
    assert.equal(span.attributes["server.address"], "site.test");
    assert.equal(originTraceparent("/h2"), `00-${traceId}-${span.spanId}-01`);
  });

  test("a failed origin request: the span carries Moat's cause code and an error status", async () => {
    const traceId = hex(32);
    const res = await get(edge, "/fails", { traceparent: `00-${traceId}-${hex(16)}-01` }, "down.test");
    assert.equal(res.status, 502);
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(span.attributes["moat.error"], "origin-connect-refused");
    assert.equal(span.attributes["error.type"], "origin-connect-refused");
    assert.equal(span.attributes["moat.origin"], "gone");
    assert.equal(span.attributes["http.response.status_code"], 502);
    assert.equal(span.status.code, STATUS_ERROR);
  });

  test("a refusal before any route (a Host the connection was not made for): a span with its code, no error status for a 4xx", async () => {
    const traceId = hex(32);
    const session = await connectH2(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "site.test" });
    try {
      assert.equal((await h2Request(session, { ":path": "/x", ":authority": "elsewhere.test", traceparent: `00-${traceId}-${hex(16)}-01` })).status, 421);
    } finally {
      session.close();
    }
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(span.attributes["moat.error"], "misdirected-request");
    assert.equal(span.attributes["http.response.status_code"], 421);
    assert.equal(span.attributes["moat.distribution"], undefined);
    assert.equal(span.attributes["error.type"], undefined);
    assert.equal(span.status.code ?? 0, 0);
    assert.equal(span.name, "GET");
  });
});

describe("sampling", () => {
  let collector: OtlpCollector;
  let edge: TestEdge;

  before(async () => {
    collector = await startOtlpCollector({ certificate: collectorCertificate });
    edge = await startTestEdge(ca, siteConfig({ sampleRatio: 0, otlp: { endpoint: collector.url, trustedCa: files.collectorCa, batchDelay: "20ms" } }));
  });

  after(async () => {
    await edge.close();
    await collector.close();
  });

  test("ratio 0 exports no new trace, and the origin is told so: flags 00, the parent-id the edge's (unexported) span's", async () => {
    assert.equal((await get(edge, "/unsampled")).status, 200);
    const [version, traceId, parentId, flags] = originTraceparent("/unsampled").split("-");
    assert.deepEqual([version, flags], ["00", "00"]);
    assert.match(`${traceId}-${parentId}`, /^[0-9a-f]{32}-[0-9a-f]{16}$/);
    // A viewer's unsampled traceparent stays unsampled; its trace id goes on, under the edge's span id.
    const viewerTrace = hex(32);
    const viewerParent = hex(16);
    assert.equal((await get(edge, "/viewer-unsampled", { traceparent: `00-${viewerTrace}-${viewerParent}-00` })).status, 200);
    const sent = originTraceparent("/viewer-unsampled").split("-");
    assert.deepEqual([sent[1], sent[3]], [viewerTrace, "00"]);
    assert.notEqual(sent[2], viewerParent, "the parent-id is the edge's span's");
    const line = await edge.waitForLog((each) => each.msg === "request" && each.path === "/unsampled");
    assert.equal(line.traceId, traceId, "the access line names the trace all the same");
  });

  test("parent-based: a viewer's sampled traceparent is exported whatever the ratio", async () => {
    const traceId = hex(32);
    assert.equal((await get(edge, "/viewer-sampled", { traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
    const span = await collector.waitForSpan((each) => each.traceId === traceId);
    assert.equal(originTraceparent("/viewer-sampled"), `00-${traceId}-${span.spanId}-01`);
    // The batch the sampled span went in held nothing else: the unsampled requests were never recorded.
    assert.deepEqual(collector.spans.map((each) => each.traceId), [traceId]);
  });
});

test("a clean stop sends the spans still queued, before the batch delay is up", async () => {
  const collector = await startOtlpCollector({ certificate: collectorCertificate });
  const edge = await startTestEdge(ca, siteConfig({ otlp: { endpoint: collector.url, trustedCa: files.collectorCa, batchDelay: "1m" } }));
  try {
    const traceId = hex(32);
    assert.equal((await get(edge, "/queued", { traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(collector.spans.length, 0, "still queued: the batch delay is a minute");
  } finally {
    await edge.close();
  }
  try {
    assert.equal(collector.spans.length, 1, "sent by the stop");
  } finally {
    await collector.close();
  }
});

describe("a collector that fails never touches a viewer request", () => {
  test("an untrusted collector certificate: requests are served, the failed export is logged, and the edge stops cleanly", async () => {
    const collector = await startOtlpCollector({ certificate: collectorCertificate });
    // Verified against another CA than the one that issued the collector's certificate.
    const edge = await startTestEdge(ca, siteConfig({ otlp: { endpoint: collector.url, trustedCa: files.otherCa, batchDelay: "20ms" } }));
    try {
      for (let index = 0; index < 3; index++) assert.equal((await get(edge, `/untrusted-${index}`)).status, 200);
      const failed = await edge.waitForLog((line) => line.msg === "trace export failed; the spans are dropped");
      const error = failed.error as { code: string; cause: string; message: string };
      assert.equal(error.code, "trace-export-failed");
      assert.match(String(error.cause), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
      assert.equal(collector.requests.length, 0, "no export reached the collector's handler");
      assert.equal(collector.spans.length, 0);
    } finally {
      await edge.close();
      await collector.close();
    }
  });

  test("a collector that is down, or accepts and never answers: requests are as quick as without tracing, and a stop waits for it no longer than its limit", async () => {
    // Accepts TCP and says nothing: TLS never completes, the export hangs until its timeout.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const sockets = new Set<net.Socket>();
    silent.on("connection", (socket) => sockets.add(socket));
    for (const endpoint of [`https://127.0.0.1:${closedPort}/v1/traces`, `https://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/traces`]) {
      const edge = await startTestEdge(ca, siteConfig({ otlp: { endpoint, trustedCa: files.collectorCa, batchDelay: "10ms", timeout: "30s" } }));
      let isClosed = false;
      try {
        const started = performance.now();
        for (let index = 0; index < 20; index++) assert.equal((await get(edge, `/down-${index}-${endpoint.length}`)).status, 200);
        const elapsedMs = performance.now() - started;
        // Twenty requests on fresh connections take tens of milliseconds on loopback; one export wait would be 30 s.
        assert.ok(elapsedMs < 10_000, `20 requests took ${Math.round(elapsedMs)} ms`);
        // Give the processor time to start its export of the first batch, which now waits on the collector.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const stopStarted = performance.now();
        await edge.close();
        isClosed = true;
        const stopMs = performance.now() - stopStarted;
        assert.ok(stopMs < 9_000, `the stop took ${Math.round(stopMs)} ms, past its trace flush limit`);
      } finally {
        if (!isClosed) await edge.close();
      }
    }
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
});

describe("reload", () => {
  test("tracing turns on and off with a reload; off, the viewer's traceparent goes to the origin unchanged", async () => {
    const collector = await startOtlpCollector({ certificate: collectorCertificate });
    const edge = await startTestEdge(ca, siteConfig(undefined));
    try {
      const viewer = `00-${hex(32)}-${hex(16)}-01`;
      assert.equal((await get(edge, "/before", { traceparent: viewer })).status, 200);
      assert.equal(originTraceparent("/before"), viewer, "tracing off: passed on as it came");
      await edge.reload(siteConfig({ otlp: { endpoint: collector.url, trustedCa: files.collectorCa, batchDelay: "20ms" } }));
      await edge.waitForLog((line) => line.msg === "tracing on: request spans are exported");
      const traceId = hex(32);
      assert.equal((await get(edge, "/during", { traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
      const span = await collector.waitForSpan((each) => each.traceId === traceId);
      assert.equal(originTraceparent("/during"), `00-${traceId}-${span.spanId}-01`);
      await edge.reload(siteConfig(undefined));
      await edge.waitForLog((line) => line.msg === "tracing off: request spans are no longer exported");
      const after = `00-${hex(32)}-${hex(16)}-01`;
      assert.equal((await get(edge, "/after", { traceparent: after })).status, 200);
      assert.equal(originTraceparent("/after"), after);
    } finally {
      await edge.close();
      await collector.close();
    }
  });

  test("a reload whose collector key cannot be used is refused whole: the running exporter and snapshot stay", async () => {
    const collector = await startOtlpCollector({ certificate: collectorCertificate, clientCaPem });
    const tracing = { otlp: { endpoint: collector.url, trustedCa: files.collectorCa, clientCertificate: { cert: files.clientCert, key: files.clientKey }, batchDelay: "20ms" } };
    const edge = await startTestEdge(ca, siteConfig(tracing));
    const badKey = join(dir, "not-a-key.pem");
    await writeFile(badKey, "not a key\n");
    try {
      await assert.rejects(edge.reload(siteConfig({ otlp: { ...tracing.otlp, clientCertificate: { cert: files.clientCert, key: badKey } } })), (error: Error & { code?: string }) => error.code === "tracing-setup-failed");
      const traceId = hex(32);
      assert.equal((await get(edge, "/still-traced", { traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
      await collector.waitForSpan((each) => each.traceId === traceId);
    } finally {
      await edge.close();
      await collector.close();
    }
  });
  test("a headers file that others may read, or with a bad line, is refused whole, naming the file and line but never a value", async () => {
    const collector = await startOtlpCollector({ certificate: collectorCertificate, clientCaPem });
    const tracing = { otlp: { endpoint: collector.url, trustedCa: files.collectorCa, clientCertificate: { cert: files.clientCert, key: files.clientKey }, batchDelay: "20ms" } };
    const edge = await startTestEdge(ca, siteConfig(tracing));
    const open = join(dir, "headers-0644");
    await writeFile(open, "Authorization: Bearer sekrit-0644\n", { mode: 0o644 });
    const bad = join(dir, "headers-bad");
    await writeFile(bad, "Authorization: Bearer sekrit-bad\nContent-Type: text/plain\n", { mode: 0o600 });
    try {
      await assert.rejects(edge.reload(siteConfig({ otlp: { ...tracing.otlp, headersFile: open } })), (error: Error & { code?: string }) => {
        assert.equal(error.code, "tracing-setup-failed");
        assert.match(error.message, /headers-0644 may be read by others \(mode 0644\).*chmod 600/);
        assert.doesNotMatch(error.message, /sekrit/);
        return true;
      });
      await assert.rejects(edge.reload(siteConfig({ otlp: { ...tracing.otlp, headersFile: bad } })), (error: Error & { code?: string }) => {
        assert.equal(error.code, "tracing-setup-failed");
        assert.match(error.message, /headers-bad, line 2: Content-Type is set by the exporter itself/);
        assert.doesNotMatch(error.message, /sekrit/);
        return true;
      });
      // The running exporter stayed, without the refused headers.
      const traceId = hex(32);
      assert.equal((await get(edge, "/still-traced-headers", { traceparent: `00-${traceId}-${hex(16)}-01` })).status, 200);
      await collector.waitForSpan((each) => each.traceId === traceId);
      assert.ok(collector.requests.every((request) => request.headers.authorization === undefined));
    } finally {
      await edge.close();
      await collector.close();
    }
  });
});

function pick(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, record[key]]));
}

