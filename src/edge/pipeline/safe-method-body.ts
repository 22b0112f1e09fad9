// GET and HEAD carry no body at the edge: one is refused (400), never forwarded to some origins and dropped on the way to others.
import type { Http2ServerRequest } from "node:http2";
import type { IncomingMessage } from "node:http";

// RFC 9110 §9.3.1: "content received in a GET request has no generally defined semantics [...] and
// might lead some implementations to reject the request and close the connection because of its
// potential as a request smuggling attack". The cache would drop it (a fill is shared by every
// viewer of that key) while a bypassing request would forward it: so neither; CloudFront refuses too.
const SAFE_METHODS_WITHOUT_BODY = new Set(["GET", "HEAD"]);

/** How long an HTTP/2 GET whose HEADERS did not end the stream may take to end it (an empty DATA frame). */
const STREAM_END_DEADLINE_MS = 10_000;

/**
 * True when a GET or HEAD carries (or announces) a body: Content-Length above 0 or any
 * Transfer-Encoding in HTTP/1.1; in HTTP/2 the same, or a DATA frame with bytes before the stream ends.
 * @example
 * if (await hasSafeMethodBody(req)) sendEdgeError(res, { status: 400, code: "request-body-not-allowed", … });
 * Known at once (a boolean) but for an HTTP/2 stream still open after its HEADERS (a promise).
 */
export function hasSafeMethodBody(req: IncomingMessage | Http2ServerRequest): boolean | Promise<boolean> {
  if (!SAFE_METHODS_WITHOUT_BODY.has(req.method ?? "")) return false;
  const length = req.headers["content-length"];
  if (length !== undefined && Number(length) !== 0) return true;
  if (req.httpVersionMajor !== 2) return req.headers["transfer-encoding"] !== undefined;
  const stream = (req as Http2ServerRequest).stream;
  if (stream.endAfterHeaders) return false;
  // Some clients end a GET's stream with an empty DATA frame: wait for that end, or for the first byte.
  return new Promise<boolean>((resolve) => {
    const settle = (hasBody: boolean) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      resolve(hasBody);
    };
    const onData = (chunk: Buffer) => {
      if (chunk.length > 0) settle(true);
    };
    const onEnd = () => settle(false);
    // Reset before its end: nothing to serve, and nothing forwarded.
    const onClose = () => settle(true);
    // A stream left open past the deadline is treated as one that sends a body.
    const timer = setTimeout(() => settle(true), STREAM_END_DEADLINE_MS);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
  });
}
