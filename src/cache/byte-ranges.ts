// Byte ranges of a stored body (RFC 9110 §14): the Range header's range-set resolved against a length, and multipart/byteranges framing.

import { randomBytes } from "node:crypto";

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

// RFC 9110 §14.2: "a server MAY ignore or reject a Range header field that contains a range-set with more than two
// overlapping ranges, or a set of many small ranges that are not listed in ascending order, since both are
// indications of either a broken client or a deliberate denial-of-service attack". Moat answers such a request
// whole (200): more than this many ranges, or any two that overlap.
export const MAX_RANGES = 16;

/**
 * The satisfiable ranges of `bytes=…` for a body of `length` bytes, in the order asked; "unsatisfiable" when none
 * is (416); null when the header is to be ignored (not bytes, malformed, too many or overlapping ranges: 200).
 * @example
 * resolveRanges("bytes=0-1,5-", 10); // [{ start: 0, end: 1 }, { start: 5, end: 9 }]
 */
export function resolveRanges(header: string, length: number): ByteRange[] | "unsatisfiable" | null {
  const text = header.trim();
  if (!text.toLowerCase().startsWith("bytes=")) return null;
  const specs = text.slice(6).split(",").map((spec) => spec.trim()).filter(Boolean);
  if (specs.length === 0 || specs.length > MAX_RANGES) return null;
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const match = /^(\d*)-(\d*)$/.exec(spec);
    if (!match || (match[1] === "" && match[2] === "")) return null;
    const [, first = "", last = ""] = match;
    if (first === "") {
      // suffix-range: the last N bytes; N = 0 is unsatisfiable.
      const suffix = Number(last);
      if (suffix > 0 && length > 0) ranges.push({ start: Math.max(0, length - suffix), end: length - 1 });
      continue;
    }
    const start = Number(first);
    if (last !== "" && Number(last) < start) return null; // §14.1.1: invalid, so the whole header is ignored
    if (start >= length) continue; // unsatisfiable on its own
    ranges.push({ start, end: last === "" ? length - 1 : Math.min(Number(last), length - 1) });
  }
  if (ranges.length === 0) return "unsatisfiable";
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) if ((sorted[i] as ByteRange).start <= (sorted[i - 1] as ByteRange).end) return null;
  return ranges;
}

/** The framing of a multipart/byteranges body (RFC 9110 §14.6): each part's header, and the closing delimiter. */
export interface MultipartFraming {
  readonly contentType: string;
  readonly parts: readonly { readonly range: ByteRange; readonly head: Buffer }[];
  readonly tail: Buffer;
  readonly bodyBytes: number;
}

/**
 * @example
 * const framing = multipartFraming([{ start: 0, end: 1 }, { start: 5, end: 9 }], 10, "text/plain");
 * // framing.contentType: "multipart/byteranges; boundary=…"
 */
export function multipartFraming(ranges: readonly ByteRange[], length: number, partType: string | undefined): MultipartFraming {
  const boundary = `moat-${randomBytes(12).toString("hex")}`;
  let bodyBytes = 0;
  const parts = ranges.map((range) => {
    const typeLine = partType ? `Content-Type: ${partType}\r\n` : "";
    const head = Buffer.from(`\r\n--${boundary}\r\n${typeLine}Content-Range: bytes ${range.start}-${range.end}/${length}\r\n\r\n`, "latin1");
    bodyBytes += head.length + range.end - range.start + 1;
    return { range, head };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, "latin1");
  bodyBytes += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, bodyBytes };
}
