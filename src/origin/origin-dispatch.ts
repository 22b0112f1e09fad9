// One exchange with an origin through undici's dispatch(): a flat header list in, a status, a header object and a body stream out.
//
// undici's request() builds a header object per request (ours spread with Host), parses the answer through a
// generic handler that keeps trailers and async context, and wraps the body in a stream made for fetch-style
// consumers. The edge needs none of that: this handler sends Host first from a flat list and hands back the
// plain parts. It uses undici's original handler interface (onConnect/onHeaders/onData/onComplete/onError),
// which undici runs as is; the newer controller interface is wrapped by an adapter per request.
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { errors, lowerCaseHeaderName } from "./undici-lib.ts";
import { mayBeRefusalPage, RefusalPageAnswer, REFUSAL_PAGE_PREFIX_BYTES, refusalPageOf } from "./classify-origin-error.ts";
import { expectRequestWrite } from "./origin-connection.ts";
import type { OriginConnectionListener, OriginConnectionUse } from "./origin-connection.ts";

/** Where an exchange goes: the same for every request of a client. */
export interface OriginExchangeTarget {
  /**
   * Sent first, in place of any Host in the request's headers. null: the request's X-Forwarded-Host, which the edge
   * sets to the Host its viewer sent (towards an origin shield, which routes by it to the same distribution).
   */
  readonly hostHeader: string | null;
  /** Prefix of every request path, "" or "/base". */
  readonly basePath: string;
  /**
   * The origin's TLS server name, the same for every request (the connector presents its own: see origin-client.ts).
   * Given to undici so that it does not derive one from each request's Host: towards a shield that Host is the
   * viewer's, and a client whose requests' server names differ closes its connection at every change.
   */
  readonly serverName: string;
}

export interface OriginExchange {
  method: string;
  /** The path sent to the origin after its base path. */
  path: string;
  headers: Readonly<Record<string, string | string[]>>;
  body: Readable | Uint8Array | string | null;
  /** Cuts the request when its requester leaves. */
  cancel?: Cancellation;
  /** Told the fields of each 103 (Early Hints) before the final response; other 1xx are not passed on. */
  onEarlyHints?(headers: Record<string, string | string[]>): void;
}

/**
 * A lighter AbortSignal for one request: no EventTarget and no listener list. The requester sets `reason` and tells
 * `listener` once when it gives up; the exchange listens while cutting the request would change anything.
 */
export interface Cancellation {
  readonly reason: Error | null;
  listener: CancellationListener | null;
}

export interface CancellationListener {
  cancelled(reason: Error): void;
}

export interface OriginExchangeAnswer {
  statusCode: number;
  headers: Record<string, string | string[]>;
  /** Made on first use. Destroying it before its end aborts the request (the origin connection is closed, not reused). */
  readonly body: Readable;
  /**
   * The whole body when it has already arrived (the exchange is complete, its connection back in the pool) and
   * `body` was never asked for: its chunks, without a stream; else null, and the body is read from `body`.
   */
  wholeBody(): Buffer[] | null;
  /** How the connection the request went on came to be (null: not known). */
  readonly connectionUse: OriginConnectionUse | null;
  /** SHA-256 fingerprint of the origin's certificate on that connection ("" when not known). */
  readonly serverFingerprint256: string;
  /** Milliseconds from the request head handed to the connection to the response head. */
  readonly originMs: number;
}

/**
 * What an exchange's promise settles with, made once per client rather than as closures per request: its value at
 * the response head, and what a failure before the head becomes (a retry's answer, or a throw).
 */
export interface ExchangeSettling<T> {
  answer(answer: OriginExchangeAnswer): T;
  /** Called in a microtask, out of undici's own error handling. */
  recover(error: unknown, exchange: OriginExchange): T | Promise<T>;
}

const AS_IS: ExchangeSettling<OriginExchangeAnswer> = {
  answer: (answer) => answer,
  recover: (error) => {
    throw error;
  },
};

