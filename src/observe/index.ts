// Observability: structured logs, the access log, and (loaded only when asked for) Prometheus metrics and OpenTelemetry trace export.
export { createAccessLog, jsonFields, jsonString } from "./access-log.ts";
export type { AccessLog } from "./access-log.ts";
export { createLogger } from "./logger.ts";
export { MOAT_VERSION } from "./moat-version.ts";
export type { Logger, LoggerOptions } from "./logger.ts";
export { RequestTrace, newTraceId, newTraceparent, validTraceId } from "./trace-context.ts";
export { createRequestTracing } from "./request-tracing.ts";
export type { EdgeTracer, RequestSpan, RequestSpanEnd, RequestTracing, TracingSettings } from "./request-tracing.ts";
export { ACCESS_FILE_MODE, accessFileBase, openAccessFile } from "./access-file.ts";
export type { AccessFile, AccessFileSettings } from "./access-file.ts";
export { edgeMetrics, installEdgeMetrics } from "./edge-metrics.ts";
export type { CertificateInUse, EdgeMetrics, EdgeMetricsSources, OriginConnectionKind, OriginPoolStats } from "./edge-metrics.ts";
export type { MetricsEndpoint, ProcessMetrics, ProcessMetricsJson } from "./metrics-registry.ts";
export type { MetricJson } from "./request-tally.ts";

/** Loads prom-client and the edge's metrics: only an edge started with metrics on pays for them. */
export function loadMetrics(): Promise<typeof import("./metrics-registry.ts")> {
  return import("./metrics-registry.ts");
}
