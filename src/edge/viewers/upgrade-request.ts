// The viewer's side of a WebSocket: which requests are handshakes (HTTP/1.1 Upgrade, RFC 8441 extended CONNECT), their ends once upgraded, and the open tunnels a drain closes.
import type { ServerResponse } from "node:http";
import type { IncomingMessage } from "node:http";
import http2 from "node:http2";
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { Duplex, Readable, Writable } from "node:stream";
import type { ViewerResponse } from "../pipeline/error-response.ts";

// Not `import … from "node:http"`: Node's ESM view of a builtin reads every export, and node:http's WebSocket getter loads
// Node's bundled undici (fetch, WebSocket: megabytes of idle RSS) that nothing here uses.
const http = process.getBuiltinModule("node:http");

type ViewerRequest = IncomingMessage | Http2ServerRequest;

/** How a handshake reached the edge: the raw HTTP/1.1 socket (and the bytes read past the request head), or an HTTP/2 stream. */
export type ViewerHandshake = { kind: "h1"; socket: Duplex; head: Buffer } | { kind: "h2" };

/** The viewer's end of an open tunnel: where its bytes come from and go to, and how to close it. */
export interface ViewerTunnelEnd {
  readable: Readable;
  writable: Writable;
  /** Ends the viewer's side cleanly (TLS close_notify and FIN; HTTP/2 END_STREAM then RST_STREAM NO_ERROR). */
  end(): void;
  destroy(): void;
}

export interface OpenTunnel {
  /** Closes the tunnel cleanly and logs `reason` (the limit that closed it). */
  close(reason: "drain"): void;
}

export interface ViewerUpgrades {
  /**
   * Hands the listener's handshakes to `handler`, the request pipeline: HTTP/1.1 WebSocket upgrades
   * (through acceptH1) and HTTP/2 CONNECTs. An HTTP/1.1 CONNECT (a forward-proxy tunnel) is never served.
   */
  listen(server: Http2SecureServer, handler: (req: ViewerRequest, res: ViewerResponse) => void): void;
  /**
   * The listener's shouldUpgradeCallback: only a WebSocket handshake (RFC 6455 §4.1: a GET with
   * Upgrade: websocket) leaves HTTP/1.1; any other Upgrade is ignored and the request is served as
   * usual, as RFC 9110 §7.8 allows.
   */
  isWebSocketHandshake(req: IncomingMessage): boolean;
  /** For the listener's 'upgrade' event: a response bound to the raw socket, so the pipeline can answer as for any request. */
  acceptH1(req: IncomingMessage, socket: Duplex, head: Buffer): ServerResponse;
  /** The handshake this request is, or undefined for an ordinary request. */
  handshakeOf(req: ViewerRequest): ViewerHandshake | undefined;
  /** The tunnel's viewer end once the origin accepted the upgrade; call after the 101 (or 200) is sent. */
  tunnelEnd(req: ViewerRequest, res: ViewerResponse, handshake: ViewerHandshake): ViewerTunnelEnd;
  /** Counts `tunnel` among the open ones until the returned function is called. */
  track(tunnel: OpenTunnel): () => void;
  /** Closes every open tunnel (SIGTERM drain): WebSocket has no way to ask a client to move, so it reconnects elsewhere. */
  closeAll(reason: "drain"): void;
}

/**
 * @example
 * const upgrades = createViewerUpgrades({ holdConnectionDeadlines: (stream) => viewerH2DeadlinesOf(stream)?.holdForTunnel() });
 * upgrades.listen(server, createRequestHandler({ currentSnapshot, log, upgrades }));
 */
export function createViewerUpgrades(deps: { holdConnectionDeadlines(stream: ServerHttp2Stream): (() => void) | undefined }): ViewerUpgrades {
  const handshakes = new WeakMap<IncomingMessage, ViewerHandshake>();
  const tunnels = new Set<OpenTunnel>();
  let closingReason: "drain" | undefined;

  const upgrades: ViewerUpgrades = {
    listen(server, handler) {
      // Node's HTTP/1.1 fallback of an http2 server reads this property; its constructor option is not passed on.
      (server as unknown as { shouldUpgradeCallback(req: IncomingMessage): boolean }).shouldUpgradeCallback = upgrades.isWebSocketHandshake;
      server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => handler(req, upgrades.acceptH1(req, socket, head)));
      server.on("connect", (req: ViewerRequest, resOrSocket: Http2ServerResponse | Duplex) => {
        if (req.httpVersionMajor !== 2) return void (resOrSocket as Duplex).destroy();
        handler(req, resOrSocket as Http2ServerResponse);
      });
    },
    isWebSocketHandshake: (req) => req.method === "GET" && hasToken(req.headers.upgrade, "websocket"),
    acceptH1(req, socket, head) {
      handshakes.set(req, { kind: "h1", socket, head });
      const res = new http.ServerResponse(req);
      // A refused handshake ends the connection: what the viewer sent after its head is not HTTP we parsed.
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.once("finish", () => socket.end());
      return res;
    },
    handshakeOf(req) {
      if (req.httpVersionMajor === 2) return req.method === "CONNECT" && req.headers[":protocol"] === "websocket" ? { kind: "h2" } : undefined;
      return handshakes.get(req as IncomingMessage);
    },
    tunnelEnd(req, res, handshake) {
      if (handshake.kind === "h1") {
        const { socket, head } = handshake;
        (res as ServerResponse).detachSocket(socket as Socket);
        if (head.length > 0) socket.unshift(head);
        return { readable: socket, writable: socket, end: () => socket.end(), destroy: () => socket.destroy() };
      }
      const stream = (req as Http2ServerRequest).stream;
      // An HTTP/2 tunnel is one stream among the connection's requests: while it is open, the connection's stalled
      // deadline does not take it for a stalled request (the tunnel's own idle limit bounds it).
      const release = deps.holdConnectionDeadlines(stream);
      if (release) stream.once("close", release);
      return {
        readable: req as Http2ServerRequest,
        writable: res as unknown as Writable,
        end: () => {
          (res as Http2ServerResponse).end();
          // RFC 9113 §8.1: after a complete response, RST_STREAM NO_ERROR tells the client to stop sending.
          stream.close(http2.constants.NGHTTP2_NO_ERROR);
        },
        destroy: () => stream.destroy(),
      };
    },
    track(tunnel) {
      // A handshake that was in flight when the drain began: its tunnel closes as soon as it opens.
      if (closingReason) tunnel.close(closingReason);
      tunnels.add(tunnel);
      return () => void tunnels.delete(tunnel);
    },
    closeAll(reason) {
      closingReason = reason;
      for (const tunnel of tunnels) tunnel.close(reason);
    },
  };
  return upgrades;
}

function hasToken(value: string | undefined, token: string): boolean {
  return (value ?? "").split(",").some((item) => item.trim().toLowerCase() === token);
}
