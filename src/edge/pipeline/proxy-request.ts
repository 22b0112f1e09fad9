// The request pipeline: distribution (SNI and Host agree) → behavior → origin → streamed response.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { TLSSocket } from "node:tls";
import type { EdgeCache } from "../../cache/index.ts";
import { OriginFailureError } from "../../errors.ts";
import { requestTarget } from "../../origin/index.ts";
import { createAccessLog, edgeMetrics, jsonString, RequestTrace } from "../../observe/index.ts";
import type { AccessLog, Logger, RequestSpan, RequestSpanEnd, RequestTracing } from "../../observe/index.ts";
import type { DestinationStream } from "pino";
import { connectionFragment, routeFragment, stageFields } from "./access-line-fields.ts";
import type { MeteredRequest, MeteredResponse } from "../viewers/viewer-meter.ts";
import { forwardedAuthority, hostnameOfAuthority } from "./alias-index.ts";
import type { EdgeErrorCode, MoatErrorValue } from "./moat-error-values.ts";
import { AMBIGUOUS_PATH_PROBLEM, checkRequestTarget, readRequestHead } from "./request-target.ts";
import { createRequestIds } from "./request-id.ts";
import { hasSafeMethodBody } from "./safe-method-body.ts";
import { EdgeExchange, bypassedCache, forwardEarlyHints, goesThroughCache } from "./cache-stage.ts";
import type { EdgeSnapshot, DistributionRuntime, RoutedBehavior } from "../snapshot/edge-snapshot.ts";
import { sendEdgeError, writeViewerHead } from "./error-response.ts";
import type { ViewerResponse } from "./error-response.ts";
import { viewerResponseHeaders } from "./forwarded-headers.ts";
import { withEdgeCertificateHeaders } from "./viewer-cert-headers.ts";
import { screenViewerHeaders } from "./viewer-header-names.ts";
import { connectionServerName } from "../viewers/viewer-connection-check.ts";
import type { ConnectionRefusal } from "../viewers/viewer-connection-check.ts";
import { NO_CERTIFICATE_HEADERS, viewerForwardHeaders, viewerRefusal, viewerRequestFacts } from "./viewer-request.ts";
import type { ViewerUpgrades } from "../viewers/upgrade-request.ts";
import { forwardWebSocket } from "../viewers/websocket-forward.ts";
import type { ViewerRequestFacts } from "./viewer-request.ts";
import { watchViewerGone } from "../viewers/viewer-gone.ts";

export type ViewerRequest = IncomingMessage | Http2ServerRequest;

export interface RequestPipelineDeps {
  /** The snapshot a new request starts on; it keeps it until it ends. */
  currentSnapshot(): EdgeSnapshot;
  log: Logger;
  /** The edge's cache; without one every request goes to the origin. */
  cache?: EdgeCache;
  /** Binds a resumed TLS session that named no server to its first request's host (viewer-connection-check.ts). */
  bindOnFirstRequest?(socket: TLSSocket, hostname: string, snapshot: EdgeSnapshot): void;
  /** Told when a request starts and ends, so a drain knows when the edge is idle. */
  onRequestStart?(req: ViewerRequest): void;
  onRequestEnd?(req: ViewerRequest): void;
  /** The request's TLS socket, when the listener knows it without going through req.socket (for HTTP/2, a proxy made per stream). */
  socketOf?(req: ViewerRequest): TLSSocket | undefined;
  /** WebSocket handshakes and open tunnels (upgrade-request.ts); without it every request is an ordinary one. */
  upgrades?: ViewerUpgrades;
  /** Where access lines go when not to `log`'s destination: the access log's own file (log.accessLog.file). */
  accessDestination?: DestinationStream;
  /** The edge's request spans (observe/request-tracing.ts): its tracer is undefined while tracing is off. */
  tracing?: RequestTracing;
}

