// The bench's HTTPS origin: requires a client certificate from the CA, answers 1 KiB, or N streamed bytes at /bytes/N.
import https from "node:https";
import type { ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { IssuedCertificate } from "../src/pki/index.ts";

export interface BenchOrigin {
  port: number;
  close(): Promise<void>;
}

export const SMALL_BODY_BYTES = 1024;
const SMALL_BODY = Buffer.alloc(SMALL_BODY_BYTES, "m");
// One chunk reused for every large body, so the origin itself holds no more than this.
const CHUNK = Buffer.alloc(64 * 1024, "b");

/**
 * Unlike test/support/test-origin.ts, it records nothing per request: a list that grows with
 * every request would show up in the RSS the large-body scenario measures.
 * @example
 * const origin = await startBenchOrigin({ certificate, clientCaPem: ca.bundlePem });
 */
export async function startBenchOrigin(options: { certificate: IssuedCertificate; clientCaPem: string }): Promise<BenchOrigin> {
  const server = https.createServer(
    { key: options.certificate.keyPem, cert: options.certificate.chainPem, ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      req.resume();
      const match = /^\/bytes\/(\d+)$/.exec(req.url ?? "");
      if (match) return void streamBytes(res, Number(match[1]));
      // /cached: the same body, which a shared cache may keep for an hour (the cache-hit scenario).
      const caching = req.url === "/cached" ? { "cache-control": "public, max-age=3600" } : {};
      res.writeHead(200, { "content-type": "text/plain", "content-length": SMALL_BODY_BYTES, ...caching });
      res.end(SMALL_BODY);
    },
  );
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        // Keep-alive connections from the bench's clients would otherwise hold close() open.
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// Writes with backpressure: the origin never queues more than the socket's buffer.
async function streamBytes(res: ServerResponse, totalBytes: number): Promise<void> {
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": totalBytes });
  let remaining = totalBytes;
  while (remaining > 0 && !res.destroyed) {
    const chunk = remaining >= CHUNK.length ? CHUNK : CHUNK.subarray(0, remaining);
    remaining -= chunk.length;
    if (!res.write(chunk)) await drainOrClose(res);
  }
  res.end();
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
