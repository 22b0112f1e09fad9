// A WebSocket handshake that passed the request checks: refused unless its behavior allows it, else upgraded at the origin (HTTP/1.1, mTLS) and tunnelled.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { pipeline } from "node:stream/promises";
import { OriginFailureError } from "../../errors.ts";
import { upgradeTarget } from "../../origin/index.ts";
import type { OriginUpgradeAnswer, TargetUpgrade } from "../../origin/index.ts";
import type { Logger, RequestTrace } from "../../observe/index.ts";
import type { DistributionRuntime, RoutedBehavior } from "../snapshot/edge-snapshot.ts";
import { sendEdgeError, writeViewerHead } from "../pipeline/error-response.ts";
import type { ViewerResponse } from "../pipeline/error-response.ts";
import { originRequestHeaders, viewerResponseHeaders } from "../pipeline/forwarded-headers.ts";
import type { ViewerHandshake, ViewerUpgrades } from "./upgrade-request.ts";
import { viewerForwardHeaders } from "../pipeline/viewer-request.ts";
import type { ViewerRequestFacts } from "../pipeline/viewer-request.ts";
import { startTunnel } from "./websocket-tunnel.ts";

export interface WebSocketRequest {
  req: IncomingMessage | Http2ServerRequest;
  res: ViewerResponse;
  handshake: ViewerHandshake;
  distribution: DistributionRuntime;
  behavior: RoutedBehavior;
  /** The Host (or :authority) the viewer sent. */
  authority: string;
  requestId: string;
  clientAddress: string;
  /** "1.1" or "2". */
  httpVersion: string;
  viewer: ViewerRequestFacts;
  /** The request's trace context: its traceparent goes to the origin, its id into the access line. */
  trace?: RequestTrace;
}

// RFC 6455 §1.3: the GUID a server appends to Sec-WebSocket-Key before hashing it into Sec-WebSocket-Accept.
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Answers the handshake and, once upgraded, carries the tunnel until it closes; resolves with the access log's fields.
 * @example
 * const fields = await forwardWebSocket({ req, res, handshake, distribution, behavior, ... }, log, upgrades);
 */
export async function forwardWebSocket(ws: WebSocketRequest, log: Logger, upgrades: ViewerUpgrades): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = { distribution: ws.distribution.id, behavior: ws.behavior.path, websocket: true };
  const limits = ws.behavior.websocket;
  if (limits === null) {
    sendEdgeError(ws.res, { status: 403, code: "websocket-not-enabled", summary: "this path does not take WebSocket connections: its cache behavior's websocket setting is off", requestId: ws.requestId, cacheStatusName: ws.distribution.cacheStatusName });
    return { ...fields, error: "websocket-not-enabled" };
  }
  // RFC 8441 §5: an HTTP/2 viewer sends no Sec-WebSocket-Key; the HTTP/1.1 handshake with the origin needs one.
  const key = ws.handshake.kind === "h2" ? randomBytes(16).toString("base64") : undefined;
  const headers = {
    ...originRequestHeaders(ws.req.headers, { clientAddress: ws.clientAddress, viewerHost: ws.authority, httpVersion: ws.httpVersion, trace: ws.trace }),
    ...viewerForwardHeaders(ws.distribution, ws.viewer, ws.req.headers),
    ...(key ? { "sec-websocket-key": key } : {}),
  };
  const abort = new AbortController();
  const onClose = () => abort.abort();
  ws.res.once("close", onClose);
  let upgrade: TargetUpgrade;
  try {
    upgrade = await upgradeTarget(ws.behavior.target, { path: ws.req.url ?? "/", headers, signal: abort.signal });
  } catch (error) {
    return { ...fields, ...refuseAfterOriginFailure(error, ws, log) };
  } finally {
    ws.res.off("close", onClose);
  }
  fields.origin = upgrade.client.originId;
  if (upgrade.failedOverBecause) fields.failover = upgrade.failedOverBecause;
  const { answer } = upgrade;
  if (answer.kind === "response") return { ...fields, ...(await relayRefusal(answer.response, ws)) };
  if (key && answer.headers["sec-websocket-accept"] !== acceptFor(key)) {
    answer.socket.destroy();
    log.warn({ requestId: ws.requestId, origin: upgrade.client.originId, error: { code: "origin-bad-response", message: "the origin's 101 carries a Sec-WebSocket-Accept that does not answer the edge's key (RFC 6455 §4.1)" } }, "origin request failed");
    sendEdgeError(ws.res, { status: 502, code: "origin-bad-response", summary: "the origin's response was not valid HTTP", requestId: ws.requestId, cacheStatusName: ws.distribution.cacheStatusName });
    return { ...fields, error: "origin-bad-response" };
  }
  return { ...fields, ...(await tunnel(ws, answer, limits, log, upgrades)) };
}