interface RequestFacts {
  requestId: string;
  startedAt: number;
  snapshot: EdgeSnapshot;
  httpVersion: string;
  /** Read at the start: an HTTP/2 stream's socket is gone once the session closes. */
  clientAddress: string;
  /** The request's socket, read once (an HTTP/2 request's `socket` is a proxy, each read a lookup). */
  socket: TLSSocket | undefined;
  /** The viewer's certificate as judged after the handshake; `viewer.identityFields` is what a cache key may use. */
  viewer: ViewerRequestFacts;
  /** Once the request is matched to one: its access-log setting applies. */
  distribution: DistributionRuntime | undefined;
  /** Writes the access line (observe/access-log.ts); `log`'s level decides whether it is written. */
  access: AccessLog;
  /** The trace context, made when the request goes to an origin or its line is written (at the start, from the span, with tracing on). */
  trace: RequestTrace | undefined;
  /** The edge's span of this request, with tracing on; ended where the access line is written (accessLog). */
  span: RequestSpan | undefined;
  /** Once forwarded (through the cache or to the origin): its behavior, whose line fields are JSON made once per behavior (access-line-fields.ts). */
  behavior: RoutedBehavior | undefined;
  /** Told when the request ends, by a stage that ends it itself (ENDS_ITSELF). */
  deps: RequestPipelineDeps;
}

/**
 * What handle() gives: undefined when the request was answered at once; a promise that settles when it has been; or
 * ENDS_ITSELF when the stage tells the request's end itself (a request through the cache: its access line and end come
 * in the cache's own `.then`, not in a second promise chained after it, for every miss).
 */
const ENDS_ITSELF = Symbol("moat.endsItself");
type Handling = Promise<unknown> | undefined | typeof ENDS_ITSELF;

/**
 * Creates the viewer request handler.
 * @example
 * http2.createSecureServer({ allowHTTP1: true, SNICallback }, createRequestHandler({ currentSnapshot, log }));
 */
export function createRequestHandler(deps: RequestPipelineDeps): (req: ViewerRequest, res: ViewerResponse) => void {
  const nextRequestId = createRequestIds();
  const access = createAccessLog(deps.log, deps.accessDestination);
  const tracing = deps.tracing;
  return (req, res) => {
    const socket = deps.socketOf?.(req) ?? (req.socket as TLSSocket | undefined);
    // Tracing off: this one check is all a request pays (no span, no parse of its traceparent here).
    const tracer = tracing?.tracer;
    const span = tracer === undefined ? undefined : tracer.startRequest(req.headers.traceparent);
    const facts: RequestFacts = {
      requestId: nextRequestId(),
      startedAt: performance.now(),
      snapshot: deps.currentSnapshot(),
      httpVersion: req.httpVersionMajor === 2 ? "2" : "1.1",
      clientAddress: socket?.remoteAddress ?? "",
      socket,
      viewer: viewerRequestFacts(socket),
      // Every field set later is in the literal: the object keeps one shape, with no property store grown per request.
      distribution: undefined,
      access,
      trace: span === undefined ? undefined : new RequestTrace(req.headers, span),
      span,
      behavior: undefined,
      deps,
    };
    // No line at this level: the response's first byte is not timed (viewer-meter.ts).
    if (!access.isEnabled()) (res as unknown as MeteredResponse).firstByteAt = -1;
    deps.onRequestStart?.(req);
    // A fresh hit from memory is answered without a promise (handle gives undefined); a request through the cache ends
    // itself; anything else gives a promise (which may settle with ENDS_ITSELF: an HTTP/2 GET that waited for its end).
    let handling: Handling;
    try {
      handling = handle(req, res, facts, deps);
    } catch (error) {
      handlerFailed(error, req, res, facts, deps.log);
    }
    if (handling === undefined) deps.onRequestEnd?.(req);
    else if (handling !== ENDS_ITSELF)
      handling.then(
        (value) => {
          if (value !== ENDS_ITSELF) deps.onRequestEnd?.(req);
        },
        (error: unknown) => {
          handlerFailed(error, req, res, facts, deps.log);
          deps.onRequestEnd?.(req);
        },
      );
  };
}

