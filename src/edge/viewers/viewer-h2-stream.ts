// HTTP/2 reads without Node's compatibility layer: a GET or HEAD whose HEADERS ended its stream gets a light request and response over the raw stream.
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Http2ServerResponse } from "node:http2";
import type { ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { meterWrite } from "./viewer-meter.ts";
import type { MeteredRequest, MeteredResponse } from "./viewer-meter.ts";

// Why: Node's compatibility API makes, for every stream, an Http2ServerRequest (a Readable) and an
// Http2ServerResponse, hangs ten listeners and two closures on the stream, and routes every call
// through them; on a 1 KiB HTTP/2 hit that was about a fifth of the edge's CPU (docs/explanation/
// performance.md). A bodiless GET or HEAD, nearly every request a CDN serves, needs none of it: the
// pipeline reads its head and writes one response. Anything else (a body, CONNECT, Expect) keeps
// Node's own objects (viewer-listener.ts hands it to them).

/** True for a stream the light objects serve: GET or HEAD, END_STREAM on its HEADERS, no Expect. */
export function isBodilessRead(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
  const method = headers[":method"];
  return (method === "GET" || method === "HEAD") && stream.endAfterHeaders && headers.expect === undefined;
}

/**
 * The request side: what the pipeline reads of a request (method, target, fields, the stream), and
 * the stream's events for whoever listens (its body is empty: END_STREAM came with the head).
 */
export class ViewerH2StreamRequest implements MeteredRequest {
  readonly stream: ServerHttp2Stream;
  /** Always 0: END_STREAM came with the head. */
  readonly bytesIn = 0;
  /** As Node's compatibility request has them: pseudo-headers included, the object the session made. */
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]) {
    this.stream = stream;
    this.headers = headers;
    this.rawHeaders = rawHeaders;
  }

  get method(): string {
    return this.headers[":method"] as string;
  }
  get url(): string {
    return this.headers[":path"] as string;
  }
  get authority(): string | undefined {
    return this.headers[":authority"] as string | undefined;
  }
  get scheme(): string | undefined {
    return this.headers[":scheme"] as string | undefined;
  }
  get httpVersionMajor(): 2 {
    return 2;
  }
  get httpVersionMinor(): 0 {
    return 0;
  }
  get httpVersion(): "2.0" {
    return "2.0";
  }
  get aborted(): boolean {
    return this.stream.aborted;
  }
  get complete(): boolean {
    return true;
  }
  /** The connection's TLS socket itself (Node's compatibility request gives a proxy of the stream). */
  get socket(): TLSSocket | undefined {
    return this.stream.session?.socket as TLSSocket | undefined;
  }
  on(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.on(event, listener);
    return this;
  }
  once(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.once(event, listener);
    return this;
  }
  off(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.off(event, listener);
    return this;
  }
  resume(): this {
    this.stream.resume();
    return this;
  }
}

const RESPONSE = Symbol("moat.viewerH2Response");
type ServedStream = ServerHttp2Stream & { [RESPONSE]?: ViewerH2StreamResponse };
// Set in the class's static block (they read its private state); declared here, before it runs.
let onStreamClose: (this: ServedStream) => void;
let onStreamDrain: (this: ServedStream) => void;
let onWantTrailers: (this: ServedStream) => void;

/**
 * The response side, with the calls the pipeline makes on a viewer response (writeHead, write, end,
 * destroy, writeEarlyHints, headersSent, writableEnded, statusCode) and the events it listens to
 * ('close', 'drain'; 'finish' then 'close' when the stream closes, as Node's compatibility response
 * emits them), so that `pipeline(body, res)` works as with Node's. Sends the head as
 * viewer-h2-response.ts does for Node's response: held until the body's first chunk or its end, so
 * that a small response is HEADERS, then one DATA frame with END_STREAM (HEADERS with END_STREAM
 * when there is no body), and one flat field list, no copies.
 */
