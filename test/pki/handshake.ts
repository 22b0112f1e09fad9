// Test helper: one real TLS handshake on 127.0.0.1:0 between a server that requires client certificates and a client.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";

export interface HandshakeServer {
  key: string;
  cert: string;
  /** CAs that verify client certificates. */
  ca: string;
}

export interface HandshakeClient {
  /** CAs that verify the server's certificate. */
  ca: string;
  cert?: string;
  key?: string;
  servername?: string;
}

export interface HandshakeResult {
  /** True when the server accepted the client and the client received the server's reply. */
  isAccepted: boolean;
  /** The URI/DNS SANs of the client certificate, as the server saw them (when accepted). */
  clientSans: string | undefined;
  /** The server's `tlsClientError`, when it refused (often just a reset: Node drops the socket after a failed verification). */
  serverError: Error | undefined;
  /** Why the server's verification of the client certificate failed, e.g. `CERT_HAS_EXPIRED` (the socket's `authorizationError`). */
  serverAuthorizationError: string | undefined;
  /** Why the client's socket failed, when it did. */
  clientError: Error | undefined;
}

function connect(port: number, client: HandshakeClient): Promise<{ data: string; error: Error | undefined }> {
  return new Promise((resolve) => {
    let data = "";
    let error: Error | undefined;
    // rejectUnauthorized stays at its default (true): the client verifies the server too.
    const socket = tls.connect({ host: "127.0.0.1", port, ...client });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", (err) => (error = err));
    socket.on("close", () => resolve({ data, error }));
  });
}

export async function handshake(serverOptions: HandshakeServer, client: HandshakeClient): Promise<HandshakeResult> {
  let clientSans: string | undefined;
  const server = tls.createServer({ ...serverOptions, requestCert: true, rejectUnauthorized: true }, (socket) => {
    clientSans = socket.getPeerX509Certificate()?.subjectAltName;
    socket.end("ok");
  });
  const serverErrors: Error[] = [];
  let serverAuthorizationError: string | undefined;
  server.on("tlsClientError", (error, socket) => {
    serverErrors.push(error);
    serverAuthorizationError ??= socket.authorizationError ? String(socket.authorizationError) : undefined;
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const { port } = server.address() as AddressInfo;
    const { data, error: clientError } = await connect(port, client);
    const isAccepted = data === "ok";
    // A refusal reaches the server's tlsClientError handler possibly after the client saw the socket close.
    if (!isAccepted && serverErrors.length === 0) {
      const [error] = (await once(server, "tlsClientError", { signal: AbortSignal.timeout(5_000) })) as [Error];
      serverErrors.push(error);
    }
    return { isAccepted, clientSans, serverError: serverErrors[0], serverAuthorizationError, clientError };
  } finally {
    server.close();
  }
}