/** The end of a request whose stage ends it itself: its line (a failure there costs this response, as in handle), then the end. */
function endItself(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, fields: Record<string, unknown>): void {
  try {
    accessLog(facts.deps.log, req, res, facts, fields);
  } catch (error) {
    handlerFailed(error, req, res, facts, facts.deps.log);
  }
  facts.deps.onRequestEnd?.(req);
}

function endItselfFailed(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, error: unknown): void {
  const fields: Record<string, unknown> = {};
  try {
    recordFailure(error, res, facts, fields, facts.deps.log);
  } catch (failure) {
    handlerFailed(failure, req, res, facts, facts.deps.log);
  }
  endItself(req, res, facts, fields);
}

// A bug must cost one request, never the process: log it and cut this response.
function handlerFailed(error: unknown, req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, log: Logger): void {
  log.error({ requestId: facts.requestId, error: { message: (error as Error)?.message, stack: (error as Error)?.stack } }, "request handler failed");
  res.destroy();
  // The line may not have been written (the failure came before it): the span ends all the same.
  if (facts.span !== undefined) {
    const span = facts.span;
    facts.span = undefined;
    if (span.isRecording) span.end(spanEnd(req, res, facts, { error: "edge-internal" }));
  }
}

// A malformed HTTP/1.1 request, or a GET with a body, closes its connection: what follows on the wire may not be framed as the viewer meant.
const CLOSE_H1: Readonly<Record<string, string>> = Object.freeze({ connection: "close" });
const NO_EXTRA_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

// No closure in handle(): one would make V8 allocate a context for its variables on every request, refused or not.
function refuse(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, log: Logger, error: { status: number; code: MoatErrorValue; summary: string; extraHeaders?: Readonly<Record<string, string>> }, fields: Record<string, unknown>): undefined {
  sendEdgeError(res, { ...error, requestId: facts.requestId, cacheStatusName: cacheStatusNameOfRequest(facts) });
  return accessLog(log, req, res, facts, { ...fields, error: error.code });
}

function closeH1(req: ViewerRequest): Readonly<Record<string, string>> {
  return req.httpVersionMajor === 1 ? CLOSE_H1 : NO_EXTRA_HEADERS;
}

