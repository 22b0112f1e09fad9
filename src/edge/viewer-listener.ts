// The viewer-facing TLS listener: one port, HTTP/2 and HTTP/1.1 by ALPN, the certificate chosen by SNI, graceful drain.
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { Http2Session, Http2SecureServer, ServerHttp2Session } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { EdgeCache } from "../cache/index.ts";
import type { Logger } from "../observe/index.ts";
import { assertVerifyModeSupported, requestClientCertificate, tlsPolicyOptions } from "../tls/index.ts";
import type { TlsPolicy } from "../tls/index.ts";
import type { EdgeSnapshot } from "./edge-snapshot.ts";
import { createViewerConnectionCheck, isBelowMinVersion, logVersionRefusal } from "./viewer-connection-check.ts";
import { handshakeRefusalFields, originFrameOrigins } from "./viewer-mtls-listener.ts";
import { VIEWER_SECURE_OPTIONS } from "./viewer-mtls-snapshot.ts";
import { createRequestHandler } from "./proxy-request.ts";
import type { ViewerRequest } from "./proxy-request.ts";

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

const idleTimeoutMs = 120_000;

interface ConnectionState {
  active: number;
}

/**
 * @example
 * const viewer = createViewerListener({ currentSnapshot: () => snapshot, log });
 * viewer.server.listen(8443);
 */
export function createViewerListener(deps: { currentSnapshot(): EdgeSnapshot; log: Logger; cache?: EdgeCache; tls?: TlsPolicy }): ViewerListener {
  assertVerifyModeSupported();
  const viewerCheck = createViewerConnectionCheck(deps.log);
  const connections = new Map<Socket, ConnectionState>();
  const sessions = new Set<Http2Session>();
  let isDraining = false;
  let inFlight = 0;

  const handler = createRequestHandler({
    currentSnapshot: deps.currentSnapshot,
    log: deps.log,
    cache: deps.cache,
    bindOnFirstRequest: viewerCheck.bindOnFirstRequest,
    onRequestStart(req) {
      inFlight++;
      const state = req.httpVersionMajor === 1 ? connections.get(req.socket) : undefined;
      if (state) state.active++;
    },
    onRequestEnd(req) {
      inFlight--;
      const state = req.httpVersionMajor === 1 ? connections.get(req.socket) : undefined;
      if (state && --state.active === 0 && isDraining) req.socket.end();
    },
  });

  const server = http2.createSecureServer(
    {
      allowHTTP1: true,
      minVersion: "TLSv1.2",
      // Ciphers and groups here, not in the distributions' contexts: OpenSSL keeps the listener's when SNI swaps the context.
      ...tlsPolicyOptions(deps.tls),
      secureOptions: VIEWER_SECURE_OPTIONS,
      // Node's default is 120 s: half-open handshakes (no certificate, no Finished) could pile up for minutes.
      handshakeTimeout: 10_000,
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
    (req, res) => handler(req as ViewerRequest, res),
  );
  // Idle connections (no bytes either way) close after this; HTTP/1.1 also keeps Node's
  // headersTimeout (60 s) and requestTimeout (300 s) against slow senders.
  server.setTimeout(idleTimeoutMs);

  // The connection is judged (TLS version, viewer certificate) before HTTP sees it: http2's own
  // listener, which starts HTTP/2 or HTTP/1.1 on the socket, is called only for an accepted one, so
  // a refused connection never has a single request parsed.
  const startHttp = server.listeners("secureConnection");
  const [handOverToHttp] = startHttp;
  if (startHttp.length !== 1 || !handOverToHttp) throw new Error(`bug: expected http2's one secureConnection listener, found ${startHttp.length}`);
  server.removeAllListeners("secureConnection");
  server.on("secureConnection", (socket: TLSSocket) => {
    const snapshot = deps.currentSnapshot();
    if (!enforceMinVersion(socket, snapshot, deps.log) || !viewerCheck.check(socket, snapshot)) return;
    // Tracked after the handshake: requests see the TLS socket, not the raw TCP one.
    connections.set(socket, { active: 0 });
    socket.once("close", () => connections.delete(socket));
    handOverToHttp.call(server, socket);
  });
  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (isDraining) return session.close();
    // RFC 8336: tells HTTP/2 clients this connection serves only its own distribution's names,
    // so that they do not coalesce another distribution's requests onto it (those get 421 anyway).
    const origins = originFrameOrigins(session.socket as TLSSocket, deps.currentSnapshot());
    if (origins.length > 0) session.origin(...origins);
  });
  server.on("tlsClientError", (error: Error & { code?: string }, socket: TLSSocket) => {
    deps.log.info({ ...handshakeRefusalFields(error, socket, deps.currentSnapshot()), remote: socket.remoteAddress, detail: error.message }, "viewer handshake refused");
  });

  async function drain(): Promise<void> {
    isDraining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    for (const [socket, state] of connections) {
      // An HTTP/1.1 connection between requests can go now; a busy one goes after its response.
      if (state.active === 0 && !isHttp2Socket(socket, sessions)) socket.end();
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
function enforceMinVersion(socket: TLSSocket, snapshot: EdgeSnapshot, log: Logger): boolean {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
  if (distribution && isBelowMinVersion(socket, distribution)) {
    logVersionRefusal(log, socket, distribution);
    socket.destroy();
    return false;
  }
  return true;
}
