// RFC 9111 as pure functions of a response, a policy and a time: may it be stored, how long is it fresh, how old is it.

import type { CachePolicyConfig } from "../config/index.ts";
import { deltaSeconds } from "./cache-control.ts";
import type { Directives } from "./cache-control.ts";
import { httpDateMs } from "./http-date.ts";
import { responseDirectives } from "./targeted-cache-control.ts";

export { httpDateMs } from "./http-date.ts";

export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** What the cache decided about a response when it stored it (and again after each 304). */
export interface FreshnessRules {
  /** The freshness lifetime after the behavior's min/default/max TTL were applied. */
  readonly lifetimeMs: number;
  /** no-cache: every use needs a successful revalidation (RFC 9111 §5.2.2.4). */
  readonly isNoCache: boolean;
  /** false under must-revalidate, proxy-revalidate, s-maxage (§5.2.2.2, §5.2.2.8, §5.2.2.10) or no-cache (§4.2.4). */
  readonly mayServeStale: boolean;
  /** RFC 5861 §3: how long past its lifetime it may be served while it is revalidated in the background. */
  readonly staleWhileRevalidateMs: number;
  /** RFC 5861 §4: how long past its lifetime it may be served when the origin fails. */
  readonly staleIfErrorMs: number;
  /** RFC 9111 §3.5: public, s-maxage or must-revalidate make it reusable for requests with Authorization. */
  readonly isReusableWithAuthorization: boolean;
}

/** The clock readings §4.2.3 needs to compute a stored response's age. */
export interface AgeFacts {
  /** When the request that got this response was sent. */
  readonly requestTimeMs: number;
  /** When its headers arrived. */
  readonly responseTimeMs: number;
  /** The Date header, or the response time when there was none (§6.6.1 of RFC 9110). */
  readonly dateMs: number;
  /** The Age header the origin (or a cache before us) sent, in seconds. */
  readonly ageValueS: number;
}

export type StorageDecision = { isStorable: true; rules: FreshnessRules } | { isStorable: false; reason: string };

// RFC 9110 §15.1: "heuristically cacheable" status codes. 206 is one, but this cache stores whole objects only.
const HEURISTIC_STATUSES = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);
// §5.2.2.3 must-understand: the status codes whose caching requirements this cache implements (the heuristically
// cacheable ones and the redirects); a must-understand response with any other status is not stored.
const UNDERSTOOD_STATUSES = new Set([...HEURISTIC_STATUSES, 302, 303, 307]);

/**
 * RFC 9111 §3: may a shared cache store the response to a GET? Also applies the behavior's TTLs.
 * @example
 * decideStorage({ hasAuthorization: false }, { status: 200, headers: { "cache-control": "max-age=60" } }, policy, now);
 * // { isStorable: true, rules: { lifetimeMs: 60000, ... } }
 */
export function decideStorage(
  request: { hasAuthorization: boolean },
  response: { status: number; headers: HeaderMap },
  policy: CachePolicyConfig,
  responseTimeMs: number,
): StorageDecision {
  const { directives: cc, honorsExpires } = responseDirectives(response.headers);
  if (response.status < 200 || response.status === 206 || response.status === 304 || response.status > 599) {
    return { isStorable: false, reason: `status ${response.status}` };
  }
  // §5.2.2.3: "a cache that understands and conforms to the requirements of that status code ... SHOULD ignore the
  // no-store directive" when must-understand is present; any other cache must not store the response.
  const mustUnderstand = cc.has("must-understand");
  if (mustUnderstand && !UNDERSTOOD_STATUSES.has(response.status)) return { isStorable: false, reason: "must-understand" };
  if (cc.has("no-store") && !mustUnderstand) return { isStorable: false, reason: "no-store" };
  // §5.2.2.7: a shared cache MUST NOT store a private response. A qualified private is treated as
  // unqualified (the whole response is private), which the RFC allows and which keeps personal data out.
  if (cc.has("private")) return { isStorable: false, reason: "private" };
  const rules = freshnessRules(response, policy, responseTimeMs);
  if (request.hasAuthorization && !rules.isReusableWithAuthorization) return { isStorable: false, reason: "authorization" };
  // nginx and Varnish do not store a response that sets a cookie: one viewer's session must not reach another.
  if (response.headers["set-cookie"] !== undefined) return { isStorable: false, reason: "set-cookie" };
  if (varyNames(response.headers).includes("*")) return { isStorable: false, reason: "vary-star" };
  const hasExplicit = explicitLifetimeMs(cc, honorsExpires, response.headers, responseTimeMs) !== null;
  const isAllowed = hasExplicit || cc.has("public") || cc.has("no-cache") || HEURISTIC_STATUSES.has(response.status);
  if (!isAllowed) return { isStorable: false, reason: "no-freshness" };
  const hasValidator = response.headers.etag !== undefined || response.headers["last-modified"] !== undefined;
  // A response that is stale at once is only worth keeping for conditional revalidation.
  if (rules.lifetimeMs <= 0 && !(hasValidator && (hasExplicit || rules.isNoCache))) return { isStorable: false, reason: "no-freshness" };
  return { isStorable: true, rules };
}

