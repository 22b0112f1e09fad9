// The viewer-facing TLS listener: one port, HTTP/2 and HTTP/1.1 by ALPN, the certificate chosen by SNI, graceful drain.
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { Http2Session, Http2SecureServer, Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { EdgeCache } from "../../cache/index.ts";
import type { ConnectionsConfig } from "../../config/index.ts";
import { closeHttp1, createConnectionLog, handshakeFailure, limitConnections, watchDeadlines } from "../../connections/index.ts";
import type { ConnectionDeadlines, ConnectionLog, DeadlineReason } from "../../connections/index.ts";
import type { Logger, RequestTracing } from "../../observe/index.ts";
import type { DestinationStream } from "pino";
import { assertVerifyModeSupported, requestClientCertificate, tlsPolicyOptions } from "../../tls/index.ts";
import type { TlsPolicy } from "../../tls/index.ts";
import type { EdgeSnapshot } from "../snapshot/edge-snapshot.ts";
import { createViewerH2Guard, VIEWER_H2_OPTIONS, viewerH2DeadlinesOf, viewerH2SocketOf } from "./viewer-h2-limits.ts";
import { ViewerH2Response } from "./viewer-h2-response.ts";
import { isBodilessRead, ViewerH2StreamRequest, ViewerH2StreamResponse } from "./viewer-h2-stream.ts";
import { createViewerConnectionCheck, isBelowMinVersion, logVersionRefusal } from "./viewer-connection-check.ts";
import { handshakeRefusalFields, originFrameOrigins } from "./viewer-mtls-listener.ts";
import { VIEWER_SECURE_OPTIONS } from "../snapshot/viewer-mtls-snapshot.ts";
import { createRequestHandler } from "../pipeline/proxy-request.ts";
import { MeteredH2Request, MeteredIncomingMessage, MeteredServerResponse } from "./viewer-meter.ts";
import type { ViewerRequest } from "../pipeline/proxy-request.ts";
import { createViewerUpgrades } from "./upgrade-request.ts";

export interface ViewerListener {
  readonly server: Http2SecureServer;
  /** Stops accepting, lets requests in flight finish, closes idle connections; resolves when all are closed. */
  drain(): Promise<void>;
  /** Requests being served now. */
  inFlight(): number;
  /**
   * Closes every viewer connection whose handshake presented one of these certificates, and
   * rotates the session ticket keys so no resumed session outlives a revoked certificate.
   */
  dropConnectionsServedWith(serials: ReadonlySet<string>): number;
  /** New session ticket keys: no session issued before resumes (the viewers' certificate policy changed). */
  rotateTicketKeys(): void;
}

// The deadlines of the connection an HTTP/1.1 response is on, told when it closes (endHttp1Exchange).
const DEADLINES = Symbol("moat.viewerDeadlines");
type DeadlinedResponse = Writable & { [DEADLINES]?: ConnectionDeadlines };

function endHttp1Exchange(this: DeadlinedResponse): void {
  // Told once, as once() would: the listener stays (a closed response emits nothing more), the watch goes.
  const watch = this[DEADLINES];
  this[DEADLINES] = undefined;
  watch?.requestEnded();
}

interface ConnectionState {
  active: number;
}

/**
 * @example
 * const viewer = createViewerListener({ currentSnapshot: () => snapshot, log });
 * viewer.server.listen(8443);
 */
export function createViewerListener(deps: { currentSnapshot(): EdgeSnapshot; log: Logger; cache?: EdgeCache; connections: ConnectionsConfig; tls?: TlsPolicy; accessDestination?: DestinationStream; tracing?: RequestTracing }): ViewerListener {
  assertVerifyModeSupported();
  const connections = new Map<Socket, ConnectionState>();
  const sessions = new Set<Http2Session>();
  const connectionLog = createConnectionLog(deps.log, { listener: "viewers" });
  // Refused handshakes are connection records too: rate-limited per address, their suppressed count written.
  const viewerCheck = createViewerConnectionCheck(deps.log, connectionLog);
  const deadlines = new WeakMap<Socket, ConnectionDeadlines>();
  // An HTTP/1.1 connection's latest response: a drain ends the connection only once it is sent.
  const responseOn = new WeakMap<Socket, Writable>();
  // The TLS socket being handed to http2's listener: its 'session' event, emitted synchronously, belongs to it.
  let handingOver: TLSSocket | undefined;
  let isDraining = false;
  let inFlight = 0;
  // Inactivity while a request is open (connections.timeouts.stalled): a stalled upload, or a viewer
  // that stopped reading. Between requests, the connections deadlines apply (src/connections).
  const stalledExchangeMs = deps.connections.stalledMs;
  const upgrades = createViewerUpgrades({ holdConnectionDeadlines: (stream) => viewerH2DeadlinesOf(stream)?.holdForTunnel() });

  const handler = createRequestHandler({
    upgrades,
    currentSnapshot: deps.currentSnapshot,
    log: deps.log,
    cache: deps.cache,
    accessDestination: deps.accessDestination,
    tracing: deps.tracing,
    bindOnFirstRequest: viewerCheck.bindOnFirstRequest,
    socketOf: (req) => (req.httpVersionMajor === 2 ? viewerH2SocketOf(req as Http2ServerRequest) : undefined),
    onRequestStart(req) {
      inFlight++;
      const state = req.httpVersionMajor === 1 ? connections.get(req.socket) : undefined;
      if (state) state.active++;
    },
    onRequestEnd(req) {
      inFlight--;
      const state = req.httpVersionMajor === 1 ? connections.get(req.socket) : undefined;
      if (state && --state.active === 0 && isDraining) endAfterResponse(req.socket);
    },
  });

  const h2Guard = createViewerH2Guard(deps.log, { stalledStreamMs: stalledExchangeMs });
  const server = http2.createSecureServer(
    {
      // HTTP/2 settings and flood limits (viewer-h2-limits.ts).
      ...VIEWER_H2_OPTIONS,
      allowHTTP1: true,
      // TCP_NODELAY, as node:https and nginx (tcp_nodelay on) set it: a tls.Server leaves Nagle on, and a response
      // written while the previous one is unacknowledged waited for the viewer's delayed ACK.
      noDelay: true,
      // HTTP/2 responses of the compatibility layer in fewer frames: no trailers round trip, END_STREAM on the last
      // DATA (viewer-h2-response.ts); bodiless reads skip that layer (viewer-h2-stream.ts).
      // (Typed as Node's class: @types/node makes that one generic over its request type.)
      Http2ServerResponse: ViewerH2Response as typeof Http2ServerResponse,
      // Body bytes and the first byte's time, for the access log (viewer-meter.ts).
      Http2ServerRequest: MeteredH2Request as typeof Http2ServerRequest,
      Http1IncomingMessage: MeteredIncomingMessage,
      Http1ServerResponse: MeteredServerResponse as unknown as typeof ServerResponse,
      minVersion: "TLSv1.2",
      // Ciphers and groups here, not in the distributions' contexts: OpenSSL keeps the listener's when SNI swaps the context.
      ...tlsPolicyOptions(deps.tls),
      secureOptions: VIEWER_SECURE_OPTIONS,
      // Node's default is 120 s: half-open handshakes (no ClientHello, no certificate, no Finished) could pile up for minutes.
      handshakeTimeout: deps.connections.handshakeMs,
      // RFC 8441: HTTP/2 viewers may open WebSockets with an extended CONNECT (VIEWER_H2_OPTIONS holds the other settings).
      settings: { ...VIEWER_H2_OPTIONS.settings, enableConnectProtocol: true },
      // Viewer mTLS: whether a certificate is asked for is set per distribution in the SNI callback
      // (requestClientCertificate). The handshake itself never aborts on a bad certificate: OpenSSL
      // records its verdict, and judgeConnection (src/tls/connection-verdict.ts) refuses the
      // connection or accepts it per the mode, right after the handshake, before any request. This
      // is the one place in Moat where rejectUnauthorized is false: a server-side option meaning
      // "decide after the handshake", needed for optional and passthrough; no client ever sets it.
      requestCert: false,
      rejectUnauthorized: false,
      // Every viewer-facing context is chosen by SNI; a client that sends no SNI gets no certificate.
      // A function, not an arrow: Node calls it with the handshaking TLSSocket as `this`.
      SNICallback: function (this: TLSSocket, servername, callback) {
        const distribution = deps.currentSnapshot().distributionForHost(servername.toLowerCase());
        if (!distribution) return callback(new Error(`sni-unknown: no distribution serves ${servername}`), undefined);
        requestClientCertificate(this, distribution.viewerMtls.mode);
        callback(null, distribution.secureContext);
      },
    },
    // One 'request' listener for HTTP/1.1 and the HTTP/2 streams Node's compatibility layer serves (see 'stream'
    // below): an emit with two clones its listener array, per request.
    (req, res) => {
      if (req.httpVersionMajor === 1) {
        if (isBehindClosingResponse(req as unknown as IncomingMessage)) return;
        watchHttp1Exchange(req as unknown as IncomingMessage, res as unknown as Writable);
      } else if (h2Guard.refuses(req)) return;
      handler(req as ViewerRequest, res);
    },
  );
  // HTTP/2 streams: a bodiless GET or HEAD (nearly every request an edge serves) is served over the
  // raw stream with light request and response objects (viewer-h2-stream.ts); any other stream goes
  // to Node's compatibility layer, its listener taken from the server here, which emits 'request'
  // (or 'connect', for a WebSocket's extended CONNECT) with Node's objects as before.
  const compatStreamListeners = server.listeners("stream");
  const [toCompatLayer] = compatStreamListeners;
  if (compatStreamListeners.length !== 1 || !toCompatLayer) throw new Error(`bug: expected http2's one compatibility 'stream' listener, found ${compatStreamListeners.length}`);
  server.removeAllListeners("stream");
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    if (!isBodilessRead(stream, headers)) return void toCompatLayer.call(server, stream, headers, flags, rawHeaders);
    if (h2Guard.refusesStream(stream)) return;
    const req = new ViewerH2StreamRequest(stream, headers, rawHeaders);
    // The pipeline's request and response types are Node's; these have the members it uses of them (viewer-h2-stream.ts).
    handler(req as unknown as ViewerRequest, new ViewerH2StreamResponse(stream, req) as unknown as Http2ServerResponse);
  });
  // Node's parser reads every request pipelined in a chunk, and emits each one even when the response
  // before it ends the connection (a refused head: 400 with Connection: close). Served, such a request
  // reached the origin, and maybe the cache, though no byte of its answer could ever reach the viewer:
  // a smuggled request's way past a refusal. It is dropped unanswered, as nginx does after a close.
  function isBehindClosingResponse(req: IncomingMessage): boolean {
    // `_last`: Node's own mark of a response that ends its connection (a Connection: close it sent or
    // will send), set as its head is stored; http's internals have read it since Node 0.x.
    const previous = responseOn.get(req.socket) as (Writable & { _last?: boolean; shouldKeepAlive?: boolean }) | undefined;
    if (previous === undefined || (previous._last !== true && previous.shouldKeepAlive !== false)) return false;
    deps.log.debug({ remote: req.socket.remoteAddress, method: req.method }, "viewer request pipelined after a response that closes the connection: dropped");
    return true;
  }
  // HTTP/1.1: a request's head is complete when it is emitted; its exchange ends when its response
  // closes (sent, or cut). HTTP/2 streams are watched per session (h2Guard.watch, below).
  function watchHttp1Exchange(req: IncomingMessage, res: Writable): void {
    responseOn.set(req.socket, res);
    const watch = deadlines.get(req.socket);
    if (watch === undefined) return;
    watch.requestStarted();
    // One listener function for every response, its connection's deadlines hung on it: no closure and no once() wrapper per request.
    (res as DeadlinedResponse)[DEADLINES] = watch;
    res.on("close", endHttp1Exchange);
  }
  // Node's headersTimeout and requestTimeout do not reach HTTP/1.1 behind http2's allowHTTP1 (checked
  // on Node 24: a silent or half-sent head stays open); the connections deadlines below replace them.
  // keepAliveTimeout does, and at the idle deadline's length it also tells HTTP/1.1 viewers (Keep-Alive: timeout=N).
  // No server.setTimeout: its socket timer moved at every read and write; while a request is open, the
  // deadlines look at the socket's byte counts every connections.timeouts.stalled instead.
  (server as Http2SecureServer & { keepAliveTimeout?: number }).keepAliveTimeout = deps.connections.idleMs;
  const gate = limitConnections(server, deps.connections, connectionLog);
  // An HTTP/1.1 WebSocket handshake leaves HTTP without a 'request' event: from its head on, the
  // connection is one exchange until it closes (the tunnel's idle and lifetime limits take over).
  server.on("upgrade", (_req: IncomingMessage, socket: Socket) => deadlines.get(socket)?.upgraded());
  // WebSocket handshakes go through the same pipeline (SNI/Host, behavior, viewer certificate) as any request.
  upgrades.listen(server, handler);

  // The connection is judged (TLS version, viewer certificate) before HTTP sees it: http2's own
  // listener, which starts HTTP/2 or HTTP/1.1 on the socket, is called only for an accepted one, so
  // a refused connection never has a single request parsed.
  const startHttp = server.listeners("secureConnection");
  const [handOverToHttp] = startHttp;
  if (startHttp.length !== 1 || !handOverToHttp) throw new Error(`bug: expected http2's one secureConnection listener, found ${startHttp.length}`);
  server.removeAllListeners("secureConnection");
  server.on("secureConnection", (socket: TLSSocket) => {
    const snapshot = deps.currentSnapshot();
    if (!enforceMinVersion(socket, snapshot, deps.log, connectionLog) || !viewerCheck.check(socket, snapshot)) return;
    // Tracked after the handshake: requests see the TLS socket, not the raw TCP one.
    connections.set(socket, { active: 0 });
    socket.once("close", () => connections.delete(socket));
    deadlines.set(socket, watchDeadlines(socket, deps.connections, (reason) => closeExpired(socket, reason), { stalledMs: stalledExchangeMs }));
    handingOver = socket;
    try {
      handOverToHttp.call(server, socket);
    } finally {
      handingOver = undefined;
    }
  });
  // HTTP/1.1 closes itself (a 408 if a head had begun); HTTP/2 says GOAWAY, then the socket goes.
  function closeExpired(socket: TLSSocket, reason: DeadlineReason): void {
    connectionLog.closed(reason, gate.addressOf(socket), { protocol: socket.alpnProtocol || "http/1.1" });
    const session = sessionOf.get(socket);
    if (!session) return closeHttp1(socket, reason);
    session.close();
    setTimeout(() => session.destroy(), 1_000).unref();
  }
  const sessionOf = new WeakMap<TLSSocket, ServerHttp2Session>();
  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    const socket = handingOver;
    const watch = socket && deadlines.get(socket);
    if (socket) sessionOf.set(socket, session);
    // Its streams' reset counts, and the connection's deadlines: a stream is a request from its head to its close.
    h2Guard.watch(session, socket && watch ? { socket, deadlines: watch } : undefined);
    if (isDraining) return session.close();
    // RFC 8336: tells HTTP/2 clients this connection serves only its own distribution's names,
    // so that they do not coalesce another distribution's requests onto it (those get 421 anyway).
    const origins = originFrameOrigins(session.socket as TLSSocket, deps.currentSnapshot());
    if (origins.length > 0) session.origin(...origins);
  });
  server.on("tlsClientError", (error: Error & { code?: string }, socket: TLSSocket) => {
    // The gate closed it before TLS began: its line is written already.
    if (gate.wasRefused(socket)) return;
    const remote = gate.addressOf(socket);
    // No ClientHello, a peer that left, or not TLS at all: cheap to send in floods, so rate-limited.
    const failure = handshakeFailure(error, socket);
    if (failure) return connectionLog.closed(failure, remote);
    const fields = handshakeRefusalFields(error, socket, deps.currentSnapshot());
    connectionLog.refused("viewer handshake refused", fields.reason as string, remote, { ...fields, remote, detail: error.message }, `${String(fields.sni ?? "")} ${fields.clientCert?.fingerprint256 ?? ""}`);
  });

  // end() after the response's last byte is queued: the socket sends it, then its FIN.
  function endAfterResponse(socket: Socket): void {
    const res = responseOn.get(socket);
    if (!res || res.writableFinished || res.destroyed) return void socket.end();
    res.once("close", () => socket.end());
  }

  async function drain(): Promise<void> {
    isDraining = true;
    connectionLog.stop();
    upgrades.closeAll("drain");
    // Not server.close(): with allowHTTP1 it also runs http's closeIdleConnections, which destroys a
    // connection whose response has ended but whose bytes still wait in the socket (the viewer gets
    // "other side closed"). The TLS server's own close only stops accepting; connections end below.
    const closed = new Promise<void>((resolve) => tls.Server.prototype.close.call(server, () => resolve()));
    for (const session of sessions) session.close();
    for (const [socket, state] of connections) {
      // An HTTP/1.1 connection between requests can go now; a busy one goes after its response.
      if (state.active === 0 && !isHttp2Socket(socket, sessions)) endAfterResponse(socket);
    }
    await closed;
  }

  function dropConnectionsServedWith(serials: ReadonlySet<string>): number {
    server.setTicketKeys(randomBytes(48));
    let dropped = 0;
    for (const socket of connections.keys()) {
      const served = (socket as TLSSocket).getCertificate();
      const serial = served && "serialNumber" in served ? String(served.serialNumber).toLowerCase() : "";
      // No certificate known: a resumed session that named no server (its first handshake's
      // certificate is not in the default context); it may have been made with a revoked one.
      if (serials.has(serial) || serial === "") {
        socket.destroy();
        dropped++;
      }
    }
    return dropped;
  }

  return { server, drain, inFlight: () => inFlight, dropConnectionsServedWith, rotateTicketKeys: () => server.setTicketKeys(randomBytes(48)) };
}

function isHttp2Socket(socket: Socket, sessions: Set<Http2Session>): boolean {
  for (const session of sessions) if (session.socket === socket) return true;
  return false;
}

// SNI selects the certificate only after OpenSSL has picked the protocol version, so a
// distribution's stricter minimum is enforced here, right after the handshake, before any request.
// Returns false when it refused the connection.
function enforceMinVersion(socket: TLSSocket, snapshot: EdgeSnapshot, log: Logger, refusals: ConnectionLog): boolean {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
  if (distribution && isBelowMinVersion(socket, distribution)) {
    logVersionRefusal(log, socket, distribution, refusals);
    socket.destroy();
    return false;
  }
  return true;
}
