// A real HTTPS client for the admin API tests: Moat's CA verifies the server, a token or an admin certificate identifies the caller.
import { request } from "node:https";
import type { IncomingHttpHeaders } from "node:http";

export interface Caller {
  token?: string;
  /** An admin client certificate: chain and key. */
  certificate?: { chainPem: string; keyPem: string };
}

export interface ApiAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read fields of answers freely
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded): for bodies that must be malformed. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

/** One request on a fresh connection (so a certificate and a token never share one), verified against `caPem`. */
export function callApi(url: string, caPem: string, caller: Caller, path: string, options: CallOptions = {}): Promise<ApiAnswer> {
  const target = new URL(path, url);
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...(payload !== undefined && options.rawBody === undefined ? { "content-type": "application/json" } : {}), ...options.headers };
  if (caller.token) headers.authorization = `Bearer ${caller.token}`;
  // Node's client frames a DELETE body with neither Content-Length nor chunking: say its length.
  if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const outgoing = request(
      target,
      {
        method: options.method ?? "GET",
        ca: caPem,
        servername: "localhost",
        agent: false,
        headers,
        ...(caller.certificate ? { cert: caller.certificate.chainPem, key: caller.certificate.keyPem } : {}),
        timeout: 20_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        });
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer to ${options.method ?? "GET"} ${path} within 20 s`)));
    outgoing.on("error", reject);
    outgoing.end(payload);
  });
}
