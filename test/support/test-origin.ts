// A real HTTPS origin for tests: requires a client certificate from a given CA, counts requests, records what it saw.
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { IssuedCertificate } from "../../src/pki/index.ts";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  /** URI SANs of the client certificate the edge presented. */
  clientIdentities: string[];
  clientSerial: string | null;
}

export interface TestOrigin {
  port: number;
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse) => void;

const defaultHandler: OriginHandler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "x-origin": "test" });
    res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length}`);
  });
};

/**
 * Starts an origin on 127.0.0.1:0. With `clientCaPem`, it requires a client certificate from that CA.
 */
export async function startTestOrigin(options: {
  certificate: IssuedCertificate;
  clientCaPem?: string;
  handler?: OriginHandler;
  maxVersion?: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher list and key exchange groups, for an origin whose TLS settings do not match the edge's. */
  ciphers?: string;
  ecdhCurve?: string;
}): Promise<TestOrigin> {
  const seen: SeenRequest[] = [];
  const handler = options.handler ?? defaultHandler;
  const server = https.createServer(
    {
      key: options.certificate.keyPem,
      cert: options.certificate.chainPem,
      ...(options.clientCaPem ? { ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
      ...(options.ecdhCurve ? { ecdhCurve: options.ecdhCurve } : {}),
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        clientIdentities: (peer?.subjectAltName ?? "").split(", ").filter((s) => s.startsWith("URI:")).map((s) => s.slice(4)),
        clientSerial: peer ? peer.serialNumber.toLowerCase() : null,
      });
      handler(req, res);
    },
  );
  // Every raw connection, including ones still in their TLS handshake, so close() never waits on one.
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (socket: import("node:net").Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://localhost:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