/**
 * Sends one request on `dispatcher`; resolves at the response head, rejects when no response could be had (or as
 * `settling` says: one .then or .catch fewer on the way of every request).
 * @example
 * const answer = await dispatchToOrigin(pool, { hostHeader: "api.internal:9443", basePath: "" }, { method: "GET", path: "/a", headers: {}, body: null });
 */
export function dispatchToOrigin(dispatcher: Dispatcher, target: OriginExchangeTarget, exchange: OriginExchange): Promise<OriginExchangeAnswer>;
export function dispatchToOrigin<T>(dispatcher: Dispatcher, target: OriginExchangeTarget, exchange: OriginExchange, settling: ExchangeSettling<T>): Promise<T>;
export function dispatchToOrigin(dispatcher: Dispatcher, target: OriginExchangeTarget, exchange: OriginExchange, settling: ExchangeSettling<unknown> = AS_IS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const handler = new ExchangeHandler(exchange, settling, resolve, reject);
    try {
      const path = target.basePath === "" ? exchange.path : target.basePath + exchange.path;
      const options: ServerNamedDispatch = { method: exchange.method as Dispatcher.HttpMethod, path, headers: headerList(target.hostHeader ?? forwardedHost(exchange.headers), exchange.headers), body: exchange.body, servername: target.serverName };
      dispatcher.dispatch(options, handler);
    } catch (error) {
      handler.onError(error as Error);
    }
  });
}

/**
 * undici's dispatch options with the server name it reads (core/request.js) but does not type. Without it undici
 * works one out of the Host header for every request (net.isIP's regular expressions) and compares it with the
 * connection's.
 */
export type ServerNamedDispatch = Dispatcher.DispatchOptions & { servername: string };

function recoverFrom(error: unknown, exchange: OriginExchange, settling: ExchangeSettling<unknown>, resolve: (answer: unknown) => void, reject: (error: unknown) => void): void {
  try {
    resolve(settling.recover(error, exchange));
  } catch (failure) {
    reject(failure);
  }
}

/** The viewer's Host as the edge forwards it (forwarded-headers.ts always sets X-Forwarded-Host). */
export function forwardedHost(headers: Readonly<Record<string, string | string[]>>): string {
  const host = headers["x-forwarded-host"];
  return typeof host === "string" ? host : "";
}

/** [name, value, …] with Host first: undici writes the list as it comes, so no object is built for it. */
function headerList(host: string, headers: Readonly<Record<string, string | string[]>>): string[] {
  const list: string[] = ["host", host];
  for (const name in headers) {
    if (name === "host") continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string") list.push(name, value);
    else for (const one of value) list.push(name, one);
  }
  return list;
}

const noop = () => undefined;

// What a response buffers before its stream is made (or read) before undici stops reading its connection: as the stream's own.
const BODY_HIGH_WATER_MARK = 64 * 1024;

class ExchangeHandler implements Dispatcher.DispatchHandler, CancellationListener, OriginConnectionListener {
  connectionUse: OriginConnectionUse | null = null;
  serverFingerprint256 = "";
  /** When undici handed the request to a connection (performance.now()). */
  sentAt = 0;
  private abort: ((reason?: Error) => void) | null = null;
  private resume: () => void = noop;
  private body: OriginBody | null = null;
  /** Chunks that arrived before the body's stream was made: most responses are whole by the time anyone reads them. */
  private early: Buffer[] | null = null;
  private earlyBytes = 0;
  private isComplete = false;
  private isTaken = false;
  /** A failure after the response head, before the stream was made: the stream is made failed. */
  private bodyError: Error | null = null;
  private settled = false;
  /**
   * A 400 that may be nginx's refusal of the client certificate (classify-origin-error.ts): its answer waits for the
   * body's first bytes. A refusal then fails the request as a refusal in the handshake would; any other answer goes on.
   */
  private held: ExchangeAnswer | null = null;
  private reason: Error | null = null;
  private readonly exchange: OriginExchange;
  private readonly settling: ExchangeSettling<unknown>;
  private readonly resolve: (answer: unknown) => void;
  private readonly reject: (error: unknown) => void;

