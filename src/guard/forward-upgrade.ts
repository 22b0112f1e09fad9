// Forwards an accepted edge's WebSocket handshake to the app behind the guard, with the edge's identity in headers, and carries the upgraded connection both ways.
import type { ServerResponse } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { EdgeIdentity } from "./edge-identity.ts";
import { upstreamRequestHeaders, responseHeaders, type ForwardFailure } from "./forward-request.ts";
import type { UpstreamTarget } from "./request-shape.ts";

// Not `import … from "node:http"`: Node's ESM view of a builtin reads every export, and node:http's WebSocket getter loads
// Node's bundled undici (fetch, WebSocket: megabytes of idle RSS) that nothing here uses.
const http = process.getBuiltinModule("node:http");

interface Handshake {
  socket: Duplex;
  head: Buffer;
}

const handshakes = new WeakMap<IncomingMessage, Handshake>();

/** How long the app has to answer the handshake; after the 101 the edge's idle and lifetime limits bound the tunnel. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** The server's shouldUpgradeCallback: only a WebSocket handshake (RFC 6455 §4.1) leaves HTTP; any other Upgrade is ignored (RFC 9110 §7.8). */
export function isWebSocketHandshake(req: IncomingMessage): boolean {
  return req.method === "GET" && (req.headers.upgrade ?? "").split(",").some((token) => token.trim().toLowerCase() === "websocket");
}

/**
 * For the server's 'upgrade' event: a response bound to the raw socket, so the guard's request
 * handler verifies and answers a handshake exactly as any request.
 */
export function acceptUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): ServerResponse {
  handshakes.set(req, { socket, head });
  const res = new http.ServerResponse(req);
  // A refused handshake ends the connection: what followed its head was never parsed as HTTP.
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once("finish", () => socket.end());
  return res;
}

/** True for a request that came through acceptUpgrade. */
export function isUpgrade(req: IncomingMessage): boolean {
  return handshakes.has(req);
}

/**
 * Sends the handshake to the app (plain HTTP, `Upgrade: websocket`); relays its answer; on 101
 * carries bytes both ways until either side closes. Resolves with the app's status or the failure.
 */
export async function forwardUpgrade(upstream: URL, req: IncomingMessage, res: ServerResponse, identity: EdgeIdentity, target: UpstreamTarget): Promise<number | ForwardFailure> {
  const handshake = handshakes.get(req);
  if (!handshake) throw new Error("bug: forwardUpgrade for a request that is not an upgrade");
  // Connection and Upgrade are hop-by-hop, dropped with the rest by upstreamRequestHeaders; they are stated again for this hop's upgrade.
  const headers = { ...upstreamRequestHeaders(req, identity, target.host), connection: "Upgrade", upgrade: "websocket" };
  const answer = await new Promise<{ kind: "upgraded"; res: IncomingMessage; socket: Duplex; head: Buffer } | { kind: "response"; res: IncomingMessage } | { kind: "failed"; failure: ForwardFailure }>((resolve) => {
    const request = http.request({ protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: "GET", path: target.path, headers, agent: false, timeout: HANDSHAKE_TIMEOUT_MS });
    request.once("upgrade", (upgraded: IncomingMessage, socket: Duplex, head: Buffer) => resolve({ kind: "upgraded", res: upgraded, socket, head }));
    request.once("response", (response: IncomingMessage) => resolve({ kind: "response", res: response }));
    request.once("timeout", () => request.destroy(Object.assign(new Error(`the app did not answer the WebSocket handshake within ${HANDSHAKE_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })));
    request.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "";
      resolve({ kind: "failed", failure: { code: /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(code) ? "upstream-unreachable" : "upstream-failed", detail: `${code} ${error.message}`.trim() } });
    });
    // The edge going away before the answer abandons the handshake.
    handshake.socket.once("close", () => request.destroy());
    request.end();
  });
  if (answer.kind === "failed") {
    res.writeHead(502, { "content-type": "text/plain; charset=utf-8", "moat-guard-error": answer.failure.code });
    res.end(`502 Bad Gateway: ${answer.failure.code}\n`);
    return answer.failure;
  }
  if (answer.kind === "response") {
    // The app refused the handshake: the edge gets its answer as it is.
    res.writeHead(answer.res.statusCode ?? 502, responseHeaders(answer.res.headers));
    await pipeline(answer.res, res).catch(() => res.destroy());
    return answer.res.statusCode ?? 502;
  }
  res.writeHead(101, { ...responseHeaders(answer.res.headers), connection: "Upgrade", upgrade: "websocket" });
  res.flushHeaders();
  res.detachSocket(handshake.socket as Socket);
  // Both directions watch the edge's socket, on top of the server's own listeners.
  handshake.socket.setMaxListeners(handshake.socket.getMaxListeners() + 8);
  if (handshake.head.length > 0) answer.socket.write(handshake.head);
  if (answer.head.length > 0) handshake.socket.write(answer.head);
  await Promise.allSettled([pipeline(handshake.socket, answer.socket), pipeline(answer.socket, handshake.socket)]);
  return 101;
}
