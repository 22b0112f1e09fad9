// The viewer listener's HTTP/2 response: Node's compatibility response, sending a response head and its body in the fewest frames.
import { Http2ServerResponse } from "node:http2";
import type { OutgoingHttpHeaders } from "node:http";
import { meterWrite } from "./viewer-meter.ts";
import type { MeteredResponse } from "./viewer-meter.ts";

/**
 * Node's Http2ServerResponse always responds with `waitForTrailers`: its body's last DATA frame
 * cannot carry END_STREAM, so every response ends with one more frame (an empty DATA, after a
 * 'wantTrailers' round trip through JavaScript), and a head with no body is HEADERS then an empty
 * DATA. This one holds the head from writeHead until the body's first write or end() (or the end of
 * the current tick, so a head is never held while the body waits on I/O), then:
 * - writeHead + end(body) in one turn → HEADERS, then DATA frames, the last with END_STREAM;
 * - writeHead + end() (HEAD, 304, an empty body) → HEADERS with END_STREAM, nothing more;
 * - trailers only when asked for (setTrailer/addTrailers before the head goes).
 * The head costs no copies on the way: writeHead stores the fields where setHeader does (a name
 * already in normal form without setHeader's per-call checks), and the head goes to respond() as one
 * flat list (an object would be copied twice more). Everything else (headers API, events, flow
 * control, statusCode) is Node's, unchanged.
 *
 * @example
 * http2.createSecureServer({ Http2ServerResponse: ViewerH2Response, ...options }, handler);
 */
export class ViewerH2Response extends Http2ServerResponse implements MeteredResponse {
  bytesOut = 0;
  firstByteAt = 0;
  #isHeadPending = false;
  #hasTrailers = false;