/** Undefined when the request was answered at once; else a promise that settles when it has been. */
function handle(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, deps: RequestPipelineDeps): Handling {
  const log = deps.log;
  const head = readRequestHead(req);
  if (!head.ok) return refuse(req, res, facts, log, { status: head.status, code: head.code, summary: head.problem, extraHeaders: head.status === 400 ? closeH1(req) : NO_EXTRA_HEADERS }, {});
  const authority = head.authority;
  // Lower-cased once, for the distribution's match and the forwarded Host alike.
  const hostname = hostnameOfAuthority(authority);
  if (deps.bindOnFirstRequest && facts.viewer.identity === undefined) {
    // Synchronous, before any await: a connection's first request binds it before its others run.
    deps.bindOnFirstRequest(facts.socket as TLSSocket, hostname, facts.snapshot);
    facts.viewer = viewerRequestFacts(facts.socket);
  }
  const distribution = matchDistribution(facts.socket, hostname, facts.snapshot);
  if ("code" in distribution) {
    // A connection that can serve nothing closes (HTTP/1.1), so that the client's retry makes a new one.
    return refuse(req, res, facts, log, { status: 421, code: distribution.code, summary: distribution.summary, extraHeaders: distribution.isConnectionRefused ? closeH1(req) : NO_EXTRA_HEADERS }, { host: authority });
  }
  facts.distribution = distribution;
  // The authority the origin hears of, in its normal form: what the cache keys by, not the viewer's spelling of it.
  const forwardedHost = forwardedAuthority(authority, facts.socket?.localPort, hostname);
  const target = checkRequestTarget(head.path);
  if (!target.ok) return refuse(req, res, facts, log, { status: 400, code: "bad-request-target", summary: target.problem }, { distribution: distribution.id });
  const behavior = distribution.route(target.pathname);
  // Routed as sent and as a lenient origin reads it: if those disagree, no behavior is safe to pick.
  if (target.normalised !== target.pathname && distribution.route(target.normalised) !== behavior) return refuse(req, res, facts, log, { status: 400, code: "bad-request-target", summary: AMBIGUOUS_PATH_PROBLEM }, { distribution: distribution.id });
  if (behavior === undefined) return refuse(req, res, facts, log, { status: 404, code: "no-behavior", summary: "no cache behavior of this distribution matches the path" }, { distribution: distribution.id });
  const refusal = viewerRefusal(distribution, behavior, facts.viewer);
  if (refusal) {
    if (refusal.logFields) log.warn({ requestId: facts.requestId, distribution: distribution.id, client: facts.clientAddress, error: refusal.code, ...refusal.logFields }, refusal.summary);
    return refuse(req, res, facts, log, refusal, { distribution: distribution.id, behavior: behavior.path });
  }
  // A WebSocket handshake is a GET (RFC 6455 §4.1; RFC 8441 §4 carries it in CONNECT), which every behavior allows.
  const handshake = deps.upgrades?.handshakeOf(req);
  if (handshake && deps.upgrades) return forwardHandshake(req, res, facts, log, deps.upgrades, handshake, distribution, behavior, forwardedHost);
  if (!behavior.allowedMethods.has(req.method ?? "")) {
    const allow = [...behavior.allowedMethods].join(", ");
    return refuse(req, res, facts, log, { status: 405, code: "method-not-allowed", summary: `this path allows ${allow}`, extraHeaders: { allow } }, { distribution: distribution.id, behavior: behavior.path });
  }
  const hasBody = hasSafeMethodBody(req);
  if (hasBody === false) return forward(req, res, facts, distribution, behavior, forwardedHost, head.path, log, deps.cache);
  if (hasBody === true) return refuseBody(req, res, facts, log, distribution, behavior);
  // An HTTP/2 GET whose HEADERS did not end its stream: wait for its end (safe-method-body.ts).
  return hasBody.then((isBody) => (isBody ? refuseBody(req, res, facts, log, distribution, behavior) : forward(req, res, facts, distribution, behavior, forwardedHost, head.path, log, deps.cache)));
}

function refuseBody(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, log: Logger, distribution: DistributionRuntime, behavior: RoutedBehavior): undefined {
  const summary = `a ${req.method ?? ""} request carries no body here; send the data with POST or PUT`;
  return refuse(req, res, facts, log, { status: 400, code: "request-body-not-allowed", summary, extraHeaders: closeH1(req) }, { distribution: distribution.id, behavior: behavior.path });
}

function forwardHandshake(
  req: ViewerRequest,
  res: ViewerResponse,
  facts: RequestFacts,
  log: Logger,
  upgrades: ViewerUpgrades,
  handshake: NonNullable<ReturnType<ViewerUpgrades["handshakeOf"]>>,
  distribution: DistributionRuntime,
  behavior: RoutedBehavior,
  authority: string,
): Promise<void> {
  const request = { req, res, handshake, distribution, behavior, authority, requestId: facts.requestId, clientAddress: facts.clientAddress, httpVersion: facts.httpVersion, viewer: facts.viewer, trace: (facts.trace ??= new RequestTrace(req.headers)) };
  return forwardWebSocket(request, log, upgrades).then((fields) => accessLog(log, req, res, facts, fields));
}

