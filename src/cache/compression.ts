// Compresses compressible responses for viewers that accept gzip or br, with headers that say so.

import type { Transform } from "node:stream";
import zlib from "node:zlib";
import type { CompressionConfig } from "../config/index.ts";
import type { ContentCoding } from "./cache-key.ts";
import type { HeaderMap } from "./freshness.ts";

/**
 * Should the edge compress this origin response for a viewer whose normalised Accept-Encoding is `coding`?
 * @example
 * shouldCompress(200, { "content-type": "text/css" }, "br", config); // true
 */
export function shouldCompress(status: number, headers: HeaderMap, coding: ContentCoding, config: CompressionConfig): coding is "br" | "gzip" {
  if (coding === "identity" || status !== 200) return false;
  if (headers["content-encoding"] !== undefined && headers["content-encoding"] !== "identity") return false;
  // RFC 9111 §5.2.2.6: no-transform forbids changing the content coding.
  const cc = headers["cache-control"];
  if ((Array.isArray(cc) ? cc.join(",") : (cc ?? "")).toLowerCase().includes("no-transform")) return false;
  const length = Number(headers["content-length"] ?? Number.NaN);
  if (!Number.isNaN(length) && length < config.minBytes) return false;
  return isCompressibleType(headers["content-type"], config.types);
}

function isCompressibleType(contentType: string | string[] | undefined, types: readonly string[]): boolean {
  const text = Array.isArray(contentType) ? contentType[0] : contentType;
  if (!text) return false;
  // Origins send the same few Content-Type values: each is judged once per configured list (a reload makes a new list).
  let verdicts = verdictsByTypes.get(types);
  if (verdicts === undefined) verdictsByTypes.set(types, (verdicts = new Map()));
  let verdict = verdicts.get(text);
  if (verdict === undefined) {
    const type = (text.split(";")[0] ?? "").trim().toLowerCase();
    verdict = types.some((pattern) => (pattern.endsWith("/*") ? type.startsWith(pattern.slice(0, -1)) : type === pattern));
    // Bounded, as any memo of what a peer sends.
    if (verdicts.size < CONTENT_TYPE_VALUES) verdicts.set(text, verdict);
  }
  return verdict;
}

const verdictsByTypes = new WeakMap<readonly string[], Map<string, boolean>>();
const CONTENT_TYPE_VALUES = 256;

/** The compressing stream; brotli at quality 5, a speed/size balance fit for compressing on the fly. */
export function createCompressor(coding: "br" | "gzip", sizeHint: number | null): Transform {
  if (coding === "gzip") return zlib.createGzip({ level: 6 });
  const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 };
  if (sizeHint !== null) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return zlib.createBrotliCompress({ params });
}

/** Headers of the compressed representation: its coding, no length, Vary on Accept-Encoding, a weak ETag. */
export function compressedHeaders(headers: Record<string, string | string[]>, coding: "br" | "gzip"): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = withVaryOnCoding({ ...headers, "content-encoding": coding });
  delete out["content-length"];
  // RFC 9110 §8.8.3: another coding is another representation; a weak tag still validates it.
  const etag = out.etag;
  if (typeof etag === "string" && etag.startsWith('"')) out.etag = `W/${etag}`;
  return out;
}

/**
 * The headers with Accept-Encoding in Vary (RFC 9110 §12.5.5): for a response whose representation depends on the
 * viewer's Accept-Encoding (the edge compresses it for some viewers, or the origin encoded it), so that its
 * variants are stored apart; other responses stay one entry for every viewer.
 */
export function withVaryOnCoding(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const vary = Array.isArray(headers.vary) ? headers.vary.join(", ") : headers.vary;
  if (!vary) return { ...headers, vary: "Accept-Encoding" };
  if (/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) return headers;
  return { ...headers, vary: `${vary}, Accept-Encoding` };
}

/** Whether the edge would compress this response for some viewer, or the origin already encoded it: its representation then varies by Accept-Encoding. */
export function variesByCoding(status: number, headers: HeaderMap, config: CompressionConfig): boolean {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") return true;
  const offered = config.encodings[0];
  return offered !== undefined && shouldCompress(status, headers, offered, config);
}
