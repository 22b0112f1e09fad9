// What the cache needs from the edge for one request, and the header work between the cache and the origin.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { CachePolicyConfig } from "../config/index.ts";
import type { ContentCoding } from "./cache-key.ts";
import type { EntryMeta } from "./stored-entry.ts";

export interface OriginAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The whole body's chunks when it has already arrived and `body` was never read; else null (read `body`). */
  wholeBody?(): Buffer[] | null;
  /** For the access log: which origin answered, and why a group failed over. */
  originId: string;
  failedOverBecause: string | null;
  /** Sets the access line's fields on the origin connection (its use, certificates, latency). */
  addLogFields?(fields: Record<string, unknown>): void;
}

/** One viewer request as the cache sees it; the edge builds it (src/edge/pipeline/cache-stage.ts). */
export interface CacheExchange {
  readonly method: string;
  readonly distributionId: string;
  readonly pathname: string;
  /** Without "?"; "" when there is none. */
  readonly query: string;
  /** The Host the viewer sent: Location headers of unsafe requests are matched against it. */
  readonly viewerHost: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly policy: CachePolicyConfig;
  /** More key components from other stages (e.g. a viewer identity): see cache-key.ts. */
  readonly extraKeyComponents?: readonly string[];
  /** The headers the edge would forward to the origin (X-Forwarded-*, Via, no hop-by-hop); built only when asked: a hit never is. */
  originHeaders(): Readonly<Record<string, string | string[]>>;
  /** Sends a request to the behavior's origin (or group) with these headers and no body. */
  fetchOrigin(request: { method: string; headers: Readonly<Record<string, string | string[]>> }): Promise<OriginAnswer>;
  /** The edge's response header policy (Via, hop-by-hop removal), applied to a new object the cache gives away: it may change and return it. */
  viewerHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders;
  readonly res: ServerResponse | Http2ServerResponse;
  /** The origin is an origin shield (another Moat cache): its Cache-Status entry stays on a forwarded response, before this cache's. Read on a miss only. */
  readonly keepsUpstreamCacheStatus?: boolean;
  /** This cache's Cache-Status identifier (cacheStatusNameOf); "moat" when not set. */
  readonly cacheStatusName?: string;
}

// A fill asks for the whole object: the viewer's own conditionals and range are answered from it.
const VIEWER_ONLY = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"];

/** Headers for a request that fills or revalidates the cache; validators of a stored entry make it conditional. */
export function fillHeaders(exchange: CacheExchange, coding: ContentCoding | null, stored?: EntryMeta): Readonly<Record<string, string | string[]>> {
  const forwarded = exchange.originHeaders();
  // The common miss changes nothing (no conditional, no range, the coding asked for as it is): no copy to make.
  if (stored === undefined && isFillAsIs(forwarded, coding)) return forwarded;
  const headers: Record<string, string | string[]> = { ...forwarded };
  for (const name of VIEWER_ONLY) delete headers[name];
  if (coding === "identity") delete headers["accept-encoding"];
  else if (coding !== null) headers["accept-encoding"] = coding;
  if (stored) {
    // RFC 9111 §4.3.1: send the stored validators; an entity tag wins, Last-Modified also goes.
    const etag = stored.headers.etag;
    const lastModified = stored.headers["last-modified"];
    if (typeof etag === "string") headers["if-none-match"] = etag;
    if (typeof lastModified === "string") headers["if-modified-since"] = lastModified;
  }
  return headers;
}

function isFillAsIs(headers: Readonly<Record<string, string | string[]>>, coding: ContentCoding | null): boolean {
  for (const name of VIEWER_ONLY) if (headers[name] !== undefined) return false;
  if (coding === null) return true;
  return coding === "identity" ? headers["accept-encoding"] === undefined : headers["accept-encoding"] === coding;
}

// RFC 9110 §7.6.1 hop-by-hop fields, and RFC 9111 §3.1's proxy-specific ones ("Proxy-Authenticate,
// Proxy-Authentication-Info, and Proxy-Authorization"), which a cache MUST NOT store.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authentication-info", "proxy-authorization"]);

// Origins send the same few Connection values ("keep-alive", "close"): each is split once. Bounded, as any memo of what a peer sends.
const tokensByConnection = new Map<string, ReadonlySet<string>>();
const CONNECTION_VALUES = 64;

function connectionTokens(value: string): ReadonlySet<string> {
  let tokens = tokensByConnection.get(value);
  if (tokens === undefined) {
    tokens = new Set(value.split(",").map((t) => t.trim().toLowerCase()));
    if (tokensByConnection.size < CONNECTION_VALUES) tokensByConnection.set(value, tokens);
  }
  return tokens;
}

/** The origin's end-to-end fields (RFC 9110 §7.6.1), as they are stored. */
export function endToEndHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connection = headers.connection;
  const listed = connectionTokens(Array.isArray(connection) ? connection.join(",") : (connection ?? ""));
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !listed.has(name)) out[name] = value;
  }
  return out;
}

/**
 * RFC 9110 §6.6.1: "A recipient with a clock that receives a response message without a Date header field MUST
 * record the time it was received and append a corresponding Date header field" when it caches or forwards it.
 */
export function withDate(headers: Record<string, string | string[]>, receivedMs: number): Record<string, string | string[]> {
  return headers.date !== undefined ? headers : { ...headers, date: new Date(receivedMs).toUTCString() };
}

// RFC 9111 §3.2: a 304 updates the stored header fields, except those that describe the stored body.
// Set-Cookie too: a response with Set-Cookie is never stored (one viewer's session must not reach another).
const KEPT_ON_UPDATE = new Set(["content-length", "content-encoding", "content-range", "content-type", "transfer-encoding", "set-cookie", "set-cookie2"]);

/** The stored headers updated with a 304's (§4.3.4); a 304's Set-Cookie is dropped, never stored. */
export function mergeNotModified(stored: Readonly<Record<string, string | string[]>>, notModified: Record<string, string | string[]>): Record<string, string | string[]> {
  const merged: Record<string, string | string[]> = { ...stored };
  for (const name in notModified) {
    if (KEPT_ON_UPDATE.has(name)) continue;
    const value = notModified[name];
    if (value === undefined) continue;
    // A representation the edge compressed keeps its weak tag: the origin validates the uncompressed one.
    if (name === "etag" && typeof stored.etag === "string" && stored.etag === `W/${String(value)}`) continue;
    merged[name] = value;
  }
  return merged;
}