/** The freshness rules of a response under a behavior's policy (§4.2.1 plus the TTL clamp). */
export function freshnessRules(response: { status: number; headers: HeaderMap }, policy: CachePolicyConfig, responseTimeMs: number): FreshnessRules {
  const { directives: cc, honorsExpires } = responseDirectives(response.headers);
  const explicit = explicitLifetimeMs(cc, honorsExpires, response.headers, responseTimeMs);
  const clamp = (ms: number) => Math.min(Math.max(ms, policy.minTtlMs), policy.maxTtlMs);
  let lifetimeMs: number;
  if (explicit !== null && policy.honorOriginTtl) lifetimeMs = clamp(explicit);
  else if (policy.defaultTtlMs !== null) lifetimeMs = policy.defaultTtlMs;
  else if (explicit !== null) lifetimeMs = clamp(explicit);
  else lifetimeMs = HEURISTIC_STATUSES.has(response.status) || cc.has("public") ? clamp(heuristicLifetimeMs(response.headers, responseTimeMs)) : 0;
  // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit in-protocol directive
  // (e.g., by a no-cache response directive, a must-revalidate response directive, or an applicable s-maxage or
  // proxy-revalidate response directive)". A no-cache response is not even served fresh without revalidation.
  const isStrict = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage") || cc.has("no-cache");
  return sharedRules(
    lifetimeMs,
    cc.has("no-cache"),
    !isStrict,
    (deltaSeconds(cc, "stale-while-revalidate") ?? 0) * 1000,
    (deltaSeconds(cc, "stale-if-error") ?? 0) * 1000,
    cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate"),
  );
}

/*
 * Rules are values (nothing changes them once made), and a cache filled under a few Cache-Control policies has a
 * few distinct ones: each stored entry points at a shared, frozen object rather than holding its own (72 bytes per
 * entry, and one object less for every full collection to mark). Bounded, since heuristic lifetimes (a tenth of the
 * time since Last-Modified) differ per response: past the bound the memo starts again.
 */
const SHARED_RULES_MAX = 4096;
const rulesByFacts = new Map<string, FreshnessRules>();

function sharedRules(lifetimeMs: number, isNoCache: boolean, mayServeStale: boolean, staleWhileRevalidateMs: number, staleIfErrorMs: number, isReusableWithAuthorization: boolean): FreshnessRules {
  const flags = (isNoCache ? 1 : 0) | (mayServeStale ? 2 : 0) | (isReusableWithAuthorization ? 4 : 0);
  const facts = [lifetimeMs, staleWhileRevalidateMs, staleIfErrorMs, flags].join(" ");
  let rules = rulesByFacts.get(facts);
  if (rules === undefined) {
    if (rulesByFacts.size >= SHARED_RULES_MAX) rulesByFacts.clear();
    rules = Object.freeze({ lifetimeMs, isNoCache, mayServeStale, staleWhileRevalidateMs, staleIfErrorMs, isReusableWithAuthorization });
    rulesByFacts.set(facts, rules);
  }
  return rules;
}

