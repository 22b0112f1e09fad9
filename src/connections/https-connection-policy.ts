// The connection policy on a node:https server (the guard, the enrolment endpoint) or a plain node:http one (the edge's redirect port): caps, deadlines, named handshake failures, one rate-limited log.
import type { Server as PlainServer } from "node:http";
import type { Server } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../observe/index.ts";
import { createConnectionLog } from "./connection-log.ts";
import { limitConnections, type ConnectionGate, type ConnectionLimits } from "./connection-limits.ts";
import { watchDeadlines, type ConnectionDeadlines, type DeadlineReason } from "./connection-deadlines.ts";
import { handshakeFailure } from "./handshake-failure.ts";

// RFC 9110 §15.5.9: 408 when the request did not arrive in time, with "close" (RFC 9112 §9.6). nginx
// closes silently on client_header_timeout; Node's own headersTimeout and Apache's mod_reqtimeout
// answer 408, which tells a slow but honest client why. A peer that sent nothing gets no answer.
const REQUEST_TIMEOUT_RESPONSE = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\nMoat-Error: request-head-timeout\r\n\r\n";
// How long a 408 may take to leave before the socket is cut anyway: a peer that does not read must not hold it.
const LINGER_MS = 1_000;

/** Closes an HTTP/1.1 connection whose deadline ran out: a 408 if it had begun a request, else nothing. */
export function closeHttp1(socket: Socket, reason: DeadlineReason): void {
  if (reason !== "request-head-timeout" || !socket.writable) return void socket.destroy();
  socket.end(REQUEST_TIMEOUT_RESPONSE);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

export interface HttpsConnectionPolicy {
  readonly gate: ConnectionGate;
  /** Stops the log's window (writing what it suppressed). */
  stop(): void;
}

/**
 * Applies `limits` to an HTTPS (HTTP/1.1) server. A failed handshake that says nothing about
 * certificates (handshake-timeout, closed-before-handshake, not-tls) is logged here, rate-limited;
 * `onOtherHandshakeError` gets the rest, with the client address.
 *
 * @example
 * const policy = applyHttpsConnectionPolicy(server, limits, { log, listener: "guard", onOtherHandshakeError: (error, socket, remote) => log.warn({ remote }, "refused a handshake") });
 */
export function applyHttpsConnectionPolicy(
  server: Server,
  limits: ConnectionLimits,
  options: { log: Logger; listener: string; onOtherHandshakeError(error: Error & { code?: string }, socket: TLSSocket, remote: string): void },
): HttpsConnectionPolicy {
  const connectionLog = createConnectionLog(options.log, { listener: options.listener });
  const gate = limitConnections(server, limits, connectionLog);
  const deadlines = new WeakMap<Socket, ConnectionDeadlines>();
  // Node's keep-alive timer, at the same length, also tells clients (Keep-Alive: timeout=N) when an idle connection goes.
  server.keepAliveTimeout = limits.idleMs;
  server.on("secureConnection", (socket: TLSSocket) => {
    deadlines.set(socket, watchDeadlines(socket, limits, (reason) => {
      connectionLog.closed(reason, gate.addressOf(socket));
      closeHttp1(socket, reason);
    }));
  });
  server.on("request", (req, res) => {
    const watch = deadlines.get(req.socket);
    watch?.requestStarted();
    res.once("close", () => watch?.requestEnded());
  });
  // An upgraded connection (a WebSocket) leaves HTTP without a 'request' event: from its head on it is
  // one exchange until it closes, bounded by whatever carries it.
  server.on("upgrade", (_req, socket: Socket) => deadlines.get(socket)?.upgraded());
  server.on("tlsClientError", (error: Error & { code?: string }, socket: TLSSocket) => {
    if (gate.wasRefused(socket)) return;
    const failure = handshakeFailure(error, socket);
    if (failure) connectionLog.closed(failure, gate.addressOf(socket));
    else options.onOtherHandshakeError(error, socket, gate.addressOf(socket));
  });
  return { gate, stop: () => connectionLog.stop() };
}

/**
 * The same caps and deadlines on a plain-HTTP server (the edge's redirect and CRL port): a peer that
 * sends nothing, half a head, or idles between requests is closed, and one address cannot hold more
 * than its share of descriptors. There is no handshake, so the first-byte deadline runs from the accept.
 *
 * @example
 * const policy = applyPlainHttpConnectionPolicy(server, limits, { log, listener: "redirect" });
 */
export function applyPlainHttpConnectionPolicy(server: PlainServer, limits: ConnectionLimits, options: { log: Logger; listener: string }): HttpsConnectionPolicy {
  const connectionLog = createConnectionLog(options.log, { listener: options.listener });
  const gate = limitConnections(server, limits, connectionLog);
  const deadlines = new WeakMap<Socket, ConnectionDeadlines>();
  server.keepAliveTimeout = limits.idleMs;
  server.on("connection", (socket: Socket) => {
    // Closed by the per-address cap, which runs first.
    if (socket.destroyed) return;
    deadlines.set(socket, watchDeadlines(socket, limits, (reason) => {
      connectionLog.closed(reason, socket.remoteAddress ?? "");
      closeHttp1(socket, reason);
    }));
  });
  server.on("request", (req, res) => {
    const watch = deadlines.get(req.socket);
    watch?.requestStarted();
    res.once("close", () => watch?.requestEnded());
  });
  return { gate, stop: () => connectionLog.stop() };
}
