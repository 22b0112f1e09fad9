// The edge's request spans as the pipeline sees them: a switch read once per request, off unless `tracing` is configured; the OpenTelemetry SDK behind it (otel-tracer.ts) is loaded only then.
// No @opentelemetry import here: every edge loads this file, and one without tracing must not pay for the SDK.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { TracingSetupError } from "../errors.ts";
import type { Logger } from "./logger.ts";

/** What the exporter needs (config/types.ts TracingConfig, restated here: observe reads no config module). */
export interface TracingSettings {
  readonly serviceName: string;
  readonly sampleRatio: number;
  readonly otlp: {
    readonly endpoint: string;
    readonly trustedCaFile: string | null;
    readonly clientCertificate: { readonly certFile: string; readonly keyFile: string } | null;
    readonly headersFile: string | null;
    readonly timeoutMs: number;
    readonly batchDelayMs: number;
    readonly maxBatchSpans: number;
    readonly maxQueuedSpans: number;
  };
}

/** The PEM files of the collector's TLS, read once per setup. */
export interface CollectorTlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** What an exporter is made from besides its settings: the TLS files and the headers file's fields. */
export interface CollectorFiles {
  tls: CollectorTlsFiles;
  headers: Record<string, string>;
}

/** One viewer request's SERVER span, started as the request arrives. */
export interface RequestSpan {
  /** 32 hex digits: the viewer's trace id when its traceparent was valid, else a new one. */
  readonly traceId: string;
  /** What the origin gets: version 00, this span's id as parent-id, flags 01 when sampled and 00 when not. */
  readonly traceparent: string;
  /** Whether the span continues the viewer's trace (its valid traceparent): its tracestate goes on with it. */
  readonly continuesViewer: boolean;
  /** False for a span sampled out: the caller builds no RequestSpanEnd for it. */
  readonly isRecording: boolean;
  /** Sets the span's attributes and status from what the request came to, and ends it (exported in the next batch). */
  end(ended: RequestSpanEnd): void;
}

/** What a request came to, as the access line has it. */
export interface RequestSpanEnd {
  method: string;
  /** The request target as the viewer sent it (path and query); the span keeps the path alone. */
  target: string;
  /** "1.1" or "2". */
  httpVersion: string;
  status: number;
  /** The Host (or :authority) the viewer sent, lower-cased, without the port; "" when none. */
  serverAddress: string;
  serverPort: number | undefined;
  clientAddress: string;
  userAgent: string | undefined;
  requestId: string;
  distribution: string | undefined;
  /** The behavior's path pattern ("/static/*", "*"): the span's http.route. */
  route: string | undefined;
  /** The cache's result (hit, miss, stale, bypass…), when the request went through it. */
  cache: string | undefined;
  origin: string | undefined;
  /** Moat's error code (origin-connect-timeout, no-behavior…) when the request ended in one. */
  error: string | undefined;
}

