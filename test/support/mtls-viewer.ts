// Test helper: one HTTPS request to the edge with a chosen SNI, Host, client certificate and TLS session; says whether it was answered or cut, and whether the session resumed.
import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";

export interface MtlsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The TLS session the server sent (to resume with), if any. */
  session: Buffer | undefined;
  isResumed: boolean;
}

export interface MtlsRefusal {
  error: Error & { code?: string };
}

export interface MtlsRequest {
  port: number;
  caPem: string;
  servername: string;
  host?: string;
  path?: string;
  cert?: { chainPem: string; keyPem: string };
  headers?: Record<string, string>;
  session?: Buffer;
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

/** A fresh connection (no agent), one request; resolves with the answer or with the error that cut it. */
export function mtlsRequest(request: MtlsRequest): Promise<MtlsAnswer | MtlsRefusal> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let socket: TLSSocket | undefined;
    const req = https.request(
      {
        host: "127.0.0.1",
        port: request.port,
        servername: request.servername,
        ca: request.caPem,
        ...(request.cert ? { cert: request.cert.chainPem, key: request.cert.keyPem } : {}),
        ...(request.session ? { session: request.session } : {}),
        ...(request.maxVersion ? { maxVersion: request.maxVersion } : {}),
        path: request.path ?? "/",
        headers: { host: request.host ?? request.servername, ...request.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const isResumed = socket?.isSessionReused() ?? false;
          // A TLS 1.3 ticket may follow the response: wait for the socket to close to collect it.
          const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), session, isResumed });
          if (!socket || socket.destroyed) done();
          else socket.once("close", done);
        });
      },
    );
    req.on("socket", (s) => {
      socket = s as TLSSocket;
      socket.on("session", (ticket: Buffer) => (session = ticket));
    });
    req.on("error", (error) => resolve({ error }));
    req.end();
  });
}

export function isRefusal(answer: MtlsAnswer | MtlsRefusal): answer is MtlsRefusal {
  return "error" in answer;
}

/** Fails (rather than hangs) when what a test waits for does not come within `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
