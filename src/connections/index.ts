// Connections that never speak: deadlines, caps per listener and per client address, rate-limited log lines; shared by the edge, the guard and the enrolment endpoint (node:* only, besides the logger type).

/**
 * Caps a listener's connections (whole listener and per client address) before any TLS work.
 *
 * @example
 * const gate = limitConnections(server, limits, createConnectionLog(log, { listener: "viewers" }));
 */
export { limitConnections } from "./connection-limits.ts";
export type { ConnectionGate, ConnectionLimits } from "./connection-limits.ts";

/**
 * One log line per address and reason per window, then a count of those suppressed.
 *
 * @example
 * createConnectionLog(log, { listener: "guard" }).closed("idle-timeout", "10.0.0.9");
 */
export { createConnectionLog } from "./connection-log.ts";
export type { ConnectionLog, ConnectionLogOptions } from "./connection-log.ts";

/**
 * First-byte, request-head, idle and (optionally) stalled-exchange deadlines of one connection.
 *
 * @example
 * const deadlines = watchDeadlines(socket, limits, (reason) => socket.destroy(), { stalledMs: 120_000 });
 */
export { watchDeadlines } from "./connection-deadlines.ts";
export type { ConnectionDeadlines, DeadlineOptions, DeadlineReason } from "./connection-deadlines.ts";

/**
 * The reason code of a handshake that failed before TLS began: handshake-timeout, closed-before-handshake, not-tls.
 *
 * @example
 * handshakeFailure(error, socket) ?? "sni-missing";
 */
export { handshakeFailure } from "./handshake-failure.ts";
export type { HandshakeFailure } from "./handshake-failure.ts";

/**
 * All of it on a node:https server, HTTP/1.1 answering 408 when a begun request head times out.
 *
 * @example
 * const policy = applyHttpsConnectionPolicy(server, limits, { log, listener: "enrol", onOtherHandshakeError });
 */
export { applyHttpsConnectionPolicy, applyPlainHttpConnectionPolicy, closeHttp1 } from "./https-connection-policy.ts";
export type { HttpsConnectionPolicy } from "./https-connection-policy.ts";