/** The distribution the TLS connection was made for, if the Host names it too; else why not (a 421). */
function matchDistribution(socket: TLSSocket | undefined, hostname: string, snapshot: EdgeSnapshot): DistributionRuntime | (ConnectionRefusal & { isConnectionRefused: boolean }) {
  const misdirected = (summary: string) => ({ code: "misdirected-request" as const, summary, isConnectionRefused: false });
  const servername = connectionServerName(socket);
  if (typeof servername === "object") return { ...servername, isConnectionRefused: true };
  const byName = servername ? snapshot.distributionForHost(servername) : undefined;
  if (byName === undefined) return misdirected("the TLS server name (SNI) of this connection is not served by this edge any more; reconnect");
  if (hostname === "") return misdirected("the request has no Host header (or :authority)");
  // RFC 9110 §15.5.20: a request for an authority this connection was not made for is misdirected.
  if (snapshot.distributionForHost(hostname) !== byName) {
    return misdirected(`Host ${hostname} is not served on a connection made for ${servername}; open a connection with SNI ${hostname}`);
  }
  return byName;
}

/** Through the cache, or to the origin; undefined when the request was answered at once (a fresh hit from memory). */
function forward(
  req: ViewerRequest,
  res: ViewerResponse,
  facts: RequestFacts,
  distribution: DistributionRuntime,
  behavior: RoutedBehavior,
  authority: string,
  path: string,
  log: Logger,
  cache: EdgeCache | undefined,
): Handling {
  const method = req.method ?? "GET";
  const certificateHeaders = viewerForwardHeaders(distribution, facts.viewer, req.headers);
  const screened = screenViewerHeaders(req.headers, distribution.underscoreHeaders);
  if (screened.dropped.length > 0) log.debug({ requestId: facts.requestId, distribution: distribution.id, dropped: screened.dropped }, "viewer headers dropped");
  // The cache matches Vary and builds keys from the request as the origin sees it: headers the edge dropped are gone, its certificate headers are in.
  // Screening dropped every certificate header the viewer sent, so without the edge's own there is nothing to do.
  const requestHeaders = certificateHeaders === NO_CERTIFICATE_HEADERS ? screened.headers : withEdgeCertificateHeaders(screened.headers, certificateHeaders);
  const exchange = new EdgeExchange({
    method,
    url: path,
    distributionId: distribution.id,
    viewerHost: authority,
    httpVersion: facts.httpVersion,
    clientAddress: facts.clientAddress,
    screenedHeaders: screened.headers,
    requestHeaders,
    certificateHeaders,
    behavior,
    res,
    requestId: facts.requestId,
    trace: (facts.trace ??= new RequestTrace(req.headers)),
    cacheStatusName: distribution.cacheStatusName,
  });
  // The line's distribution and behavior fields come from facts.behavior (made only for a line written); the stages give their own.
  facts.behavior = behavior;
  if (!goesThroughCache(cache, method, behavior)) return forwardUncached(req, res, facts, exchange, {}, log, cache);
  let served: Record<string, unknown> | Promise<Record<string, unknown>>;
  try {
    served = cache.serve(exchange);
  } catch (error) {
    const fields: Record<string, unknown> = {};
    recordFailure(error, res, facts, fields, log);
    return accessLog(log, req, res, facts, fields);
  }
  // The cache's fields as they are (accessLog only reads them): for a memory hit, one frozen object whose JSON is
  // made once (access-line-fields.ts); for a miss, the object the cache made for this request.
  if (!(served instanceof Promise)) return accessLog(log, req, res, facts, served);
  served.then(
    (cacheFields) => endItself(req, res, facts, cacheFields),
    (error: unknown) => endItselfFailed(req, res, facts, error),
  );
  return ENDS_ITSELF;
}

