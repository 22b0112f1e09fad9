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

// Random ids from a pooled buffer: one randomFillSync and one native hex conversion per 4 KiB (256 trace ids), an id
// a slice of that hex string (V8 shares the characters: no copy, no call into native code per id) rather than a
// randomBytes and a toString each. Ids for tracing, not secrets: unpredictable and unique enough, that is all.
const pool = Buffer.allocUnsafeSlow(16 * 256);
let poolHex = "";
let used = pool.length;

/** `bytes` (8 or 16) random bytes as lower-case hex, never all zeros (§3.2.2.3: an all-zero id is invalid). */
function randomHex(bytes: 8 | 16, zero: string): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      poolHex = pool.toString("hex");
      used = 0;
    }
    const start = used * 2;
    used += bytes;
    const hex = poolHex.slice(start, used * 2);
    if (hex !== zero) return hex;
  }
}

/** A new random trace id: 16 bytes as 32 hex digits. */
export function newTraceId(): string {
  return randomHex(16, ZERO_TRACE_ID);
}

/**
 * A new traceparent for `traceId`: version 00, a random 8-byte parent id, flags 01 (sampled: the edge records the
 * request in its access log, and origins that follow their parent's sampling record theirs).
 */
export function newTraceparent(traceId: string = newTraceId()): string {
  return `00-${traceId}-${randomHex(8, ZERO_PARENT_ID)}-01`;
}

/** The edge's own span of the request, when tracing is on (request-tracing.ts): what the trace context takes from it. */
export interface EdgeSpanContext {
  readonly traceId: string;
  /** This span's id as parent-id, and its sampled flag. */
  readonly traceparent: string;
  /** The span continues the viewer's valid traceparent. */
  readonly continuesViewer: boolean;
}

/**
 * One request's trace context, worked out at first use (a cache hit with no access line never asks): the viewer's
 * traceparent and tracestate when the traceparent is valid, else a new traceparent and no tracestate (§3.3.1: a
 * tracestate without a valid traceparent is dropped). With tracing on, the edge is a hop of the trace (§3.2.2.2): the
 * origin's parent is the edge's span, under the same trace id, with the span's sampled flag.
 */
export class RequestTrace {
  readonly #headers: Readonly<Record<string, string | string[] | undefined>>;
  #traceId: string | undefined = undefined;
  #traceparent: string | undefined = undefined;
  #isViewers = false;

  constructor(viewerHeaders: Readonly<Record<string, string | string[] | undefined>>, span?: EdgeSpanContext) {
    this.#headers = viewerHeaders;
    if (span !== undefined) {
      this.#traceId = span.traceId;
      this.#traceparent = span.traceparent;
      this.#isViewers = span.continuesViewer;
    }
  }

  /** The trace id (32 hex digits), for the access line: the viewer's, else a new one (a hit's line needs no parent id). */
  get traceId(): string {
    if (this.#traceId !== undefined) return this.#traceId;
    const sent = this.#headers.traceparent;
    const traceId = validTraceId(sent);
    if (traceId !== null) {
      this.#isViewers = true;
      this.#traceparent = sent as string;
      return (this.#traceId = traceId);
    }
    return (this.#traceId = newTraceId());
  }

  /** What the origin gets as traceparent: the viewer's unchanged when valid, else a new one with this trace id. */
  get traceparent(): string {
    const traceId = this.traceId;
    return (this.#traceparent ??= newTraceparent(traceId));
  }

  /** The viewer's tracestate, passed on with its own traceparent (or the edge's span continuing it) only. */
  get tracestate(): string | string[] | undefined {
    return this.traceId !== "" && this.#isViewers ? this.#headers.tracestate : undefined;
  }
}