export class ViewerH2StreamResponse extends EventEmitter implements MeteredResponse {
  readonly stream: ServerHttp2Stream;
  readonly req: ViewerH2StreamRequest;
  statusCode = 200;
  bytesOut = 0;
  firstByteAt = 0;
  sendDate = true;
  /** Always true, as Node's compatibility response says (pipeline reads it). */
  readonly writable = true;
  /** The held head: [":status", code, name, value, …], until respond(). */
  #head: unknown[] | null = null;
  /** The head as written (held or sent), for getHeader after writeHead. */
  #written: unknown[] | null = null;
  /** What setHeader stored before writeHead (rare: the pipeline passes its fields to writeHead). */
  #fields: Record<string, unknown> | null = null;
  #trailers: Record<string, unknown> | null = null;
  #isEnding = false;
  #isClosed = false;
  #isDestroyed = false;
  #isWaitingForDrain = false;

  constructor(stream: ServerHttp2Stream, req: ViewerH2StreamRequest) {
    super();
    this.stream = stream;
    this.req = req;
    (stream as ServedStream)[RESPONSE] = this;
    stream.on("close", onStreamClose);
    // A stream with no 'error' listener would take the process down with it; Node's compatibility
    // request listens for the same reason, and does nothing more: the stream closes, and 'close' follows.
    stream.on("error", onStreamError);
  }