async function tunnel(ws: WebSocketRequest, answer: Extract<OriginUpgradeAnswer, { kind: "upgraded" }>, limits: NonNullable<RoutedBehavior["websocket"]>, log: Logger, upgrades: ViewerUpgrades): Promise<Record<string, unknown>> {
  const headers = viewerResponseHeaders(answer.headers, ws.httpVersion);
  if (ws.handshake.kind === "h1") {
    // Connection and Upgrade are hop-by-hop: the edge states them for its own hop, the upgrade itself.
    writeViewerHead(ws.res, 101, { ...headers, connection: "Upgrade", upgrade: "websocket" });
  } else {
    // RFC 8441 §5: a 200 to the extended CONNECT opens the tunnel; Sec-WebSocket-Accept belongs to HTTP/1.1.
    delete headers["sec-websocket-accept"];
    writeViewerHead(ws.res, 200, headers);
  }
  (ws.res as { flushHeaders(): void }).flushHeaders();
  const viewerEnd = upgrades.tunnelEnd(ws.req, ws.res, ws.handshake);
  const running = startTunnel(viewerEnd, answer.socket, limits);
  const untrack = upgrades.track({ close: (reason) => running.close(reason) });
  const outcome = await running.done.finally(untrack);
  if (outcome.closedBy === "idle-timeout" || outcome.closedBy === "max-lifetime" || outcome.closedBy === "drain") {
    const limitMs = outcome.closedBy === "idle-timeout" ? limits.idleTimeoutMs : outcome.closedBy === "max-lifetime" ? limits.maxLifetimeMs : undefined;
    log.info({ requestId: ws.requestId, distribution: ws.distribution.id, behavior: ws.behavior.path, limit: outcome.closedBy, limitMs }, `websocket closed by the edge: ${outcome.closedBy}`);
  }
  return { closedBy: outcome.closedBy, viewerBytes: outcome.viewerBytes, originBytes: outcome.originBytes };
}

/** The origin answered the handshake with something other than 101: the viewer gets that answer, as for any request. */
async function relayRefusal(response: Extract<OriginUpgradeAnswer, { kind: "response" }>["response"], ws: WebSocketRequest): Promise<Record<string, unknown>> {
  writeViewerHead(ws.res, response.statusCode, viewerResponseHeaders(response.headers, ws.httpVersion));
  try {
    await pipeline(response.body, ws.res);
    return {};
  } catch {
    ws.res.destroy();
    return { error: "response-interrupted" };
  }
}

function refuseAfterOriginFailure(error: unknown, ws: WebSocketRequest, log: Logger): Record<string, unknown> {
  if (error instanceof OriginFailureError) {
    // The full message (origin URL, CA path, certificate, fix) is for the operator, in the log.
    log.warn({ requestId: ws.requestId, distribution: error.distributionId, origin: error.originId, error: { code: error.code, message: error.message } }, "origin request failed");
    sendEdgeError(ws.res, { status: error.status, code: error.code, summary: error.summary, requestId: ws.requestId, cacheStatusName: ws.distribution.cacheStatusName });
    return { origin: error.originId, error: error.code };
  }
  const code = (error as { code?: string; name?: string })?.name === "AbortError" ? "viewer-gone" : "edge-internal";
  if (code === "edge-internal") log.warn({ requestId: ws.requestId, error: { message: (error as Error)?.message } }, "websocket handshake failed");
  sendEdgeError(ws.res, { status: 502, code, summary: "the edge could not complete the response", requestId: ws.requestId, cacheStatusName: ws.distribution.cacheStatusName });
  return { error: code };
}

function acceptFor(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}
