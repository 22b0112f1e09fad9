// W3C Trace Context (https://www.w3.org/TR/trace-context/): the viewer's traceparent checked and passed on, or one made for the request.
import { randomFillSync } from "node:crypto";

// version "-" trace-id "-" parent-id "-" flags, lower-case hex only (§3.2.2); a later version may append "-" and more.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);

/**
 * The trace id of a valid traceparent, else null: version ff, upper case, an all-zero trace or parent id, a
 * version 00 value of any length but 55, or two values joined into one (a repeated header) are invalid.
 * @example
 * validTraceId("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); // "4bf92f3577b34da6a3ce929d0e0e4736"
 */
export function validTraceId(value: string | string[] | undefined): string | null {
  if (typeof value !== "string") return null;
  const match = TRACEPARENT.exec(value);
  if (match === null) return null;
  const [, version, traceId, parentId] = match as unknown as [string, string, string, string];
  if (version === "ff" || (version === "00" && value.length !== 55)) return null;
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return null;
  return traceId;
}

// Random ids from a pooled buffer: one randomFillSync per 170 requests rather than a randomBytes each (a new Buffer
// and a call into OpenSSL per request). Ids for tracing, not secrets: unpredictable and unique enough, that is all.
const ID_BYTES = 24;
const pool = Buffer.allocUnsafeSlow(ID_BYTES * 170);
let used = pool.length;

/**
 * A new traceparent: version 00, a random 16-byte trace id and 8-byte parent id, flags 01 (sampled: the edge
 * records the request in its access log, and origins that follow their parent's sampling record theirs).
 */
export function newTraceparent(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += ID_BYTES;
  // Never all-zero (§3.2.2.3): at 2^-128 odds, but an invalid id must never be sent.
  if (pool.readBigUInt64LE(start) === 0n && pool.readBigUInt64LE(start + 8) === 0n) pool[start] = 1;
  if (pool.readBigUInt64LE(start + 16) === 0n) pool[start + 16] = 1;
  return `00-${pool.toString("hex", start, start + 16)}-${pool.toString("hex", start + 16, start + 24)}-01`;
}

/**
 * One request's trace context, worked out at first use (a cache hit with no access line never asks): the viewer's
 * traceparent and tracestate when the traceparent is valid, else a new traceparent and no tracestate (§3.3.1: a
 * tracestate without a valid traceparent is dropped).
 */
export class RequestTrace {
  readonly #headers: Readonly<Record<string, string | string[] | undefined>>;
  #traceparent: string | undefined = undefined;
  #traceId = "";
  #isViewers = false;

  constructor(viewerHeaders: Readonly<Record<string, string | string[] | undefined>>) {
    this.#headers = viewerHeaders;
  }

  #resolve(): string {
    const sent = this.#headers.traceparent;
    const traceId = validTraceId(sent);
    if (traceId !== null) {
      this.#isViewers = true;
      this.#traceId = traceId;
      return (this.#traceparent = sent as string);
    }
    const made = newTraceparent();
    this.#traceId = made.slice(3, 35);
    return (this.#traceparent = made);
  }

  /** What the origin gets as traceparent. */
  get traceparent(): string {
    return this.#traceparent ?? this.#resolve();
  }

  /** The trace id (32 hex digits), for the access line. */
  get traceId(): string {
    if (this.#traceparent === undefined) this.#resolve();
    return this.#traceId;
  }

  /** The viewer's tracestate, passed on with its own traceparent only. */
  get tracestate(): string | string[] | undefined {
    if (this.#traceparent === undefined) this.#resolve();
    return this.#isViewers ? this.#headers.tracestate : undefined;
  }
}