  constructor(exchange: OriginExchange, settling: ExchangeSettling<unknown>, resolve: (answer: unknown) => void, reject: (error: unknown) => void) {
    this.exchange = exchange;
    this.settling = settling;
    this.resolve = resolve;
    this.reject = reject;
    const cancel = exchange.cancel;
    if (cancel?.reason) this.reason = cancel.reason;
    else if (cancel) cancel.listener = this;
  }

  /** The requester left: before the response the request is aborted; after, its body is cut, which aborts it too. */
  cancelled(reason: Error): void {
    this.reason = reason;
    if (this.body) this.body.destroy(reason);
    else this.abort?.(reason);
  }

  /** Nothing left to cut (or the body's stream is cut by its own reader): the requester leaving changes nothing here. */
  private stopListening(): void {
    const cancel = this.exchange.cancel;
    if (cancel?.listener === this) cancel.listener = null;
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.reason) return abort(this.reason);
    this.abort = abort;
    // The head undici writes next, in this same call, is this request's: its connection says how it was made.
    this.sentAt = performance.now();
    expectRequestWrite(this);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) {
      if (statusCode === 103 && this.exchange.onEarlyHints) this.exchange.onEarlyHints(headerObject(rawHeaders));
      return true;
    }
    this.resume = resume;
    this.early = [];
    const headers = headerObject(rawHeaders);
    const answer = new ExchangeAnswer(statusCode, headers, this, performance.now() - this.sentAt);
    if (mayBeRefusalPage(this.exchange.method, statusCode, headers)) {
      this.held = answer;
      return true;
    }
    this.settled = true;
    this.resolve(this.settling.answer(answer));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.body) return this.body.push(chunk);
    if (this.early === null) return true;
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.held !== null && this.earlyBytes >= REFUSAL_PAGE_PREFIX_BYTES && this.heldRefusal() === null) this.release();
    return this.earlyBytes < BODY_HIGH_WATER_MARK;
  }

  /** The refusal page's title when the held answer's body so far starts as one; else null. */
  private heldRefusal(): string | null {
    const held = this.held;
    if (held === null || this.early === null) return null;
    return refusalPageOf(held.statusCode, Buffer.concat(this.early).subarray(0, REFUSAL_PAGE_PREFIX_BYTES).toString("latin1"));
  }

  /** The held answer is not a refusal: it goes on as any other, with the bytes that came meanwhile. */
  private release(): void {
    const held = this.held as ExchangeAnswer;
    this.held = null;
    this.settled = true;
    this.resolve(this.settling.answer(held));
  }

  /** The held answer is nginx's refusal page: the request fails as a refusal of the client certificate. */
  private failAsRefusal(title: string): void {
    this.held = null;
    this.early = null;
    this.settled = true;
    this.stopListening();
    const refusal = new RefusalPageAnswer(title);
    if (this.settling === AS_IS) this.reject(refusal);
    else queueMicrotask(() => recoverFrom(refusal, this.exchange, this.settling, this.resolve, this.reject));
  }

  onComplete(): void {
    if (this.body) return void this.body.push(null);
    if (this.held !== null) {
      const title = this.heldRefusal();
      if (title !== null) return this.failAsRefusal(title);
      this.isComplete = true;
      this.stopListening();
      return this.release();
    }
    this.isComplete = true;
    // Nothing left to abort: a viewer leaving now changes nothing for the origin.
    this.stopListening();
  }

  onError(error: Error): void {
    const body = this.body;
    if (this.held !== null) {
      // A refusal page whose connection closed under it (nginx closes after one) is a refusal all the same.
      const title = this.heldRefusal();
      if (title !== null) return this.failAsRefusal(title);
      // Any other answer was one: it goes on, and its body fails below, as a body that failed after its head does.
      this.release();
    }
    if (!this.settled) {
      this.settled = true;
      this.stopListening();
      if (this.settling === AS_IS) this.reject(error);
      else queueMicrotask(() => recoverFrom(error, this.exchange, this.settling, this.resolve, this.reject));
    } else if (body && !body.destroyed) {
      this.body = null;
      // After what undici has already queued for this body (as its own request() does).
      queueMicrotask(() => body.on("error", noop).destroy(error));
    } else if (!body) {
      this.bodyError = error;
      this.early = null;
      this.stopListening();
    }
    // An upload the origin will not read any more is cut, so that the viewer's side ends too.
    const upload = this.exchange.body;
    if (upload instanceof Readable && !upload.destroyed) upload.on("error", noop).destroy(error);
  }

  /** The body's stream, made once: what arrived so far goes in first. */
  stream(): OriginBody {
    if (this.body) return this.body;
    const body = new OriginBody(this.resume, this.abort ?? noop);
    this.body = body;
    if (this.isTaken) {
      // Its chunks were handed over whole: the stream is empty.
      body.push(null);
      return body;
    }
    if (!this.isComplete && this.bodyError === null && this.exchange.cancel?.listener === this) body.once("close", () => this.stopListening());
    for (const chunk of this.early ?? []) body.push(chunk);
    this.early = null;
    if (this.bodyError) body.on("error", noop).destroy(this.bodyError);
    else if (this.isComplete) body.push(null);
    return body;
  }

  wholeBody(): Buffer[] | null {
    if (this.body || !this.isComplete || this.isTaken || this.early === null) return null;
    this.isTaken = true;
    const chunks = this.early;
    this.early = null;
    return chunks;
  }
}

