// The OpenTelemetry SDK behind request-tracing.ts: one SERVER span per viewer request, batched to an OTLP/HTTP collector (JSON); loaded only when tracing is configured.
import { hostname } from "node:os";
import { createSecureContext } from "node:tls";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import type { Attributes, Span } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "@opentelemetry/semantic-conventions";
import { TraceExportError, TracingSetupError } from "../errors.ts";
import type { Logger } from "./logger.ts";
import { MOAT_VERSION } from "./moat-version.ts";
import type { CollectorFiles, CollectorTlsFiles, EdgeTracer, RequestSpan, RequestSpanEnd, TracingSettings } from "./request-tracing.ts";
import { validTraceId } from "./trace-context.ts";

/** A failing collector is logged once, then once a minute with what was lost meanwhile: a down collector must not flood the log. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

// The methods semantic conventions name (http.request.method); any other is "_OTHER", with the original beside it.
const KNOWN_METHODS: ReadonlySet<string> = new Set(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"]);

/**
 * A tracer for the edge's requests. No global provider or context manager is registered: spans are started with an
 * explicit parent and ended by the pipeline, so nothing else in the process (no instrumentation) is traced by it.
 * @example
 * const tracer = createOtelTracer(config.tracing, { tls: { ca }, headers: {} }, log);
 * const span = tracer.startRequest(req.headers.traceparent);
 */
export function createOtelTracer(settings: TracingSettings, files: CollectorFiles, log: Logger): EdgeTracer {
  const { otlp } = settings;
  const isHttps = otlp.endpoint.startsWith("https:");
  if (isHttps) checkCollectorTls(files.tls);
  const exporter = new OTLPTraceExporter({
    url: otlp.endpoint,
    headers: { ...files.headers },
    timeoutMillis: otlp.timeoutMs,
    // Verification stays on (Node's default): `ca` replaces the system roots when trustedCa is set.
    httpAgentOptions: isHttps ? { keepAlive: true, ...files.tls } : { keepAlive: true },
  });
  const processor = new BatchSpanProcessor({
    exporter: new ReportingExporter(exporter, otlp.endpoint, log),
    // Bounded: past this many spans waiting (a collector down), new ones are dropped, never held.
    maxQueueSize: otlp.maxQueuedSpans,
    maxExportBatchSize: otlp.maxBatchSpans,
    scheduledDelayMillis: otlp.batchDelayMs,
    // The exporter's own deadline covers its retries; this one is the processor's bound on the whole call.
    exportTimeoutMillis: otlp.timeoutMs + 1_000,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: MOAT_VERSION, "host.name": hostname(), "process.pid": process.pid }),
    // Parent-based: a viewer's valid traceparent decides by its sampled flag; a new trace is sampled at the ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer("moat-edge", MOAT_VERSION);
  let stopped: Promise<void> | undefined;
  return {
    startRequest(traceparent) {
      const parent = remoteParent(traceparent);
      // Named by method until the route is known (end() renames it).
      const span = tracer.startSpan("HTTP", { kind: SpanKind.SERVER }, parent ?? ROOT_CONTEXT);
      return new OtelRequestSpan(span, parent !== undefined);
    },
    flush: (deadlineMs) => withDeadline(provider.forceFlush({ timeoutMillis: deadlineMs }), deadlineMs),
    shutdown(deadlineMs) {
      // forceFlush first, bounded: the SDK's shutdown waits for its export with a 30 s timeout of its own.
      stopped ??= withDeadline(provider.forceFlush({ timeoutMillis: deadlineMs }).then(() => provider.shutdown()), deadlineMs);
      return stopped;
    },
  };
}

/** The viewer's valid traceparent as a remote parent context, or undefined (a new trace). */
function remoteParent(value: string | string[] | undefined) {
  const traceId = validTraceId(value);
  if (traceId === null) return undefined;
  const text = value as string;
  // Positions fixed by the format (trace-context.ts): version-traceid-parentid-flags.
  const spanId = text.slice(36, 52);
  const traceFlags = Number.parseInt(text.slice(53, 55), 16) & TraceFlags.SAMPLED;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, isRemote: true });
}

/** A request's span; its traceparent (what the origin gets) names this span, so the origin's spans are its children. */
class OtelRequestSpan implements RequestSpan {
  readonly traceId: string;
  readonly traceparent: string;
  readonly continuesViewer: boolean;
  readonly isRecording: boolean;
  readonly #span: Span;

