// RFC 9213 targeted cache control: CDN-Cache-Control (and Moat's own Moat-CDN-Cache-Control) override Cache-Control and Expires for this cache.
import { parseDictionary, Token } from "structured-headers";
import { parseCacheControl } from "./cache-control.ts";
import type { Directives } from "./cache-control.ts";

type HeaderValue = string | string[] | undefined;

/**
 * RFC 9213 §2.1: the cache's target list, most specific first. A response can tune Moat apart from
 * other CDNs in front of or behind it (Moat-CDN-Cache-Control), or every CDN at once (CDN-Cache-Control).
 */
export const TARGETED_FIELDS = ["moat-cdn-cache-control", "cdn-cache-control"] as const;

// Directives whose argument is delta-seconds: only an Integer is valid in a targeted field (RFC 9213 §2.1).
const INTEGER_DIRECTIVES = new Set(["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]);

/** The directives that govern this cache, and whether Expires still counts (only when Cache-Control governs). */
export interface GoverningDirectives {
  directives: Directives;
  honorsExpires: boolean;
  /** The field the directives came from. */
  field: "cache-control" | (typeof TARGETED_FIELDS)[number];
}

/**
 * "The cache MUST select the first (in target list order) field with a valid, non-empty value and use
 * its value to determine the caching policy for the response, and it MUST ignore the Cache-Control and
 * Expires header fields in that response, unless no valid, non-empty value is available" (RFC 9213 §2.1).
 * @example
 * responseDirectives({ "cdn-cache-control": "max-age=600", "cache-control": "no-store" }); // directives: { max-age: "600" }, honorsExpires: false
 */
export function responseDirectives(headers: Readonly<Record<string, HeaderValue | string[]>>): GoverningDirectives {
  for (const field of TARGETED_FIELDS) {
    const directives = parseTargeted(headers[field]);
    if (directives) return { directives, honorsExpires: false, field };
  }
  return { directives: parseCacheControl(headers["cache-control"]), honorsExpires: true, field: "cache-control" };
}

/** A targeted field as directives; null when it is absent, empty or not a valid Structured Fields Dictionary (then it is ignored whole). */
function parseTargeted(value: HeaderValue): Directives | null {
  const text = Array.isArray(value) ? value.join(", ") : value;
  if (text === undefined || text.trim() === "") return null;
  let dictionary: ReturnType<typeof parseDictionary>;
  try {
    dictionary = parseDictionary(text);
  } catch {
    return null;
  }
  if (dictionary.size === 0) return null;
  const directives = new Map<string, string | true>();
  for (const [name, member] of dictionary) {
    // Parameters are ignored; an Inner List is no directive's argument.
    const [bare] = member;
    if (Array.isArray(bare)) continue;
    if (INTEGER_DIRECTIVES.has(name)) {
      if (typeof bare === "number" && Number.isInteger(bare) && bare >= 0) directives.set(name, String(bare));
      continue;
    }
    if (bare === true) directives.set(name, true);
    else if (typeof bare === "string") directives.set(name, bare);
    else if (bare instanceof Token) directives.set(name, bare.toString());
    else if (typeof bare === "number") directives.set(name, String(bare));
  }
  return directives;
}
