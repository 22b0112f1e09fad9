// Carries an upgraded WebSocket's bytes both ways between viewer and origin, with backpressure, until one side closes or a limit is reached.
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { WebSocketConfig } from "../../config/index.ts";
import type { ViewerTunnelEnd } from "./upgrade-request.ts";

/** Why a tunnel ended: a side closed it, a limit was reached, the edge drained, or a side failed. */
export type TunnelCloseReason = "viewer" | "origin" | "idle-timeout" | "max-lifetime" | "drain" | "error";

export interface TunnelOutcome {
  closedBy: TunnelCloseReason;
  /** Bytes the viewer sent (WebSocket frames, as they are). */
  viewerBytes: number;
  originBytes: number;
}

export interface RunningTunnel {
  /** Resolves once both sides are closed. */
  done: Promise<TunnelOutcome>;
  /** Closes both sides cleanly; the first reason given is the one reported. */
  close(reason: TunnelCloseReason): void;
}

// After a clean close, a side that does not close its half within this long is cut: every wait has a deadline.
const CLOSE_GRACE_MS = 5_000;

/**
 * Starts carrying bytes. The edge reads no frame: it cannot send a WebSocket Close frame of its own
 * without parsing the stream, so a limit ends the connection (TLS close_notify, FIN or END_STREAM),
 * as nginx does when proxy_read_timeout runs out on a WebSocket.
 * @example
 * const tunnel = startTunnel(viewerEnd, originSocket, behavior.websocket);
 * const { closedBy } = await tunnel.done;
 */
export function startTunnel(viewer: ViewerTunnelEnd, origin: Duplex, limits: WebSocketConfig): RunningTunnel {
  let closedBy: TunnelCloseReason | undefined;
  let firstEnd: "viewer" | "origin" | undefined;
  let viewerBytes = 0;
  let originBytes = 0;
  let graceTimer: NodeJS.Timeout | undefined;
  const idleTimer = setTimeout(() => close("idle-timeout"), limits.idleTimeoutMs);
  const lifetimeTimer = setTimeout(() => close("max-lifetime"), limits.maxLifetimeMs);

  function close(reason: TunnelCloseReason): void {
    if (closedBy !== undefined) return;
    closedBy = reason;
    clearTimeout(idleTimer);
    clearTimeout(lifetimeTimer);
    viewer.end();
    origin.end();
    graceTimer = setTimeout(() => {
      viewer.destroy();
      origin.destroy();
    }, CLOSE_GRACE_MS);
  }

  // Both directions watch each socket, on top of the listener's and the pool's own listeners.
  for (const side of new Set([viewer.readable, viewer.writable, origin])) side.setMaxListeners(side.getMaxListeners() + 8);
  // Whichever side ends its stream first closed the tunnel; an error before any end is a failure.
  viewer.readable.once("end", () => (firstEnd ??= "viewer"));
  origin.once("end", () => (firstEnd ??= "origin"));
  viewer.readable.on("data", (chunk: Buffer) => {
    viewerBytes += chunk.length;
    idleTimer.refresh();
  });
  origin.on("data", (chunk: Buffer) => {
    originBytes += chunk.length;
    idleTimer.refresh();
  });
  // Each direction ends the other's writing side when it ends (a half-close), as a TCP proxy does.
  const up = pipeline(viewer.readable, origin);
  const down = pipeline(origin, viewer.writable);
  const done = Promise.race([up, down]).then(settled, settled).then(async () => {
    // One direction finished; the other gets the grace period to finish too.
    closedBy ??= firstEnd ?? "error";
    if (graceTimer === undefined) {
      graceTimer = setTimeout(() => {
        viewer.destroy();
        origin.destroy();
      }, CLOSE_GRACE_MS);
    }
    await Promise.allSettled([up, down]);
    clearTimeout(idleTimer);
    clearTimeout(lifetimeTimer);
    clearTimeout(graceTimer);
    return { closedBy, viewerBytes, originBytes };
  });
  return { done, close };
}

function settled(): void {}
