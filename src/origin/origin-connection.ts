// What the access log says of the origin connection a request went on: new, resumed (TLS session resumption) or reused (keep-alive), and the origin's certificate; read once per connection.
import type { TLSSocket } from "node:tls";

/** How a request's origin connection came to be: a full handshake, a resumed TLS session, or a keep-alive connection that had served before. */
export type OriginConnectionUse = "new" | "resumed" | "reused";

/** One origin connection's facts, read at its handshake. */
interface OriginConnectionFacts {
  readonly handshake: "new" | "resumed";
  /** SHA-256 of the origin's certificate (DER), colon-separated hex as Node writes it; "" when Node gives none. */
  readonly serverFingerprint256: string;
  requests: number;
}

/** Told, by the connection it was written on, how its request went out. */
export interface OriginConnectionListener {
  connectionUse: OriginConnectionUse | null;
  serverFingerprint256: string;
}

const FACTS = Symbol("moat.originConnection");
type WatchedSocket = TLSSocket & { [FACTS]?: OriginConnectionFacts };

/**
 * The origin certificate behind the TLS session a connector would resume: Node gives no peer certificate on a
 * resumed connection, so it is remembered from the connection whose ticket undici keeps (its latest, per server name).
 */
export interface OriginSessionMemory {
  fingerprint256: string;
}

function peerFingerprint(socket: TLSSocket): string {
  try {
    return socket.getPeerX509Certificate()?.fingerprint256 ?? "";
  } catch {
    // A socket already torn down has no peer left: the field is left out.
    return "";
  }
}

/**
 * Watches a connection's session tickets, from before its handshake ends (TLS 1.2 may send one before): the
 * session undici keeps for the next connection is the latest, and so is the certificate remembered here.
 */
export function watchOriginSessions(socket: TLSSocket, memory: OriginSessionMemory): void {
  socket.on("session", () => {
    const fingerprint = (socket as WatchedSocket)[FACTS]?.serverFingerprint256 || peerFingerprint(socket);
    if (fingerprint !== "") memory.fingerprint256 = fingerprint;
  });
}

/**
 * Reads a new connection's facts once, right after its handshake (the connector's callback): whether its TLS
 * session was resumed and the origin certificate's fingerprint, so no request pays for either.
 */
export function noteOriginConnection(socket: TLSSocket, memory: OriginSessionMemory): void {
  const isResumed = socket.isSessionReused();
  const serverFingerprint256 = isResumed ? memory.fingerprint256 : peerFingerprint(socket);
  (socket as WatchedSocket)[FACTS] = { handshake: isResumed ? "resumed" : "new", serverFingerprint256, requests: 0 };
}

// undici calls a request's handler onConnect and then, in the same synchronous call (client-h1.js writeH1),
// writes that request's head on the connection it chose: the listener named here is the next write's request.
let awaitingWrite: OriginConnectionListener | null = null;

/** Called from a request handler's onConnect: the next request head written on an origin connection is its. */
export function expectRequestWrite(listener: OriginConnectionListener): void {
  awaitingWrite = listener;
}

/** Called as a request head is written on `socket` (connection-reuse.ts wraps its write). */
export function requestWrittenOn(socket: TLSSocket): void {
  const listener = awaitingWrite;
  if (listener === null) return;
  awaitingWrite = null;
  const facts = (socket as WatchedSocket)[FACTS];
  if (facts === undefined) return;
  listener.connectionUse = facts.requests++ === 0 ? facts.handshake : "reused";
  listener.serverFingerprint256 = facts.serverFingerprint256;
}