  static {
    // A held head counts as sent: no second writeHead, no setHeader after it (Node's headersSent is
    // a getter, typed as a plain property, hence defined here rather than as an accessor).
    Object.defineProperty(this.prototype, "headersSent", {
      get(this: ViewerH2Response): boolean {
        return this.#isHeadPending || this.stream.headersSent;
      },
    });
  }

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const stream = this.stream;
    const headers = (rest.length === 2 ? rest[1] : typeof rest[0] === "object" ? rest[0] : undefined) as OutgoingHttpHeaders | unknown[] | undefined;
    // Node's own path for what is rare: header arrays, a closed stream, a second writeHead (which throws).
    if (this.#isHeadPending) this.#respond(false);
    if (this.#isHeadPending || stream.headersSent || stream.destroyed || stream.closed || Array.isArray(headers)) {
      return (super.writeHead as (status: number, ...rest: unknown[]) => this)(statusCode, ...rest);
    }
    if (headers) {
      // setHeader validates and normalises each field exactly as Node's writeHead does; a name already
      // in its normal form, a token, and one setHeader stores as it is, goes straight into the fields.
      const fields = storedFieldsOf(this);
      for (const name of Object.keys(headers)) {
        const value = (headers as OutgoingHttpHeaders)[name];
        if (value === undefined) continue;
        if (fields !== undefined && value !== null && isPlainFieldName(name)) fields[name] = value;
        else this.setHeader(name, value);
      }
    }
    this.statusCode = statusCode;
    this.#isHeadPending = true;
    // One tick for all the heads held in this turn (a read brings many streams), not one per response.
    if (ViewerH2Response.#held.push(this) === 1) process.nextTick(ViewerH2Response.#respondHeld);
    return this;
  }

  override write(chunk: string | Uint8Array, encoding?: unknown, callback?: unknown): boolean {
    meterWrite(this, chunk, encoding);
    if (this.#isHeadPending) this.#respond(false);
    return (super.write as (chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => boolean)(chunk, encoding, callback);
  }

  override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    // Its chunk is counted by write(), which Node's end calls.
    meterWrite(this, undefined);
    const end = super.end as (chunk?: unknown, encoding?: unknown, callback?: unknown) => this;
    if (!this.#isHeadPending) return end.call(this, chunk, encoding, callback);
    if (typeof chunk === "function") [chunk, encoding, callback] = [undefined, undefined, chunk];
    else if (typeof encoding === "function") [encoding, callback] = [undefined, encoding];
    const isEmpty = chunk === undefined || chunk === null || (chunk as { length: number }).length === 0;
    this.#respond(isEmpty);
    return end.call(this, isEmpty ? undefined : chunk, encoding, callback);
  }

  flushHeaders(): void {
    if (this.#isHeadPending) this.#respond(false);
    else untypedBase.flushHeaders.call(this);
  }

  setTrailer(name: string, value: string): void {
    this.#hasTrailers = true;
    untypedBase.setTrailer.call(this, name, value);
  }

  override addTrailers(trailers: OutgoingHttpHeaders): void {
    this.#hasTrailers = true;
    super.addTrailers(trailers);
  }

  /** Sends the held head; with `endStream` the HEADERS frame ends the stream (no body follows). */
  #respond(endStream: boolean): void {
    this.#isHeadPending = false;
    const stream = this.stream;
    // The viewer went away meanwhile: Node's writeHead would do nothing either.
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    // A flat [name, value, …] list, read straight from the fields setHeader stored: an object would be
    // copied twice more (getHeaders, then respond's own null-prototype copy) before nghttp2 sees it.
    const fields = headerFieldsOf(this);
    const list: unknown[] = [":status", this.statusCode];
    for (const name in fields) list.push(name, fields[name]);
    stream.respond(list as unknown as OutgoingHttpHeaders, { endStream, waitForTrailers: this.#hasTrailers && !endStream, sendDate: this.sendDate } as Parameters<typeof stream.respond>[1]);
  }

  static #held: ViewerH2Response[] = [];

  /** At the tick's end: a head whose body did not come in the same turn goes on its own. */
  static #respondHeld(): void {
    const held = ViewerH2Response.#held;
    ViewerH2Response.#held = [];
    for (const res of held) {
      if (!res.#isHeadPending) continue;
      try {
        res.#respond(false);
      } catch (error) {
        // A head nghttp2 refuses (a field HTTP/2 forbids): that response is cut, the others still go.
        res.destroy(error as Error);
      }
    }
  }
}

// Node's Http2ServerResponse keeps the fields setHeader validated in a null-prototype object under a
// module-private symbol (its description "headers"), found once on the first response; getHeaders()
// (a copy) if a Node version keeps them otherwise.
let fieldsKey: symbol | null | undefined;
function storedFieldsOf(res: Http2ServerResponse): Record<string, unknown> | undefined {
  if (fieldsKey === undefined) {
    const key = Object.getOwnPropertySymbols(res).find((symbol) => symbol.description === "headers");
    const fields = key && (res as unknown as Record<symbol, unknown>)[key];
    fieldsKey = key && typeof fields === "object" && fields !== null && Object.getPrototypeOf(fields) === null ? key : null;
  }
  return fieldsKey === null ? undefined : ((res as unknown as Record<symbol, unknown>)[fieldsKey] as Record<string, unknown>);
}
function headerFieldsOf(res: Http2ServerResponse): Record<string, unknown> {
  return storedFieldsOf(res) ?? (res.getHeaders() as Record<string, unknown>);
}

// What setHeader would store unchanged, without a warning or an error: lower case, trimmed, an HTTP
// token (RFC 9110 §5.1), neither a pseudo-header nor Connection (which it drops). Answers are kept
// for the names seen (a response's names are mostly the same few dozen), up to a bound.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const plainFieldNames = new Map<string, boolean>();
function isPlainFieldName(name: string): boolean {
  let isPlain = plainFieldNames.get(name);
  if (isPlain === undefined) {
    isPlain = TOKEN.test(name) && name !== "connection";
    if (plainFieldNames.size < 1024) plainFieldNames.set(name, isPlain);
  }
  return isPlain;
}

// Methods Node's Http2ServerResponse has that @types/node does not declare.
const untypedBase = Http2ServerResponse.prototype as unknown as { flushHeaders(): void; setTrailer(name: string, value: string): void };
