// Builds a request's cache key from its behavior's policy: distribution, path, the chosen query parameters, headers and cookies, encoding.

import type { IncomingHttpHeaders } from "node:http";
import type { CacheKeyConfig } from "../config/index.ts";

export type ContentCoding = "br" | "gzip" | "identity";

export interface CacheKey {
  readonly distributionId: string;
  /** The path without query: what invalidations match. */
  readonly pathname: string;
  /** Everything that identifies the stored response: distribution, path, key components. */
  readonly text: string;
}

export interface KeyRequest {
  distributionId: string;
  pathname: string;
  /** The raw query string without "?", "" when there is none. */
  query: string;
  headers: IncomingHttpHeaders;
  /** The normalised Accept-Encoding, when the behavior compresses. */
  coding: ContentCoding | null;
  /**
   * More key components from other stages (e.g. a viewer certificate's identity under viewer mTLS),
   * as "name=value" strings; each becomes part of the key.
   */
  extraComponents?: readonly string[];
}

/**
 * A request field as the key and Vary read it. An origin behind CGI, PHP, WSGI or Rack reads `x_tenant`
 * and `x-tenant` as one field, and the edge drops viewers' "_" names by default: so a "_" name the
 * request lacks reads its "-" spelling. That can only split variants the origin would not, never merge ones it would.
 * @example
 * requestField({ "x-tenant": "a" }, "x_tenant"); // "a"
 */
export function requestField(headers: IncomingHttpHeaders, name: string): string | string[] | undefined {
  return headers[name] ?? (name.includes("_") ? headers[name.replaceAll("_", "-")] : undefined);
}

/**
 * @example
 * cacheKey({ distributionId: "shop", pathname: "/a", query: "b=2&a=1", headers: {}, coding: null }, { query: "all", headers: [], cookies: [] }).text;
 * // "shop\n/a\na=1&b=2\n\n\n\n"
 */
export function cacheKey(request: KeyRequest, config: CacheKeyConfig): CacheKey {
  const text = cacheKeyText(request.distributionId, request.pathname, request.query, request.headers, request.coding, request.extraComponents, config);
  return { distributionId: request.distributionId, pathname: request.pathname, text };
}

/**
 * cacheKey's text from the request's parts, without a request object or a key object: the cache computes one per hit.
 * @example
 * cacheKeyText("shop", "/a", "b=2&a=1", {}, null, undefined, { query: "all", headers: [], cookies: [] }); // "shop\n/a\na=1&b=2\n\n\n\n"
 */
export function cacheKeyText(
  distributionId: string,
  pathname: string,
  query: string,
  headers: IncomingHttpHeaders,
  coding: ContentCoding | null,
  extraComponents: readonly string[] | undefined,
  config: CacheKeyConfig,
): string {
  const keyHeaders = config.headers.length === 0 ? "" : config.headers.map((name) => `${name}:${headerText(requestField(headers, name))}`).join("\n\t");
  const extra = extraComponents === undefined || extraComponents.length === 0 ? "" : extraComponents.join("\n\t");
  // A join, not a template: a template makes a tree of a dozen strings (a cons string), kept as such by the tiers'
  // maps for as long as the entry lives, and walked by every lookup's comparison; a join makes one flat string.
  return [distributionId, pathname, keyQuery(query, config.query), keyHeaders, keyCookies(headers.cookie, config.cookies), coding ?? "", extra].join("\n");
}

// Sorting makes ?a=1&b=2 and ?b=2&a=1 one object, as CloudFront does; values keep their encoding.
function keyQuery(query: string, chosen: CacheKeyConfig["query"]): string {
  if (chosen === "none" || query === "") return "";
  const pairs = query.split("&").filter(Boolean);
  const kept = chosen === "all" ? pairs : pairs.filter((pair) => chosen.includes(decodeName(pair.split("=", 1)[0] ?? "")));
  return kept.sort().join("&");
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    return name;
  }
}

function keyCookies(header: string | undefined, names: readonly string[]): string {
  if (names.length === 0 || header === undefined) return "";
  const values = new Map<string, string>();
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    if (names.includes(name) && !values.has(name)) values.set(name, pair.slice(eq + 1).trim());
  }
  return names.map((name) => `${name}=${values.get(name) ?? ""}`).join(";");
}

function headerText(value: string | string[] | undefined): string {
  if (value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * Normalises Accept-Encoding to the one coding the edge would serve, so that the hundreds of
 * variants browsers send make at most three cache entries (CloudFront does the same).
 * RFC 9110 §12.5.3: a coding with q=0 is "not acceptable"; "*" matches any coding not listed.
 * @example
 * normaliseAcceptEncoding("gzip, deflate, br;q=0.9", ["br", "gzip"]); // "br"
 * normaliseAcceptEncoding("gzip;q=0, identity", ["br", "gzip"]);      // "identity"
 */
export function normaliseAcceptEncoding(header: string | string[] | undefined, offered: readonly ("br" | "gzip")[]): ContentCoding {
  const text = Array.isArray(header) ? header.join(",") : header;
  if (!text) return "identity";
  // Viewers send a few distinct values (one per browser family): each is parsed once per list of offered codings.
  let known = codingsByHeader.get(offered);
  if (known === undefined) codingsByHeader.set(offered, (known = new Map()));
  const remembered = known.get(text);
  if (remembered !== undefined) return remembered;
  const coding = parseAcceptEncoding(text, offered);
  // Bounded, as any memo of what a peer sends: a viewer making up values empties it, and each is then parsed again.
  if (known.size >= CODING_MEMO_VALUES) known.clear();
  known.set(text, coding);
  return coding;
}

const CODING_MEMO_VALUES = 256;
// Keyed by the offered list (the config's, frozen, or the cache store's constant): another list may choose otherwise.
const codingsByHeader = new WeakMap<readonly string[], Map<string, ContentCoding>>();

function parseAcceptEncoding(text: string, offered: readonly ("br" | "gzip")[]): ContentCoding {
  const weights = new Map<string, number>();
  for (const member of text.split(",")) {
    const [coding = "", ...params] = member.split(";").map((part) => part.trim().toLowerCase());
    if (coding === "") continue;
    const q = params.find((param) => param.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(coding === "x-gzip" ? "gzip" : coding, Number.isNaN(weight) ? 0 : weight);
  }
  const star = weights.get("*");
  for (const coding of offered) {
    const weight = weights.get(coding) ?? star ?? 0;
    if (weight > 0) return coding;
  }
  return "identity";
}