  constructor(span: Span, continuesViewer: boolean) {
    const context = span.spanContext();
    this.#span = span;
    this.traceId = context.traceId;
    // Flags 00 for a span sampled out: an origin that follows its parent records nothing either.
    this.traceparent = `00-${context.traceId}-${context.spanId}-${(context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? "01" : "00"}`;
    this.continuesViewer = continuesViewer;
    this.isRecording = span.isRecording();
  }

  end(ended: RequestSpanEnd): void {
    const span = this.#span;
    const isKnown = KNOWN_METHODS.has(ended.method);
    const query = ended.target.indexOf("?");
    // The query is left out: it may carry tokens, and url.path with the route says what was asked.
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: isKnown ? ended.method : "_OTHER",
      [ATTR_URL_SCHEME]: "https",
      [ATTR_URL_PATH]: query === -1 ? ended.target : ended.target.slice(0, query),
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: ended.status,
      [ATTR_NETWORK_PROTOCOL_NAME]: "http",
      [ATTR_NETWORK_PROTOCOL_VERSION]: ended.httpVersion,
      [ATTR_CLIENT_ADDRESS]: ended.clientAddress,
      "moat.request_id": ended.requestId,
    };
    if (!isKnown) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = ended.method;
    if (ended.serverAddress !== "") attributes[ATTR_SERVER_ADDRESS] = ended.serverAddress;
    if (ended.serverPort !== undefined) attributes[ATTR_SERVER_PORT] = ended.serverPort;
    if (ended.userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = ended.userAgent;
    if (ended.route !== undefined) attributes[ATTR_HTTP_ROUTE] = ended.route;
    if (ended.distribution !== undefined) attributes["moat.distribution"] = ended.distribution;
    if (ended.cache !== undefined) attributes["moat.cache"] = ended.cache;
    if (ended.origin !== undefined) attributes["moat.origin"] = ended.origin;
    if (ended.error !== undefined) attributes["moat.error"] = ended.error;
    // A server span is an error for a 5xx, or a response cut after its head; a 4xx is the viewer's (semantic conventions).
    if (ended.status >= 500 || (ended.error !== undefined && ended.status < 400)) {
      attributes[ATTR_ERROR_TYPE] = ended.error ?? String(ended.status);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(ended.error !== undefined ? { message: ended.error } : {}) });
    }
    span.setAttributes(attributes);
    const method = isKnown ? ended.method : "HTTP";
    span.updateName(ended.route === undefined ? method : `${method} ${ended.route}`);
    span.end();
  }
}

/** The collector's PEM files, checked before they are used: a bad key is a setup error at start or reload, not an export failure per batch. */
function checkCollectorTls(files: CollectorTlsFiles): void {
  try {
    createSecureContext(files);
  } catch (error) {
    throw new TracingSetupError(`the collector's TLS files cannot be used (${(error as Error).message})`, { cause: error });
  }
}

/** Resolves when `work` settles or after `ms`, whichever is first: a collector that hangs never holds a stop. */
function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()));
  return Promise.race([work.then(() => undefined, () => undefined), deadline]).finally(() => clearTimeout(timer));
}

/** The OTLP exporter, with its failures written to Moat's log (the SDK's own diagnostics go nowhere). */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #endpoint: string;
  readonly #log: Logger;
  #lastLoggedAt = Number.NEGATIVE_INFINITY;
  #failedBatches = 0;
  #droppedSpans = 0;

  constructor(inner: SpanExporter, endpoint: string, log: Logger) {
    this.#inner = inner;
    this.#endpoint = endpoint;
    this.#log = log;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.#succeeded();
      else this.#failed(spans.length, result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  #succeeded(): void {
    if (this.#failedBatches === 0) return;
    this.#log.info({ endpoint: this.#endpoint, failedBatches: this.#failedBatches, droppedSpans: this.#droppedSpans }, "trace export recovered");
    this.#failedBatches = 0;
    this.#droppedSpans = 0;
    this.#lastLoggedAt = Number.NEGATIVE_INFINITY;
  }

  #failed(spans: number, cause: Error | undefined): void {
    this.#failedBatches++;
    this.#droppedSpans += spans;
    const now = performance.now();
    if (now - this.#lastLoggedAt < FAILURE_LOG_INTERVAL_MS) return;
    this.#lastLoggedAt = now;
    // A TLS or socket error's code (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ECONNREFUSED), or the collector's HTTP status.
    const detail = (cause as { code?: string | number } | undefined)?.code;
    const error = new TraceExportError(this.#endpoint, spans, cause?.message || "the collector did not accept them", { cause });
    this.#log.warn({ endpoint: this.#endpoint, failedBatches: this.#failedBatches, droppedSpans: this.#droppedSpans, error: { code: error.code, cause: detail, message: error.message } }, "trace export failed; the spans are dropped");
  }
}
