// A real HTTPS origin for WebSocket tests: requires the edge's client certificate, runs a `ws` echo server, records each handshake; a path ending in /refuse is answered 409.
import { once } from "node:events";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import type { IssuedCertificate } from "../../src/pki/index.ts";

export interface SeenHandshake {
  url: string;
  headers: IncomingMessage["headers"];
  /** URI SANs of the client certificate the edge presented. */
  clientIdentities: string[];
}

export interface WebSocketOrigin {
  url: string;
  seen: SeenHandshake[];
  close(): Promise<void>;
}

/** Starts on 127.0.0.1:0, named localhost in its URL; requires a client certificate from `clientCaPem`. */
export async function startWebSocketOrigin(certificate: IssuedCertificate, clientCaPem: string): Promise<WebSocketOrigin> {
  const seen: SeenHandshake[] = [];
  const server = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: clientCaPem, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end("not a websocket"));
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has("chat") ? "chat" : false),
    verifyClient: (info, done) => done(!info.req.url?.endsWith("/refuse"), 409, "Conflict"),
  });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate();
    seen.push({ url: req.url ?? "", headers: req.headers, clientIdentities: (peer?.subjectAltName ?? "").split(", ").filter((s) => s.startsWith("URI:")).map((s) => s.slice(4)) });
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://localhost:${port}`,
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
