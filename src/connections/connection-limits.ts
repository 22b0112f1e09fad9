// The connection policy of a TLS listener (edge, guard, enrolment): its deadlines and caps, and the caps' enforcement before any TLS work.
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ConnectionLog } from "./connection-log.ts";

/** Deadlines for a connection that does not speak, and caps on open connections (nginx's client_header_timeout, keepalive_timeout and limit_conn). */
export interface ConnectionLimits {
  /** The TLS handshake, from the accept: a peer that sends no ClientHello, or stops half-way, is closed (Node's handshakeTimeout). */
  readonly handshakeMs: number;
  /** After the TLS handshake, a new connection that has sent no byte within this is closed. */
  readonly firstByteMs: number;
  /** A connection that began a request (at the first-byte or idle deadline) has this long more to complete its head. */
  readonly requestHeadMs: number;
  /** A keep-alive connection (HTTP/1.1 between requests, HTTP/2 with no open stream) that sends nothing within this is closed. */
  readonly idleMs: number;
  /** Open connections on the listener; one more is closed at once. */
  readonly maxConnections: number;
  /** Open connections from one client address; one more is closed at once. */
  readonly maxConnectionsPerAddress: number;
}

export interface ConnectionGate {
  /** The client address of a TLS socket, also after it closed (a handshake that failed has lost it). */
  addressOf(socket: TLSSocket): string;
  /** True for a connection the gate closed: its TLS socket then fails with a reset, which says nothing new. */
  wasRefused(socket: TLSSocket): boolean;
  /** Open connections from this address now. */
  openFrom(address: string): number;
}

/**
 * Caps the listener's connections: Node's own maxConnections for the whole listener (it closes the
 * socket as it is accepted, before the 'connection' event), and a count per client address, checked
 * before the TLS layer sees the socket. A refused connection costs an accept and a close, no TLS work.
 *
 * @example
 * const gate = limitConnections(server, limits, connectionLog);
 */
export function limitConnections(server: Server, limits: ConnectionLimits, log: ConnectionLog): ConnectionGate {
  server.maxConnections = limits.maxConnections;
  server.on("drop", (dropped?: { remoteAddress?: string }) => log.closed("connection-limit", dropped?.remoteAddress ?? "", { max: limits.maxConnections }));
  const openByAddress = new Map<string, number>();
  const addresses = new WeakMap<Socket, string>();
  const refused = new WeakSet<Socket>();
  // Prepended: runs before the TLS server wraps the socket, so a refused one never starts a handshake.
  server.prependListener("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    addresses.set(socket, address);
    const open = openByAddress.get(address) ?? 0;
    if (open >= limits.maxConnectionsPerAddress) {
      refused.add(socket);
      log.closed("address-connection-limit", address, { max: limits.maxConnectionsPerAddress });
      socket.destroy();
      return;
    }
    openByAddress.set(address, open + 1);
    socket.once("close", () => {
      const left = (openByAddress.get(address) ?? 1) - 1;
      if (left === 0) openByAddress.delete(address);
      else openByAddress.set(address, left);
    });
  });
  // A server-side TLSSocket keeps the accepted socket as `_parent` (Node internals, stable since Node 0.11).
  const parentOf = (socket: TLSSocket) => (socket as TLSSocket & { _parent?: Socket })._parent;
  return {
    addressOf: (socket) => {
      const parent = parentOf(socket);
      return (parent && addresses.get(parent)) ?? socket.remoteAddress ?? "";
    },
    wasRefused: (socket) => {
      const parent = parentOf(socket);
      return parent !== undefined && refused.has(parent);
    },
    openFrom: (address) => openByAddress.get(address) ?? 0,
  };
}
