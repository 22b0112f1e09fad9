// Body bytes in and out of a viewer exchange and the time of its first byte out, for the access log: counted where the request's push and the response's write and end already pass.
import { Http2ServerRequest } from "node:http2";

// Not `import … from "node:http"`: Node's ESM view of a builtin reads every export, and node:http's WebSocket getter loads
// Node's bundled undici (fetch, WebSocket: 3–10 MB of idle RSS, bench/idle-rss.ts) that nothing here uses.
const { IncomingMessage, ServerResponse } = process.getBuiltinModule("node:http");

/** What the access log reads of a viewer response: body bytes handed to the connection, and when the first went. */
export interface MeteredResponse {
  /** Body bytes written (a HEAD's none). */
  bytesOut: number;
  /** performance.now() at the first write or end: the head goes out then, with the body's first bytes (0: not yet; -1: not timed, no line will be written). */
  firstByteAt: number;
}

/** What the access log reads of a viewer request: body bytes received. */
export interface MeteredRequest {
  bytesIn: number;
}

/** Bytes of a chunk as written: a string's UTF-8 length is worked out only for a string (rare: error bodies). */
export function chunkBytes(chunk: unknown, encoding?: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === "function") return 0;
  if (typeof chunk === "string") return chunk.length === 0 ? 0 : Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  return (chunk as Uint8Array).byteLength ?? 0;
}

/** Counts on `res` what one write or end hands over: one addition and, the first time, a clock read. */
export function meterWrite(res: MeteredResponse, chunk: unknown, encoding?: unknown): void {
  if (res.firstByteAt === 0) res.firstByteAt = performance.now();
  res.bytesOut += chunkBytes(chunk, encoding);
}

/** HTTP/1.1 responses (the http2 server's Http1ServerResponse option), metered. */
export class MeteredServerResponse extends ServerResponse implements MeteredResponse {
  bytesOut = 0;
  firstByteAt = 0;

  // ServerResponse.end writes its chunk itself, not through write(): each is counted once.
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    meterWrite(this, chunk, encoding);
    return (super.write as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean)(chunk, encoding, callback);
  }

  override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    meterWrite(this, chunk, encoding);
    return (super.end as (chunk?: unknown, encoding?: unknown, callback?: unknown) => this)(chunk, encoding, callback);
  }
}

/** HTTP/1.1 requests (the Http1IncomingMessage option): the parser pushes each body chunk. */
export class MeteredIncomingMessage extends IncomingMessage implements MeteredRequest {
  bytesIn = 0;

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null) this.bytesIn += chunkBytes(chunk, encoding);
    return super.push(chunk, encoding);
  }
}

/** HTTP/2 requests with a body, through Node's compatibility layer (the Http2ServerRequest option): its stream pushes each DATA chunk. */
export class MeteredH2Request extends Http2ServerRequest implements MeteredRequest {
  bytesIn = 0;

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null) this.bytesIn += chunkBytes(chunk, encoding);
    return super.push(chunk, encoding);
  }
}
