// Answers a viewer from a stored response: Age and Cache-Status, conditional requests (304), byte ranges (206/416), HEAD.

import type { IncomingHttpHeaders } from "node:http";
import { multipartFraming, resolveRanges } from "./byte-ranges.ts";
import type { ByteRange, MultipartFraming } from "./byte-ranges.ts";
import { httpDateMs } from "./freshness.ts";

export interface StoredAnswer {
  status: number;
  headers: Readonly<Record<string, string | string[]>>;
  bodyBytes: number;
}

export type ViewerAnswer =
  | { kind: "full"; status: number; headers: Record<string, string | string[]> }
  | { kind: "not-modified"; headers: Record<string, string | string[]> }
  | { kind: "range"; headers: Record<string, string | string[]>; start: number; end: number }
  | { kind: "multipart"; headers: Record<string, string | string[]>; framing: MultipartFraming }
  | { kind: "unsatisfiable"; headers: Record<string, string | string[]> };

// Fields a 304 doesn't carry (RFC 9110 §15.4.5 lists what it should; these describe a body it has not).
const BODY_FIELDS = ["content-length", "content-range", "transfer-encoding", "content-type", "content-encoding"];

/**
 * Decides what a GET or HEAD gets from a stored (or just received, whole-body) response.
 * @example
 * answerFrom({ status: 200, headers: { etag: '"a"' }, bodyBytes: 10 }, { "if-none-match": '"a"' }, "GET"); // { kind: "not-modified", … }
 */
export function answerFrom(stored: StoredAnswer, request: IncomingHttpHeaders, method: string, isLengthKnown = true, options: { isStored?: boolean; isRangeIgnored?: boolean; isInPlace?: boolean } = {}): ViewerAnswer {
  // isInPlace: the caller gives its headers away (a miss that is not stored): they are changed rather than copied.
  const headers: Record<string, string | string[]> = options.isInPlace ? (stored.headers as Record<string, string | string[]>) : { ...stored.headers };
  if (stored.status === 200 && isNotModified(stored.headers, request, options.isStored === true)) {
    for (const name of BODY_FIELDS) delete headers[name];
    return { kind: "not-modified", headers };
  }
  if (isLengthKnown) headers["content-length"] = String(stored.bodyBytes);
  if (stored.status !== 200 || method !== "GET" || !isLengthKnown) return { kind: "full", status: stored.status, headers };
  headers["accept-ranges"] = "bytes";
  // isRangeIgnored: the request's Range was not asked of the origin, whose whole answer this is (a miss).
  const ranges = options.isRangeIgnored ? null : requestedRanges(request, stored.headers, stored.bodyBytes);
  if (ranges === null) return { kind: "full", status: 200, headers };
  if (ranges === "unsatisfiable") {
    return { kind: "unsatisfiable", headers: { "content-range": `bytes */${stored.bodyBytes}`, "content-length": "0" } };
  }
  if (ranges.length > 1) {
    // RFC 9110 §14.6: several ranges go in one multipart/byteranges body, each part with its Content-Range.
    const framing = multipartFraming(ranges, stored.bodyBytes, single(stored.headers["content-type"]));
    headers["content-type"] = framing.contentType;
    headers["content-length"] = String(framing.bodyBytes);
    return { kind: "multipart", headers, framing };
  }
  const range = ranges[0] as ByteRange;
  headers["content-range"] = `bytes ${range.start}-${range.end}/${stored.bodyBytes}`;
  headers["content-length"] = String(range.end - range.start + 1);
  return { kind: "range", headers, start: range.start, end: range.end };
}

/**
 * RFC 9110 §13.2.2: If-None-Match first (weak comparison); If-Modified-Since only without it. For a stored response,
 * RFC 9111 §4.3.2 compares If-Modified-Since with "the stored response's Last-Modified field value or, if missing,
 * Date field value" (every stored response has a Date: see withDate).
 */
function isNotModified(stored: Readonly<Record<string, string | string[]>>, request: IncomingHttpHeaders, isStored: boolean): boolean {
  const etag = single(stored.etag);
  const ifNoneMatch = request["if-none-match"];
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === "*") return true;
    if (etag === undefined) return false;
    return ifNoneMatch.split(",").some((tag) => weakTag(tag) === weakTag(etag));
  }
  const since = httpDateMs(request["if-modified-since"]);
  // No stored date is parsed for a request without the condition (most hits).
  if (since === null) return false;
  const lastModified = httpDateMs(stored["last-modified"]) ?? (isStored ? httpDateMs(stored.date) : null);
  return lastModified !== null && lastModified <= since;
}

/** RFC 9110 §14.2: the ranges asked for, when If-Range holds (see byte-ranges.ts for what is refused). */
function requestedRanges(request: IncomingHttpHeaders, stored: Readonly<Record<string, string | string[]>>, length: number): ByteRange[] | "unsatisfiable" | null {
  const header = request.range;
  if (header === undefined || !ifRangeHolds(single(request["if-range"]), stored)) return null;
  return resolveRanges(header, length);
}

// §13.1.5: If-Range holds with a strong ETag match or an exact Last-Modified date.
function ifRangeHolds(ifRange: string | undefined, stored: Readonly<Record<string, string | string[]>>): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === single(stored.etag);
  if (value.startsWith("W/")) return false;
  const date = httpDateMs(value);
  return date !== null && date === httpDateMs(stored["last-modified"]);
}

function weakTag(tag: string): string {
  const trimmed = tag.trim();
  return trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The status a ViewerAnswer is sent with. */
export function answerStatus(answer: ViewerAnswer): number {
  if (answer.kind === "full") return answer.status;
  if (answer.kind === "not-modified") return 304;
  return answer.kind === "range" || answer.kind === "multipart" ? 206 : 416;
}