/**
 * §4.2.1: s-maxage (shared caches), then max-age, then Expires minus Date. An Expires that is not a
 * valid date means "already expired" (§5.3). null when the response states no lifetime. Expires does
 * not count when a targeted field (CDN-Cache-Control) governs (RFC 9213 §2.1).
 */
function explicitLifetimeMs(cc: Directives, honorsExpires: boolean, headers: HeaderMap, responseTimeMs: number): number | null {
  const sMaxAge = deltaSeconds(cc, "s-maxage");
  if (sMaxAge !== null) return sMaxAge * 1000;
  const maxAge = deltaSeconds(cc, "max-age");
  if (maxAge !== null) return maxAge * 1000;
  const expires = headers.expires;
  if (expires === undefined || !honorsExpires) return null;
  const expiresMs = httpDateMs(expires, responseTimeMs);
  if (expiresMs === null) return 0;
  return Math.max(0, expiresMs - (httpDateMs(headers.date, responseTimeMs) ?? responseTimeMs));
}

/** §4.2.2: "a typical setting of this fraction might be 10%" of the time since Last-Modified. */
function heuristicLifetimeMs(headers: HeaderMap, responseTimeMs: number): number {
  const lastModified = httpDateMs(headers["last-modified"], responseTimeMs);
  if (lastModified === null) return 0;
  const date = httpDateMs(headers.date, responseTimeMs) ?? responseTimeMs;
  return Math.max(0, Math.floor((date - lastModified) / 10));
}

/**
 * §4.2.3, exactly:
 * apparent_age = max(0, response_time - date_value); response_delay = response_time - request_time;
 * corrected_age_value = age_value + response_delay; corrected_initial_age = max(apparent_age, corrected_age_value);
 * resident_time = now - response_time; current_age = corrected_initial_age + resident_time.
 */
export function currentAgeMs(age: AgeFacts, nowMs: number): number {
  const apparentAge = Math.max(0, age.responseTimeMs - age.dateMs);
  const responseDelay = Math.max(0, age.responseTimeMs - age.requestTimeMs);
  const correctedAgeValue = age.ageValueS * 1000 + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  return correctedInitialAge + Math.max(0, nowMs - age.responseTimeMs);
}

/** The AgeFacts of a response received now. */
export function ageFactsOf(headers: HeaderMap, requestTimeMs: number, responseTimeMs: number): AgeFacts {
  // §5.1: "a cache encountering a message with a list-based Age field value SHOULD use the first member of the
  // field value, discarding subsequent ones"; an invalid value is ignored.
  const ageText = (Array.isArray(headers.age) ? headers.age[0] : headers.age)?.split(",")[0]?.trim();
  const ageValueS = ageText !== undefined && /^\d+$/.test(ageText) ? Math.min(Number(ageText), 2_147_483_648) : 0;
  return { requestTimeMs, responseTimeMs, dateMs: httpDateMs(headers.date, responseTimeMs) ?? responseTimeMs, ageValueS };
}

/** Freshness of a stored response at `nowMs`: how much lifetime is left (negative when stale). */
export function remainingMs(rules: FreshnessRules, age: AgeFacts, nowMs: number): number {
  return rules.lifetimeMs - currentAgeMs(age, nowMs);
}

/** The Vary field's names, lowercased. */
const NO_VARY: readonly string[] = Object.freeze([]);
// Bounded, as any memo of what a peer sends.
const namesByVary = new Map<string, readonly string[]>();
const VARY_VALUES = 256;

export function varyNames(headers: HeaderMap): readonly string[] {
  const value = headers.vary;
  const text = Array.isArray(value) ? value.join(",") : value;
  // Most responses have no Vary: one shared empty list; the others have one of a few values, each split once.
  if (!text) return NO_VARY;
  let names = namesByVary.get(text);
  if (names === undefined) {
    names = Object.freeze(text.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean));
    if (namesByVary.size < VARY_VALUES) namesByVary.set(text, names);
  }
  return names;
}
