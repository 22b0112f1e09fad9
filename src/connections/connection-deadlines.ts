// Per-connection deadlines after the handshake: first byte, request head, keep-alive idle; whoever serves HTTP on the socket says when a request starts and ends.
import type { Socket } from "node:net";
import type { ConnectionLimits } from "./connection-limits.ts";

export type DeadlineReason = "first-byte-timeout" | "request-head-timeout" | "idle-timeout";

export interface ConnectionDeadlines {
  /** A request's head is complete (HTTP/1.1 'request', HTTP/2 'stream'): no deadline runs while one is open. */
  requestStarted(): void;
  /** Its response is done; when none is left open, the idle deadline starts. */
  requestEnded(): void;
}

/**
 * Watches a connection from the end of its handshake. Whether the peer sent anything is read from
 * the socket's byte count when a deadline runs out (one timer per connection, no extra 'data'
 * listener: HTTP/2 reads the socket below the stream API): nothing → `first-byte-timeout` or
 * `idle-timeout`; something, but no complete request head → `requestHeadMs` more, then
 * `request-head-timeout`. `onExpired` closes the connection as its protocol prefers.
 *
 * @example
 * const deadlines = watchDeadlines(tlsSocket, limits, (reason) => tlsSocket.destroy());
 * server.on("request", () => deadlines.requestStarted());
 */
export function watchDeadlines(socket: Socket, limits: ConnectionLimits, onExpired: (reason: DeadlineReason) => void): ConnectionDeadlines {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, then: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(then, ms);
    // A deadline never keeps a stopping process alive; the socket does that while it is open.
    timer.unref();
  };
  const awaitRequest = (ms: number, silentReason: DeadlineReason) => {
    const bytesBefore = socket.bytesRead;
    arm(ms, () => {
      if (socket.bytesRead === bytesBefore) return onExpired(silentReason);
      arm(limits.requestHeadMs, () => onExpired("request-head-timeout"));
    });
  };
  awaitRequest(limits.firstByteMs, "first-byte-timeout");
  socket.once("close", () => clearTimeout(timer));
  return {
    requestStarted() {
      open++;
      clearTimeout(timer);
    },
    requestEnded() {
      open = Math.max(0, open - 1);
      if (open === 0 && !socket.destroyed) awaitRequest(limits.idleMs, "idle-timeout");
    },
  };
}
