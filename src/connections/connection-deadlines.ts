// Per-connection deadlines after the handshake: first byte, request head, keep-alive idle, a stalled exchange; whoever serves HTTP on the socket says when a request starts and ends.
import type { Socket } from "node:net";
import type { ConnectionLimits } from "./connection-limits.ts";

export type DeadlineReason = "first-byte-timeout" | "request-head-timeout" | "idle-timeout" | "stalled-timeout";

export interface ConnectionDeadlines {
  /** A request's head is complete (HTTP/1.1 'request', HTTP/2 'stream'): only the stalled deadline (if any) runs while one is open. */
  requestStarted(): void;
  /** Its response is done; when none is left open, the idle deadline starts. */
  requestEnded(): void;
  /** The connection left HTTP (a WebSocket after its upgrade): no deadline runs any more; what carries it bounds it. */
  upgraded(): void;
  /**
   * A tunnel opened on one of the connection's requests (a WebSocket over HTTP/2): while one is open the connection is
   * never taken for stalled, however quiet (the tunnel's own idle limit bounds it). Call the function returned when it closes.
   */
  holdForTunnel(): () => void;
}

export interface DeadlineOptions {
  /**
   * While a request is open: a connection that neither read nor wrote a byte for this long is closed
   * (`stalled-timeout`), within twice this; unset, an open request has no deadline here. The socket's
   * byte counts see HTTP/2's frames too, so a PING keeps a connection from stalling: a stream the viewer
   * never reads is the HTTP/2 guard's to reset.
   */
  readonly stalledMs?: number;
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
 * The stalled deadline is the same timer, looking at the socket's byte counts every `stalledMs` while
 * a request is open, not a socket timeout: Node's socket timeout is refreshed by every read and every
 * write (three timer-list moves per keep-alive hit), this costs nothing per byte.
 *
 * @example
 * const deadlines = watchDeadlines(tlsSocket, limits, (reason) => tlsSocket.destroy(), { stalledMs: 120_000 });
 * server.on("request", () => deadlines.requestStarted());
 */
export function watchDeadlines(socket: Socket, limits: ConnectionLimits, onExpired: (reason: DeadlineReason) => void, options: DeadlineOptions = {}): ConnectionDeadlines {
  const { stalledMs } = options;
  let open = 0;
  // The running deadline (ms on Date.now's clock), what it waits for, and the bytes read when it began.
  let deadlineAt = 0;
  let isHeadBegun = false;
  let silentReason: DeadlineReason = "first-byte-timeout";
  let bytesBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  let firesAt = Infinity;
  let isUpgraded = false;
  let tunnels = 0;
  // While a request is open: the bytes moved both ways at the last look, and when that look was (-1: none yet).
  let movedAtLook = -1;
  let lookedAt = 0;

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
    if (socket.destroyed || isUpgraded) return;
    const now = Date.now();
    // A request is open: only the stalled deadline runs; the request's end sets the next one (and arms this again).
    if (open > 0) return stalledMs === undefined ? undefined : lookForProgress(now, stalledMs);
    if (now < deadlineAt) return arm(deadlineAt, now);
    if (isHeadBegun) return onExpired("request-head-timeout");
    if (socket.bytesRead === bytesBefore) return onExpired(silentReason);
    isHeadBegun = true;
    deadlineAt = now + limits.requestHeadMs;
    arm(deadlineAt, now);
  }

  // Silent both ways since the last look, a full stalledMs ago: stalled. Bytes moved (or a tunnel open): this is the new look.
  function lookForProgress(now: number, stalledMs: number): void {
    const moved = socket.bytesRead + socket.bytesWritten;
    if (moved !== movedAtLook || tunnels > 0) {
      movedAtLook = moved;
      lookedAt = now;
    } else if (now - lookedAt >= stalledMs) {
      return onExpired("stalled-timeout");
    }
    arm(lookedAt + stalledMs, now);
  }

  awaitRequest(limits.firstByteMs, "first-byte-timeout", Date.now());
  socket.once("close", () => clearTimeout(timer));
  return {
    requestStarted() {
      // The first look within stalledMs of the start, whatever deadline the timer was set for (usually sooner: a no-op).
      if (open++ === 0 && stalledMs !== undefined) {
        const now = Date.now();
        arm(now + stalledMs, now);
      }
    },
    requestEnded() {
      open = Math.max(0, open - 1);
      if (open === 0 && !socket.destroyed && !isUpgraded) awaitRequest(limits.idleMs, "idle-timeout", Date.now());
    },
    holdForTunnel() {
      tunnels++;
      let isHeld = true;
      return () => {
        if (!isHeld) return;
        isHeld = false;
        tunnels--;
      };
    },
    upgraded() {
      isUpgraded = true;
      clearTimeout(timer);
      timer = undefined;
      firesAt = Infinity;
    },
  };
}
