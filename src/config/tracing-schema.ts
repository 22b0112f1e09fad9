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
 * collector on the same host), with no user or password in it (they would be logged; use `headersFile`), no fragment.
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
  if (url.username !== "" || url.password !== "") return "must not hold a user or password: put credentials in a file named by otlp.headersFile";
  if (url.hash !== "") return "must not have a #fragment";
  return null;
}

const ratioError = (issue: { input?: unknown }) => `must be a number from 0 (no new trace is sampled) to 1 (every one) (got ${describeValue(issue.input)})`;

/** `tracing.otlp`: where and how spans are sent. */
const otlp = closedObject({
  endpoint: field.checkedString(otlpEndpointProblem),
  /** The CA bundle that verifies the collector's certificate; the system's roots when absent. */
  trustedCa: field.filePath.optional(),
  /** The certificate and key the edge presents to a collector that asks for one (mTLS). */
  clientCertificate: closedObject({ cert: field.filePath, key: field.filePath }).optional(),
  /**
   * A file of `Name: value` lines sent with every export (a collector's API key): a path, never the values, so the
   * config, the store, the admin API and the audit trail carry no credential; read as a key file (0600).
   */
  headersFile: field.filePath.optional(),
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