/** The answer handed back at the response head: its body stream is made only when asked for. */
class ExchangeAnswer implements OriginExchangeAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[]>;
  readonly originMs: number;
  private readonly handler: ExchangeHandler;

  constructor(statusCode: number, headers: Record<string, string | string[]>, handler: ExchangeHandler, originMs: number) {
    this.statusCode = statusCode;
    this.headers = headers;
    this.handler = handler;
    this.originMs = originMs;
  }

  get connectionUse(): OriginConnectionUse | null {
    return this.handler.connectionUse;
  }

  get serverFingerprint256(): string {
    return this.handler.serverFingerprint256;
  }

  get body(): Readable {
    return this.handler.stream();
  }

  wholeBody(): Buffer[] | null {
    return this.handler.wholeBody();
  }
}

/** The response body: reading resumes undici's parser, destroying it before its end aborts the request. */
class OriginBody extends Readable {
  private readonly resumeParser: () => void;
  private readonly abortRequest: (reason?: Error) => void;

  constructor(resumeParser: () => void, abortRequest: (reason?: Error) => void) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    this.resumeParser = resumeParser;
    this.abortRequest = abortRequest;
  }

  override _read(): void {
    this.resumeParser();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.readableEnded) this.abortRequest(error ?? new errors.RequestAbortedError());
    callback(error);
  }
}

/** Raw [name, value, …] buffers as an object with lower-case names; a repeated field becomes a list. */
function headerObject(raw: Buffer[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    // undici's own lookup: a known field name is a constant string (no copy, no lower-casing, no string-table lookup).
    const name = lowerCaseHeaderName(raw[i] as Buffer);
    const value = (raw[i + 1] as Buffer).toString("latin1");
    const existing = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (existing === undefined) {
      // A field named like an Object.prototype member ("__proto__") is an own field like any other.
      if (name === "__proto__") Object.defineProperty(headers, name, { value, enumerable: true, configurable: true, writable: true });
      else headers[name] = value;
    } else if (typeof existing === "string") headers[name] = [existing, value];
    else existing.push(value);
  }
  return headers;
}
