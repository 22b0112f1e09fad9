// Error responses the edge makes itself: a status, a stable `Moat-Error` code, and a body that says what happened.
import type { Http2ServerResponse } from "node:http2";
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { MoatErrorValue } from "./moat-error-values.ts";

export type ViewerResponse = ServerResponse | Http2ServerResponse;

/** Both response kinds take (status, headers); TypeScript cannot call the union's overloads directly. */
export function writeViewerHead(res: ViewerResponse, status: number, headers: OutgoingHttpHeaders): void {
  (res as ServerResponse).writeHead(status, headers);
}

const reasonPhrases: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  421: "Misdirected Request",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * Ends `res` with an edge-made error. The body names the code and a public summary; internal
 * names (origin URLs, file paths) are only in the log line that carries the same request id.
 * @example
 * sendEdgeError(res, { status: 421, code: "misdirected-request", summary: "…", requestId, cacheStatusName: "moat" });
 */
export function sendEdgeError(
  res: ViewerResponse,
  error: { status: number; code: MoatErrorValue; summary: string; requestId: string; cacheStatusName: string; extraHeaders?: Readonly<Record<string, string>> },
): void {
  if (res.headersSent) {
    // Too late for a status: the only honest signal left is cutting the response short.
    res.destroy();
    return;
  }
  const body =
    `${error.status} ${reasonPhrases[error.status] ?? "Error"}\n` +
    `moat-error: ${error.code}\n` +
    `${error.summary}\n` +
    `request id: ${error.requestId} (the edge's log line with this id names the origin, the certificate and the fix)\n`;
  writeViewerHead(res, error.status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "moat-error": error.code,
    "moat-request-id": error.requestId,
    // RFC 9211 and CloudFront's X-Cache: every response says what the cache did, an error too.
    "cache-status": `${error.cacheStatusName}; detail=${error.code}`,
    "x-cache": "Error from moat",
    ...error.extraHeaders,
  });
  res.end(body);
}