/** The OpenTelemetry side (otel-tracer.ts): a tracer provider, its batch processor and exporter. */
export interface EdgeTracer {
  startRequest(traceparent: string | string[] | undefined): RequestSpan;
  /** Sends what is queued; resolves by `deadlineMs` whatever the collector does. */
  flush(deadlineMs: number): Promise<void>;
  /** Flushes, then stops; spans ended afterwards are dropped. Resolves by `deadlineMs`. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** A new exporter, made but not yet in use: `commit` puts it in place of the running one, `discard` drops it. */
export interface PreparedTracing {
  commit(): void;
  discard(): Promise<void>;
}

export interface RequestTracing {
  /** The tracer each new request starts its span on; undefined when tracing is off (the per-request check). */
  readonly tracer: EdgeTracer | undefined;
  /**
   * Makes the exporter for `settings` (null: off), reading its files, without touching the running one: a start or a
   * reload prepares, builds the rest, then commits (or discards if the rest failed). Settings and files that did
   * not change keep the running exporter. Throws TracingSetupError for a file that cannot be read or used.
   */
  prepare(settings: TracingSettings | null): Promise<PreparedTracing>;
  /** Flushes and stops every exporter, within `deadlineMs`: the edge's last act on a clean stop. */
  stop(deadlineMs: number): Promise<void>;
}

/** How long a replaced exporter keeps taking the spans of requests that started on it, before it flushes and stops. */
export const RETIRED_TRACER_GRACE_MS = 30_000;
/** A replaced exporter's last flush: bounded, as every wait. */
const RETIRE_FLUSH_MS = 5_000;

/**
 * The edge's request tracing: off (and the SDK not loaded) until prepared with settings.
 * @example
 * const tracing = createRequestTracing(log.child({ part: "tracing" }));
 * (await tracing.prepare(config.tracing)).commit();
 * const span = tracing.tracer?.startRequest(req.headers.traceparent);
 */
export function createRequestTracing(log: Logger): RequestTracing {
  let tracer: EdgeTracer | undefined;
  // What the running exporter was made from (settings and file contents): an unchanged reload keeps it.
  let runningKey = "";
  const retiring = new Set<{ tracer: EdgeTracer; timer: NodeJS.Timeout }>();

  const retire = (old: EdgeTracer) => {
    // Requests in flight end their spans on the tracer they started on: it takes them for a while, then goes.
    const entry = { tracer: old, timer: setTimeout(() => {
      retiring.delete(entry);
      void old.shutdown(RETIRE_FLUSH_MS);
    }, RETIRED_TRACER_GRACE_MS).unref() };
    retiring.add(entry);
  };

  return {
    get tracer() {
      return tracer;
    },
    async prepare(settings) {
      if (settings === null) {
        return {
          commit() {
            if (tracer === undefined) return;
            retire(tracer);
            tracer = undefined;
            runningKey = "";
            log.info("tracing off: request spans are no longer exported");
          },
          discard: async () => {},
        };
      }
      const files = await readCollectorFiles(settings);
      const key = settingsKey(settings, files);
      if (tracer !== undefined && key === runningKey) return { commit() {}, discard: async () => {} };
      // The SDK is loaded here, the first time tracing is configured.
      const { createOtelTracer } = await import("./otel-tracer.ts");
      const next = createOtelTracer(settings, files, log);
      return {
        commit() {
          if (tracer !== undefined) retire(tracer);
          const isNew = tracer === undefined;
          tracer = next;
          runningKey = key;
          log.info({ endpoint: settings.otlp.endpoint, sampleRatio: settings.sampleRatio, serviceName: settings.serviceName }, isNew ? "tracing on: request spans are exported" : "tracing settings changed: a new exporter takes the next requests' spans");
        },
        discard: () => next.shutdown(0),
      };
    },
    async stop(deadlineMs) {
      const all = [...retiring].map((entry) => (clearTimeout(entry.timer), entry.tracer));
      retiring.clear();
      if (tracer !== undefined) all.push(tracer);
      tracer = undefined;
      runningKey = "";
      await Promise.all(all.map((each) => each.shutdown(deadlineMs)));
    },
  };
}

async function readCollectorFiles(settings: TracingSettings): Promise<CollectorFiles> {
  const { trustedCaFile, clientCertificate, headersFile } = settings.otlp;
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new TracingSetupError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
  };
  const tls: CollectorTlsFiles = {};
  if (trustedCaFile !== null) tls.ca = await read(trustedCaFile, "tracing.otlp.trustedCa");
  if (clientCertificate !== null) {
    tls.cert = await read(clientCertificate.certFile, "tracing.otlp.clientCertificate.cert");
    tls.key = await read(clientCertificate.keyFile, "tracing.otlp.clientCertificate.key");
  }
  if (headersFile === null) return { tls, headers: {} };
  await refuseReadableByOthers(headersFile);
  return { tls, headers: parseHeadersFile((await read(headersFile, "tracing.otlp.headersFile")).toString("utf8"), headersFile) };
}

/** The headers file holds credentials: like a key file, it is refused when its group or others may read it. */
async function refuseReadableByOthers(file: string): Promise<void> {
  const { mode } = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new TracingSetupError(`cannot read tracing.otlp.headersFile ${file}: ${error.code ?? error.message}`, { cause: error });
  });
  if (process.platform === "win32" || (mode & 0o077) === 0) return;
  throw new TracingSetupError(`tracing.otlp.headersFile ${file} may be read by others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); it holds the collector's credentials: chmod 600 ${file}`);
}

// RFC 9110 §5.1: a field name is a token. These the exporter sets itself.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EXPORTER_HEADERS: ReadonlySet<string> = new Set(["content-type", "content-length", "content-encoding", "host", "connection", "transfer-encoding"]);

/**
 * The fields of a headers file: one `Name: value` a line; blank lines and lines starting with `#` are skipped. An error
 * names the line and the header, never the value (a credential).
 * @example
 * parseHeadersFile("# Grafana Cloud\nAuthorization: Basic dXNlcjprZXk=\n", "/etc/moat/otlp-headers"); // { Authorization: "Basic dXNlcjprZXk=" }
 */
export function parseHeadersFile(text: string, file: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `tracing.otlp.headersFile ${file}, line ${index + 1}`;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new TracingSetupError(`${where}: expected "Name: value"`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name)) throw new TracingSetupError(`${where}: ${JSON.stringify(name.slice(0, 64))} is not an HTTP header name`);
    if (EXPORTER_HEADERS.has(name.toLowerCase())) throw new TracingSetupError(`${where}: ${name} is set by the exporter itself`);
    // eslint-disable-next-line no-control-regex
    if (/[\0-\x08\x0a-\x1f\x7f]/.test(value)) throw new TracingSetupError(`${where}: the value of ${name} holds a control character`);
    if (Object.keys(headers).some((seen) => seen.toLowerCase() === name.toLowerCase())) throw new TracingSetupError(`${where}: ${name} is given twice`);
    headers[name] = value;
  }
  return headers;
}

/** A digest, not the settings themselves: the key's content (a client key, header secrets) stays out of memory dumps of this string. */
function settingsKey(settings: TracingSettings, files: CollectorFiles): string {
  const hash = createHash("sha256").update(JSON.stringify(settings));
  // Each part length-prefixed: no two sets of files hash alike by moving bytes from one to the next.
  const headers = Buffer.from(JSON.stringify(files.headers));
  for (const part of [files.tls.ca, files.tls.cert, files.tls.key, headers]) hash.update(part === undefined ? "\0none" : `\0${part.length}:`).update(part ?? "");
  return hash.digest("hex");
}