  get headersSent(): boolean {
    return this.#head !== null || this.stream.headersSent;
  }
  get writableEnded(): boolean {
    return this.#isEnding;
  }
  get finished(): boolean {
    return this.#isEnding;
  }
  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }
  get destroyed(): boolean {
    return this.stream.destroyed;
  }
  get socket(): TLSSocket | undefined {
    return this.#isClosed ? undefined : (this.stream.session?.socket as TLSSocket | undefined);
  }

  writeHead(statusCode: number, reasonOrHeaders?: unknown, maybeHeaders?: unknown): this {
    if (this.#isClosed || this.stream.destroyed) return this;
    if (this.headersSent) throw codedError("ERR_HTTP2_HEADERS_SENT", "Response has already been initiated.");
    // Node's range for an HTTP/2 final status; its compatibility response says so at respond(), here it is said at once.
    if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 599) throw codedError("ERR_HTTP2_STATUS_INVALID", `Invalid status code: ${statusCode}`);
    const headers = (maybeHeaders ?? (typeof reasonOrHeaders === "object" ? reasonOrHeaders : undefined)) as OutgoingHttpHeaders | undefined;
    this.statusCode = statusCode;
    const list: unknown[] = [":status", statusCode];
    if (this.#fields === null && headers !== undefined && !Array.isArray(headers) && appendPlainFields(list, headers)) {
      this.#hold(list);
      return this;
    }
    // Header arrays, names to normalise, or fields set before: through setHeader's checks, into one object.
    list.length = 2;
    if (Array.isArray(headers)) for (const [name, value] of headers as [string, unknown][]) this.#setField(name, value);
    else if (headers) for (const name of Object.keys(headers)) if (headers[name] !== undefined) this.#setField(name, headers[name]);
    if (this.stream.destroyed) return this;
    const fields = this.#fields ?? {};
    for (const name in fields) list.push(name, fields[name]);
    this.#hold(list);
    return this;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean {
    if (typeof encoding === "function") [encoding, callback] = [undefined, encoding];
    const failure = this.#isEnding ? codedError("ERR_STREAM_WRITE_AFTER_END", "write after end") : this.#isClosed ? codedError("ERR_HTTP2_INVALID_STREAM", "The stream has been destroyed") : null;
    if (failure) {
      if (callback) process.nextTick(callback, failure);
      this.destroy(failure);
      return false;
    }
    if (this.#isDestroyed) return false;
    meterWrite(this, chunk, encoding);
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (this.#head !== null) this.#respond(false);
    const isFlowing = encoding === undefined ? this.stream.write(chunk, callback) : this.stream.write(chunk, encoding, callback);
    if (!isFlowing && !this.#isWaitingForDrain) {
      this.#isWaitingForDrain = true;
      this.stream.once("drain", onStreamDrain);
    }
    return isFlowing;
  }

  end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    if (typeof chunk === "function") [chunk, encoding, callback] = [undefined, undefined, chunk];
    else if (typeof encoding === "function") [encoding, callback] = [undefined, encoding];
    const done = callback as (() => void) | undefined;
    if (this.#isClosed || this.#isEnding) {
      if (done) process.nextTick(done);
      return this;
    }
    meterWrite(this, chunk, encoding);
    if (!this.headersSent) this.writeHead(this.statusCode);
    const isEmpty = chunk === undefined || chunk === null || (chunk as { length: number }).length === 0;
    if (this.#head !== null) this.#respond(isEmpty);
    this.#isEnding = true;
    const stream = this.stream;
    if (done) stream.once("finish", done);
    if (this.#isClosed || stream.destroyed) return this;
    if (isEmpty) stream.end();
    else if (encoding === undefined) stream.end(chunk as Uint8Array);
    else stream.end(chunk as string, encoding as BufferEncoding);
    return this;
  }

  destroy(error?: Error): this {
    if (this.#isDestroyed) return this;
    this.#isDestroyed = true;
    this.stream.destroy(error);
    return this;
  }

  /** RFC 8297, through Node's own Http2ServerResponse.writeEarlyHints (its Link checks), which calls writeInformation below. */
  writeEarlyHints(hints: Record<string, string | string[]>): boolean {
    return (Http2ServerResponse.prototype as unknown as { writeEarlyHints(this: unknown, hints: Record<string, string | string[]>): boolean }).writeEarlyHints.call(this, hints);
  }

  writeInformation(statusCode: number, headers?: Record<string, unknown>): boolean {
    const stream = this.stream;
    if (this.headersSent || this.#isClosed || stream.destroyed || stream.closed) return false;
    stream.additionalHeaders({ ...headers, ":status": statusCode });
    return true;
  }

  flushHeaders(): void {
    if (this.#isClosed || this.stream.destroyed) return;
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (this.#head !== null) this.#respond(false);
  }

  setHeader(name: string, value: unknown): this {
    if (this.headersSent) throw codedError("ERR_HTTP2_HEADERS_SENT", "Response has already been initiated.");
    this.#setField(name, value);
    return this;
  }
  getHeader(name: string): unknown {
    const normal = name.trim().toLowerCase();
    if (this.#fields !== null) return this.#fields[normal];
    // Fields written straight into the head's list (writeHead's common case) are read from it.
    const list = this.#written;
    if (list !== null) for (let index = 2; index < list.length; index += 2) if (list[index] === normal) return list[index + 1];
    return undefined;
  }
  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }
  removeHeader(name: string): void {
    if (this.headersSent) throw codedError("ERR_HTTP2_HEADERS_SENT", "Response has already been initiated.");
    if (this.#fields) delete this.#fields[name.trim().toLowerCase()];
  }
  getHeaders(): Record<string, unknown> {
    const fields = Object.create(null) as Record<string, unknown>;
    if (this.#fields !== null || this.#written === null) return Object.assign(fields, this.#fields);
    const list = this.#written;
    for (let index = 2; index < list.length; index += 2) fields[list[index] as string] = list[index + 1];
    return fields;
  }
  getHeaderNames(): string[] {
    return Object.keys(this.getHeaders());
  }
  setTrailer(name: string, value: unknown): void {
    (this.#trailers ??= Object.create(null) as Record<string, unknown>)[name.trim().toLowerCase()] = value;
  }
  addTrailers(trailers: Record<string, unknown>): void {
    for (const name of Object.keys(trailers)) this.setTrailer(name, trailers[name]);
  }
  setTimeout(ms: number, callback?: () => void): this {
    if (!this.#isClosed) this.stream.setTimeout(ms, callback);
    return this;
  }
  cork(): void {
    this.stream.cork();
  }
  uncork(): void {
    this.stream.uncork();
  }

  /** Node's setHeader checks: a name, lower case and trimmed; no pseudo-header; a value; Connection dropped; a token, or the response is cut. */
  #setField(rawName: string, value: unknown): void {
    const name = String(rawName).trim().toLowerCase();
    if (name === "" || name.includes(" ")) throw codedError("ERR_INVALID_HTTP_TOKEN", `Header name must be a valid HTTP token ["${name}"]`);
    if (name.startsWith(":")) throw codedError("ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED", "Cannot set HTTP/2 pseudo-headers");
    if (value === undefined || value === null) throw codedError("ERR_HTTP2_INVALID_HEADER_VALUE", `Invalid value "${String(value)}" for header "${name}"`);
    if (name === "connection" && value !== "trailers") return;
    if (!TOKEN.test(name)) {
      this.destroy(codedError("ERR_INVALID_HTTP_TOKEN", `Header name must be a valid HTTP token ["${name}"]`));
      return;
    }
    (this.#fields ??= Object.create(null) as Record<string, unknown>)[name] = value;
  }

  #hold(list: unknown[]): void {
    this.#head = list;
    this.#written = list;
    // One tick for all the heads held in this turn (a read brings many streams), not one per response.
    if (ViewerH2StreamResponse.#held.push(this) === 1) process.nextTick(ViewerH2StreamResponse.#respondHeld);
  }

  /** Sends the held head; with `endStream` the HEADERS frame ends the stream (no body follows). */
  #respond(endStream: boolean): void {
    const list = this.#head as unknown[];
    this.#head = null;
    const stream = this.stream;
    // The viewer went away meanwhile: Node's writeHead would do nothing either.
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    const waitForTrailers = this.#trailers !== null && !endStream;
    if (waitForTrailers) stream.once("wantTrailers", onWantTrailers);
    stream.respond(list as unknown as OutgoingHttpHeaders, { endStream, waitForTrailers, sendDate: this.sendDate } as Parameters<ServerHttp2Stream["respond"]>[1]);
  }

  static #held: ViewerH2StreamResponse[] = [];

  /** At the tick's end: a head whose body did not come in the same turn goes on its own. */
  static #respondHeld(): void {
    const held = ViewerH2StreamResponse.#held;
    ViewerH2StreamResponse.#held = [];
    for (const res of held) {
      if (res.#head === null) continue;
      try {
        res.#respond(false);
      } catch (error) {
        // A head nghttp2 refuses (a field HTTP/2 forbids): that response is cut, the others still go.
        res.destroy(error as Error);
      }
    }
  }

  static {
    // Shared listeners (EventEmitter calls them with the stream as `this`): no closures per stream.
    onStreamClose = function (this: ServedStream): void {
      const res = this[RESPONSE];
      if (res === undefined || res.#isClosed) return;
      res.#isClosed = true;
      res.emit("finish");
      res.emit("close");
    };
    onStreamDrain = function (this: ServedStream): void {
      const res = this[RESPONSE];
      if (res === undefined) return;
      res.#isWaitingForDrain = false;
      if (!res.#isClosed) res.emit("drain");
    };
    onWantTrailers = function (this: ServedStream): void {
      const res = this[RESPONSE];
      this.sendTrailers(((res === undefined ? null : res.#trailers) ?? {}) as OutgoingHttpHeaders);
    };
  }
}

function onStreamError(): void {}

// RFC 9110 §5.1 token, as Node's checkIsHttpToken.
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const PLAIN_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

// What setHeader would store unchanged (lower case, a token, not Connection), answered once per name seen, up to a bound.
const plainFieldNames = new Map<string, boolean>();
function isPlainFieldName(name: string): boolean {
  let isPlain = plainFieldNames.get(name);
  if (isPlain === undefined) {
    isPlain = PLAIN_NAME.test(name) && name !== "connection";
    if (plainFieldNames.size < 1024) plainFieldNames.set(name, isPlain);
  }
  return isPlain;
}

/** Appends the fields as name, value pairs; false (the list partly filled) when one needs setHeader's normalising or checks. */
function appendPlainFields(list: unknown[], headers: OutgoingHttpHeaders): boolean {
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (value === null || !isPlainFieldName(name)) return false;
    list.push(name, value);
  }
  return true;
}

function codedError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
