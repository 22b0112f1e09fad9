// The viewer-facing TLS listener: one port, HTTP/2 and HTTP/1.1 by ALPN, the certificate chosen by SNI, graceful drain.
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { Http2Session, Http2SecureServer } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { EdgeCache } from "../cache/index.ts";
import type { Logger } from "../observe/index.ts";
import type { EdgeSnapshot } from "./edge-snapshot.ts";
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
export function createViewerListener(deps: { currentSnapshot(): EdgeSnapshot; log: Logger; cache?: EdgeCache }): ViewerListener {
  const connections = new Map<Socket, ConnectionState>();
  const sessions = new Set<Http2Session>();
  let isDraining = false;
  let inFlight = 0;

  const handler = createRequestHandler({
    currentSnapshot: deps.currentSnapshot,
    log: deps.log,
    cache: deps.cache,
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
      // Every viewer-facing context is chosen by SNI; a client that sends no SNI gets no certificate.
      SNICallback: (servername, callback) => {
        const distribution = deps.currentSnapshot().distributionForHost(servername.toLowerCase());
        if (distribution) callback(null, distribution.secureContext);
        else callback(new Error(`sni-unknown: no distribution serves ${servername}`), undefined);
      },
    },
    (req, res) => handler(req as ViewerRequest, res),
  );
  // Idle connections (no bytes either way) close after this; HTTP/1.1 also keeps Node's
  // headersTimeout (60 s) and requestTimeout (300 s) against slow senders.
  server.setTimeout(idleTimeoutMs);

  // Tracked after the handshake: requests see the TLS socket, not the raw TCP one.
  server.on("secureConnection", (socket: TLSSocket) => {
    connections.set(socket, { active: 0 });
    socket.once("close", () => connections.delete(socket));
    enforceMinVersion(socket, deps.currentSnapshot(), deps.log);
  });
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (isDraining) session.close();
  });
  server.on("tlsClientError", (error: Error & { code?: string }, socket: TLSSocket) => {
    deps.log.info({ reason: handshakeRefusalReason(error, socket), remote: socket.remoteAddress, detail: error.message }, "viewer handshake refused");
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
      if (serials.has(serial)) {
        socket.destroy();
        dropped++;
      }
    }
    return dropped;
  }

  return { server, drain, inFlight: () => inFlight, dropConnectionsServedWith };
}

function isHttp2Socket(socket: Socket, sessions: Set<Http2Session>): boolean {
  for (const session of sessions) if (session.socket === socket) return true;
  return false;
}

// SNI selects the certificate only after OpenSSL has picked the protocol version, so a
// distribution's stricter minimum is enforced here, right after the handshake, before any request.
function enforceMinVersion(socket: TLSSocket, snapshot: EdgeSnapshot, log: Logger): void {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const distribution = servername ? snapshot.distributionForHost(servername.toLowerCase()) : undefined;
  if (distribution?.minVersion === "TLSv1.3" && socket.getProtocol() !== "TLSv1.3") {
    log.info({ reason: "tls-version-too-old", distribution: distribution.id, protocol: socket.getProtocol(), remote: socket.remoteAddress }, "viewer connection refused");
    socket.destroy();
  }
}

function handshakeRefusalReason(error: Error & { code?: string }, socket: TLSSocket): string {
  if (error.message.startsWith("sni-unknown")) return "sni-unknown";
  if (/VERSION|UNSUPPORTED_PROTOCOL/i.test(error.code ?? "")) return "tls-version-too-old";
  if (!(socket as TLSSocket & { servername?: string | false }).servername) return "sni-missing";
  return error.code ?? "handshake-failed";
}
