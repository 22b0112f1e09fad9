// The `tracing` section of a config file: OpenTelemetry export of the edge's request spans to an OTLP/HTTP collector.
import { isIP } from "node:net";
import { z } from "zod";
import { closedObject } from "./closed-object.ts";
import { LIMITS } from "./defaults.ts";
import * as field from "./fields.ts";
import { describeValue } from "./issues.ts";

const LOOPBACK_NAMES = new Set(["localhost", "localhost.", "ip6-localhost"]);

/** Whether a URL's hostname is this machine: a collector beside the edge may take plain HTTP, no other may. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (LOOPBACK_NAMES.has(host)) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * What is wrong with a collector endpoint, or null: an absolute https:// URL (http:// only to a loopback address, a
 * collector on the same host), with no user or password in it (they would be logged; use `headers`), no fragment.
 */
export function otlpEndpointProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be the collector's OTLP/HTTP traces URL, such as https://otel-collector.internal:4318/v1/traces";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https:// URL (OTLP over HTTP; gRPC is not supported)";
  if (url.protocol === "http:" && !isLoopback(url.hostname)) return "must be https:// unless the collector is on this host (127.0.0.1, ::1 or localhost): spans name hosts, paths and addresses";
  if (url.username !== "" || url.password !== "") return "must not hold a user or password: put credentials in otlp.headers";
  if (url.hash !== "") return "must not have a #fragment";
  return null;
}

// RFC 9110 §5.1: a field name is a token. Content-Type and Content-Length are the exporter's own.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EXPORTER_HEADERS = new Set(["content-type", "content-length", "content-encoding", "host", "connection", "transfer-encoding"]);

const headerValue = field.checkedString((value) => (/[\0\r\n]/.test(value) ? "must not contain a line break or NUL" : null));

const otlpHeaders = z.record(z.string(), headerValue).superRefine((headers, ctx) => {
  for (const name of Object.keys(headers)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: `is not an HTTP header name (got ${describeValue(name)})`, input: name });
    else if (EXPORTER_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: "custom", path: [name], message: "is set by the exporter itself", input: name });
  }
});

const ratioError = (issue: { input?: unknown }) => `must be a number from 0 (no new trace is sampled) to 1 (every one) (got ${describeValue(issue.input)})`;

/** `tracing.otlp`: where and how spans are sent. */
const otlp = closedObject({
  endpoint: field.checkedString(otlpEndpointProblem),
  /** The CA bundle that verifies the collector's certificate; the system's roots when absent. */
  trustedCa: field.filePath.optional(),
  /** The certificate and key the edge presents to a collector that asks for one (mTLS). */
  clientCertificate: closedObject({ cert: field.filePath, key: field.filePath }).optional(),
  headers: otlpHeaders.optional(),
  timeout: field.duration(LIMITS.traceExportTimeoutMs).optional(),
  batchDelay: field.duration(LIMITS.traceBatchDelayMs).optional(),
}).superRefine((value, ctx) => {
  // A plain-HTTP endpoint has no TLS to put them in: refused rather than silently unused.
  if (!value.endpoint.startsWith("http:")) return;
  for (const key of ["trustedCa", "clientCertificate"] as const) {
    if (value[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: "needs an https:// endpoint (this one is plain http://)", input: value[key] });
  }
});

export const tracingSection = closedObject({
  otlp,
  sampleRatio: z.number({ error: ratioError }).min(0, { error: ratioError }).max(1, { error: ratioError }).optional(),
  serviceName: field.checkedString((name) => (name.trim() === "" || name.length > 255 ? "must be a name of 1 to 255 characters" : null)).optional(),
});