async function forwardUncached(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, exchange: EdgeExchange, fields: Record<string, unknown>, log: Logger, cache: EdgeCache | undefined): Promise<void> {
  // The origin request is cut when the viewer leaves before its response is whole.
  const gone = watchViewerGone(res);
  try {
    const answer = await requestTarget(exchange.behavior.target, {
      method: exchange.method,
      path: exchange.url,
      headers: exchange.originHeaders(),
      // An aborted viewer upload destroys this stream, and undici then aborts the origin request:
      // the origin sees a cut request, never a short one that looks complete.
      body: hasBody(req) ? (req as Readable) : null,
      cancel: gone,
      requestId: facts.requestId,
      onEarlyHints: (hints) => forwardEarlyHints(res, hints),
    });
    fields.origin = answer.originId;
    if (answer.failedOverBecause) fields.failover = answer.failedOverBecause;
    answer.addLogFields(fields);
    const response = answer.response;
    const bypass = bypassedCache(cache, exchange, response.statusCode, response.headers, log);
    const cacheHeaders = bypass instanceof Promise ? await bypass : bypass;
    // viewerResponseHeaders makes a new object: the cache's fields go into it.
    writeViewerHead(res, response.statusCode, Object.assign(viewerResponseHeaders(response.headers, facts.httpVersion), cacheHeaders));
    // A body that has already arrived whole goes out as it is, the last chunk with the end (one write for a small body).
    const whole = response.wholeBody?.() ?? null;
    if (whole === null) await pipeline(response.body, res);
    else if (!res.destroyed) endWithChunks(res, whole);
  } catch (error) {
    recordFailure(error, res, facts, fields, log);
  } finally {
    gone.stopWatching();
  }
  accessLog(log, req, res, facts, fields);
}

function endWithChunks(res: ViewerResponse, chunks: readonly Buffer[]): void {
  const last = chunks.length - 1;
  for (let index = 0; index < last; index++) (res as ServerResponse).write(chunks[index] as Buffer);
  if (last >= 0) (res as ServerResponse).end(chunks[last]);
  else res.end();
}

function recordFailure(error: unknown, res: ViewerResponse, facts: RequestFacts, fields: Record<string, unknown>, log: Logger): void {
  if (error instanceof OriginFailureError) {
    fields.origin = error.originId;
    fields.error = error.code;
    // The full message (origin URL, CA path, certificate, fix) is for the operator, in the log.
    log.warn({ requestId: facts.requestId, distribution: error.distributionId, origin: error.originId, error: { code: error.code, message: error.message } }, "origin request failed");
    sendEdgeError(res, { status: error.status, code: error.code, summary: error.summary, requestId: facts.requestId, cacheStatusName: cacheStatusNameOfRequest(facts) });
    return;
  }
  const code = (error as { code?: string })?.code;
  fields.error = res.headersSent ? "response-interrupted" : "edge-internal";
  if (code !== "ABORT_ERR" && code !== "UND_ERR_ABORTED" && code !== "ERR_STREAM_PREMATURE_CLOSE") {
    log.warn({ requestId: facts.requestId, error: { code, message: (error as Error)?.message } }, "request failed mid-way");
  }
  sendEdgeError(res, { status: 502, code: fields.error as EdgeErrorCode, summary: "the edge could not complete the response", requestId: facts.requestId, cacheStatusName: cacheStatusNameOfRequest(facts) });
}

/** The distribution's Cache-Status identifier once the request is matched to one; the edge's before. */
function cacheStatusNameOfRequest(facts: RequestFacts): string {
  return (facts.distribution ?? facts.snapshot).cacheStatusName;
}

