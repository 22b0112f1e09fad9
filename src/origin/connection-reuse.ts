// Tells a reused keep-alive connection that the origin closed before answering from every other origin failure: the one failure a request may be retried after.
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import { requestWrittenOn } from "./origin-connection.ts";

/** What the connection had seen when it failed. */
interface ConnectionAtFailure {
  /** The connection had read a byte before the failed request was written: an earlier response, so it was reused. */
  wasReused: boolean;
  /** A byte arrived after the failed request was written: the origin had started to answer it. */
  hadResponseBytes: boolean;
}

// Keyed by the error object undici rejects the request with: undici reports the socket's own
// 'error' (ECONNRESET, EPIPE) and the SocketError it destroys the socket with on a FIN ("other
// side closed") through that event, so the listener below sees the very object the request fails with.
const failures = new WeakMap<object, ConnectionAtFailure>();

/**
 * Watches a new origin connection, before undici gets it, so that its failure can be judged later; `onReused` is told
 * of each request written on it after the first.
 * `bytesRead` counts decrypted bytes, so TLS handshake and session tickets do not make a connection look used.
 * @example
 * connect(options, (error, socket) => { if (socket) watchConnectionReuse(socket); callback(error, socket); });
 */
export function watchConnectionReuse(socket: Socket, onReused?: () => void): void {
  let readAtLastWrite = 0;
  const write = socket.write;
  // Requests are written one at a time (pipelining 1): bytes read before a write are earlier responses.
  // Three parameters, not a rest array: this runs for every request written.
  socket.write = function (this: Socket, chunk: unknown, encoding?: unknown, callback?: unknown) {
    // A response arrived since the last write: this one starts the next request on the same connection (metrics only).
    if (onReused !== undefined && socket.bytesRead > readAtLastWrite) onReused();
    readAtLastWrite = socket.bytesRead;
    requestWrittenOn(socket as TLSSocket);
    return (write as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean).call(this, chunk, encoding, callback);
  } as Socket["write"];
  socket.on("error", (error: unknown) => {
    if (typeof error !== "object" || error === null) return;
    failures.set(error, { wasReused: readAtLastWrite > 0, hadResponseBytes: socket.bytesRead > readAtLastWrite });
  });
}

/** True when `error` is a reused connection that closed before a single byte of the response arrived. */
export function isClosedBeforeAnswer(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const facts = failures.get(error);
  return facts !== undefined && facts.wasReused && !facts.hadResponseBytes;
}

// RFC 9110 §9.2.2: "A user agent SHOULD NOT automatically retry a request with a non-idempotent method".
const idempotentMethods = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/**
 * True when a request can be sent again as it was: an idempotent method, and a body that can be
 * replayed (none, bytes in memory, or a stream not one byte of which was read). Uploads are never
 * buffered to make them replayable: a streamed body that started flowing went to the dead connection.
 */
export function isReplayable(method: string, body: Readable | Uint8Array | string | null): boolean {
  if (!idempotentMethods.has(method)) return false;
  if (body === null || typeof body === "string" || body instanceof Uint8Array) return true;
  return !body.readableDidRead && !body.destroyed;
}
