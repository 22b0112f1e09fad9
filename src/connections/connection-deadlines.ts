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
 * the socket's byte count when a deadline runs out (no extra 'data' listener: HTTP/2 reads the
 * socket below the stream API): nothing → `first-byte-timeout` or `idle-timeout`; something, but no
 * complete request head → `requestHeadMs` more, then `request-head-timeout`. `onExpired` closes the
 * connection as its protocol prefers.
 *
 * One timer per connection, armed lazily: a request's start and end only move a number (a busy
 * HTTP/2 connection starts and ends thousands of streams a second, and clearing and setting a timer
 * for each was a visible share of its CPU). When the timer fires before the deadline it now guards
 * (the deadline moved on since), it is set again for the rest; it never fires after it.
 *
 * @example
 * const deadlines = watchDeadlines(tlsSocket, limits, (reason) => tlsSocket.destroy());
 * server.on("request", () => deadlines.requestStarted());
 */
export function watchDeadlines(socket: Socket, limits: ConnectionLimits, onExpired: (reason: DeadlineReason) => void): ConnectionDeadlines {
  let open = 0;
  // The running deadline (ms on Date.now's clock), what it waits for, and the bytes read when it began.
  let deadlineAt = 0;
  let isHeadBegun = false;
  let silentReason: DeadlineReason = "first-byte-timeout";
  let bytesBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  let firesAt = Infinity;

  const arm = (at: number, now: number) => {
    if (timer !== undefined && firesAt <= at) return;
    clearTimeout(timer);
    firesAt = at;
    timer = setTimeout(fire, Math.max(0, at - now));
    // A deadline never keeps a stopping process alive; the socket does that while it is open.
    timer.unref();
  };
  const awaitRequest = (ms: number, reason: DeadlineReason, now: number) => {
    deadlineAt = now + ms;
    isHeadBegun = false;
    silentReason = reason;
    bytesBefore = socket.bytesRead;
    arm(deadlineAt, now);
  };
  function fire(): void {
    timer = undefined;
    firesAt = Infinity;
    // A request is open: no deadline runs; its end sets the next one (and arms this again).
    if (open > 0 || socket.destroyed) return;
    const now = Date.now();
    if (now < deadlineAt) return arm(deadlineAt, now);
    if (isHeadBegun) return onExpired("request-head-timeout");
    if (socket.bytesRead === bytesBefore) return onExpired(silentReason);
    isHeadBegun = true;
    deadlineAt = now + limits.requestHeadMs;
    arm(deadlineAt, now);
  }

  awaitRequest(limits.firstByteMs, "first-byte-timeout", Date.now());
  socket.once("close", () => clearTimeout(timer));
  return {
    requestStarted() {
      open++;
    },
    requestEnded() {
      open = Math.max(0, open - 1);
      if (open === 0 && !socket.destroyed) awaitRequest(limits.idleMs, "idle-timeout", Date.now());
    },
  };
}