function hasBody(req: ViewerRequest): boolean {
  // A GET or HEAD that got here has none (safe-method-body.ts), even an HTTP/2 one ended by an empty DATA frame.
  if (req.method === "GET" || req.method === "HEAD") return false;
  if (req.httpVersionMajor === 2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

/** What the span is told at its end: the access line's facts, as strings and numbers. */
function spanEnd(req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, fields: Record<string, unknown>): RequestSpanEnd {
  const headers = req.headers;
  const authority = headers[":authority"] ?? headers.host;
  const userAgent = headers["user-agent"];
  return {
    method: req.method ?? "",
    target: req.url ?? "",
    httpVersion: facts.httpVersion,
    status: res.statusCode,
    serverAddress: hostnameOfAuthority(typeof authority === "string" ? authority : undefined),
    serverPort: facts.socket?.localPort,
    clientAddress: facts.clientAddress,
    userAgent: typeof userAgent === "string" ? userAgent : undefined,
    requestId: facts.requestId,
    // A WebSocket's stage names its route in its fields; any other request's is in facts once it was forwarded.
    distribution: facts.distribution?.id,
    route: facts.behavior?.path ?? stringField(fields.behavior),
    cache: stringField(fields.cache),
    origin: stringField(fields.origin),
    error: stringField(fields.error),
  };
}

function stringField(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

// Fields the line writes itself, from the request: a stage's field of the same name is not written twice.
const LINE_FIELDS: ReadonlySet<string> = new Set(["requestId", "snapshot", "method", "path", "http", "status", "ms", "traceId", "ttfbMs", "bytesIn", "bytesOut", "client", "tlsVersion", "cipher", "clientCert"]);
const isLineField = (name: string) => LINE_FIELDS.has(name);

/**
 * `ms` as the line writes it, to a tenth: what `String(Math.round(ms * 10) / 10)` gives ("3", "0.4", "12.5"), made from
 * integers (a double's shortest decimal form, V8's dtoa, cost more than the rest of the number's share of the line).
 */
function tenths(ms: number): string {
  const count = Math.round(ms * 10);
  if (!(count >= 0 && count <= 0x3fffffff)) return String(count / 10);
  const whole = (count / 10) | 0;
  const tenth = count - whole * 10;
  return tenth === 0 ? `${whole}` : `${whole}.${tenth}`;
}

/** Always undefined: a stage that answered returns it, as the request's end. */
function accessLog(log: Logger, req: ViewerRequest, res: ViewerResponse, facts: RequestFacts, fields: Record<string, unknown>): undefined {
  // The span ends where the line is written, sampled out of the log or not: both know the status, the cache and the origin.
  if (facts.span !== undefined) {
    const span = facts.span;
    facts.span = undefined;
    if (span.isRecording) span.end(spanEnd(req, res, facts, fields));
  }
  // Every request is counted, sampled out of the log or not; with metrics off this is one comparison (observe/edge-metrics.ts).
  if (edgeMetrics !== undefined) edgeMetrics.request(facts.distribution?.id ?? "", res.statusCode, (fields.cache as string | undefined) ?? "none", (performance.now() - facts.startedAt) / 1000);
  // The line's fields are computed only when it is written: not above level info, not for a request sampled out.
  const sample = facts.distribution?.accessLogSample ?? facts.snapshot.accessLogSample;
  if (sample === 0 || (sample < 1 && Math.random() >= sample) || !log.isLevelEnabled("info")) return undefined;
  // One string, built here: the request's fields in the line's order, with no object per line and no per-field
  // dispatch. What needs no escaping goes in as it is: the request id (base64url and base36), numbers, the HTTP
  // version, hex; a viewer's method and path are escaped. What repeats is JSON made once: the connection's fields,
  // the route's (distribution, behavior) and a memory hit's (access-line-fields.ts); other stage fields (cache,
  // origin, error…) go through observe's jsonFields.
  const metered = res as unknown as Partial<MeteredResponse>;
  const firstByteAt = metered.firstByteAt ?? 0;
  const startedAt = facts.startedAt;
  let line = `,"requestId":"${facts.requestId}","snapshot":${facts.snapshot.generation},"method":${jsonString(req.method ?? "")},"path":${jsonString(req.url ?? "")},"http":"${facts.httpVersion}","status":${res.statusCode},"ms":${tenths(performance.now() - startedAt)},"traceId":"${(facts.trace ??= new RequestTrace(req.headers)).traceId}"`;
  if (firstByteAt > 0) line += `,"ttfbMs":${tenths(firstByteAt - startedAt)}`;
  line += `,"bytesIn":${(req as unknown as Partial<MeteredRequest>).bytesIn ?? 0},"bytesOut":${metered.bytesOut ?? 0}${connectionFragment(facts.socket, facts.clientAddress, facts.viewer)}${facts.behavior === undefined || facts.distribution === undefined ? "" : routeFragment(facts.distribution.id, facts.behavior)}${stageFields(fields, isLineField)}`;
  facts.access.writeFields(line);
  return undefined;
}
