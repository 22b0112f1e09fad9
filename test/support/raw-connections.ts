// Raw client sockets for tests of connections that never speak: from a chosen loopback address, and waits for the server to close them, bounded.
import { once } from "node:events";
import type http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";

// Upper bound for any close a test waits for: far above the deadlines tests configure, far below the defaults.
export const CLOSE_WITHIN_MS = 10_000;

/** The emitter's close, or a failure after CLOSE_WITHIN_MS (a ref'd timer: the wait keeps the test alive). */
export async function closeOf(emitter: net.Socket | http2.ClientHttp2Session): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still open after ${CLOSE_WITHIN_MS} ms`)), CLOSE_WITHIN_MS)));
  try {
    await Promise.race([once(emitter, "close"), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with what the peer sent before it closed; rejects if it is still open after CLOSE_WITHIN_MS. */
export async function closedBy(socket: net.Socket): Promise<string> {
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  await closeOf(socket);
  return received;
}

/**
 * A TCP connection to 127.0.0.1:port from `from`: all of 127/8 reaches a server on 127.0.0.1, so a
 * test gets as many client addresses as it needs (per-address caps, per-address log lines).
 */
export async function tcpFrom(from: string, port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: from });
  await once(socket, "connect");
  return socket;
}

/** A TLS client socket from `from` (tls.connect's types do not take localAddress; net.connect does). */
export function tlsFrom(from: string, options: tls.ConnectionOptions & { port: number }): tls.TLSSocket {
  const { port, ...rest } = options;
  const tcp = net.connect({ port, host: "127.0.0.1", localAddress: from });
  return tls.connect({ ...rest, socket: tcp });
}

/** Resolves true once the handshake completes, false if the server closes the connection first. */
export function isAccepted(socket: tls.TLSSocket): Promise<boolean> {
  socket.on("error", () => {});
  return new Promise((resolve) => {
    socket.once("secureConnect", () => resolve(true));
    socket.once("close", () => resolve(false));
  });
}
