// The `tracing` section: off when absent, defaults filled in, paths resolved, and bad values refused with their path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.ts";
import { assertOnlyIssue, minimal } from "./fixture.ts";

const parse = (document: unknown) => parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });
const ENDPOINT = "https://otel-collector.internal:4318/v1/traces";

test("without a tracing section, tracing is off", () => {
  assert.equal(parse(minimal()).tracing, null);
});

test("an endpoint alone: every request's trace sampled, service moat, OpenTelemetry's batch and timeout defaults", () => {
  assert.deepEqual(parse({ ...minimal(), tracing: { otlp: { endpoint: ENDPOINT } } }).tracing, {
    serviceName: "moat",
    sampleRatio: 1,
    otlp: { endpoint: ENDPOINT, trustedCaFile: null, clientCertificate: null, headersFile: null, timeoutMs: 10_000, batchDelayMs: 5_000, maxBatchSpans: 512, maxQueuedSpans: 2048 },
  });
});

test("every setting, with the collector's files relative to the config file", () => {
  const tracing = parse({
    ...minimal(),
    tracing: { sampleRatio: 0.05, serviceName: "moat-eu", otlp: { endpoint: ENDPOINT, trustedCa: "collector-ca.pem", clientCertificate: { cert: "otlp/edge.pem", key: "/secrets/edge.key" }, headersFile: "otlp-headers", timeout: "2s", batchDelay: "500ms" } },
  }).tracing;
  assert.deepEqual(tracing, {
    serviceName: "moat-eu",
    sampleRatio: 0.05,
    otlp: { endpoint: ENDPOINT, trustedCaFile: "/etc/moat/collector-ca.pem", clientCertificate: { certFile: "/etc/moat/otlp/edge.pem", keyFile: "/secrets/edge.key" }, headersFile: "/etc/moat/otlp-headers", timeoutMs: 2_000, batchDelayMs: 500, maxBatchSpans: 512, maxQueuedSpans: 2048 },
  });
  // A collector beside the edge may take plain HTTP.
  for (const endpoint of ["http://127.0.0.1:4318/v1/traces", "http://localhost:4318/v1/traces", "http://[::1]:4318/v1/traces"]) {
    assert.equal(parse({ ...minimal(), tracing: { otlp: { endpoint } } }).tracing?.otlp.endpoint, endpoint);
  }
});

test("bad values are refused with their path and what is expected", () => {
  const tracing = (otlp: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({ ...minimal(), tracing: { otlp: { endpoint: ENDPOINT, ...otlp }, ...rest } });
  assertOnlyIssue({ ...minimal(), tracing: {} }, "tracing.otlp", "");
  assertOnlyIssue(tracing({ endpoint: "collector:4318" }), "tracing.otlp.endpoint", "https:// URL");
  assertOnlyIssue(tracing({ endpoint: "not a url" }), "tracing.otlp.endpoint", "must be the collector's OTLP/HTTP traces URL");
  assertOnlyIssue(tracing({ endpoint: "http://otel-collector.internal:4318/v1/traces" }), "tracing.otlp.endpoint", "must be https:// unless the collector is on this host");
  assertOnlyIssue(tracing({ endpoint: "https://user:pw@otel-collector.internal/v1/traces" }), "tracing.otlp.endpoint", "must not hold a user or password");
  assertOnlyIssue(tracing({ endpoint: "http://127.0.0.1:4318/v1/traces", trustedCa: "ca.pem" }), "tracing.otlp.trustedCa", "needs an https:// endpoint");
  assertOnlyIssue(tracing({ clientCertificate: { cert: "edge.pem" } }), "tracing.otlp.clientCertificate.key", "");
  assertOnlyIssue(tracing({ clientCertificate: { issuedBy: "moat" , cert: "a", key: "b" } }), "tracing.otlp.clientCertificate.issuedBy", "unknown key");
  // Credentials go in a file the config names, never in the config (the store, the admin API and the audit trail would hold them).
  assertOnlyIssue(tracing({ headers: { authorization: "Bearer x" } }), "tracing.otlp.headers", "unknown key");
  assertOnlyIssue(tracing({ timeout: 5 }), "tracing.otlp.timeout", "a duration needs a unit");
  assertOnlyIssue(tracing({ timeout: "2m" }), "tracing.otlp.timeout", "must be between");
  assertOnlyIssue(tracing({}, { sampleRatio: 1.5 }), "tracing.sampleRatio", "must be a number from 0");
  assertOnlyIssue(tracing({}, { sampleRatio: "10%" }), "tracing.sampleRatio", "must be a number from 0");
  assertOnlyIssue(tracing({}, { serviceName: " " }), "tracing.serviceName", "must be a name of 1 to 255 characters");
  assertOnlyIssue(tracing({}, { exporter: "otlp" }), "tracing.exporter", "unknown key");
  assertOnlyIssue(tracing({ endpiont: "x" }), "tracing.otlp.endpiont", 'did you mean "endpoint"');
});
