// Viewer-side clients for tests: HTTP/1.1 through undici and HTTP/2 through node:http2, trusting the test CA.
import http2 from "node:http2";
import https from "node:https";
import { Client } from "undici";
import type { Dispatcher } from "undici";

export interface ViewerResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP/1.1 keep-alive client for one edge port; undici sends the Host header's name as SNI. */
export function createViewerClient(port: number, options: { caPem: string; servername: string }): Client {
  return new Client(`https://127.0.0.1:${port}`, { connect: { ca: options.caPem, servername: options.servername } });
}

export async function viewerRequest(client: Client, request: { path: string; method?: Dispatcher.HttpMethod; host: string; headers?: Record<string, string>; body?: Dispatcher.DispatchOptions["body"] }): Promise<ViewerResponse> {
  const res = await client.request({
    path: request.path,
    method: request.method ?? "GET",
    headers: { host: request.host, ...request.headers },
    body: request.body ?? null,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/**
 * One HTTP/1.1 request on a fresh connection whose SNI and Host are set independently
 * (undici derives SNI from Host, which would hide a mismatch).
 */
export function viewerRequestWithSni(port: number, request: { caPem: string; servername: string; host: string; path: string; method?: string }): Promise<ViewerResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, servername: request.servername, ca: request.caPem, path: request.path, method: request.method ?? "GET", headers: { host: request.host }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 request on a session; the session is the caller's to close. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<ViewerResponse> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () =>
      resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders as ViewerResponse["headers"], body: Buffer.concat(chunks).toString("utf8") }),
    );
    stream.on("error", reject);
    if (body !== undefined) stream.end(body);
  });
}

export function connectH2(port: number, options: { caPem: string; servername: string }): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: options.caPem, servername: options.servername });
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}
