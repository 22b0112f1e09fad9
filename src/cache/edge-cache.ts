// The edge's cache: lookup, freshness, collapsed forwarding, revalidation, stale serving and invalidation for GET and HEAD.

import type { CacheStorageConfig } from "../config/index.ts";
import { OriginFailureError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
import { cacheKeyText, normaliseAcceptEncoding } from "./cache-key.ts";
import type { ContentCoding } from "./cache-key.ts";
import type { CacheStatusFacts } from "./cache-status.ts";
import type { CacheStore } from "./cache-store.ts";
import type { Clock } from "./clock.ts";
import type { Collapser, FillOutcome, StreamingFill } from "./collapse.ts";
import { deliverFreshHit, deliverFromOrigin, deliverStored } from "./deliver.ts";
import type { DeliverContext } from "./deliver.ts";
import { deliverFilling } from "./deliver-filling.ts";
import { fillHeaders, mergeNotModified, withDate } from "./exchange.ts";
import type { CacheExchange } from "./exchange.ts";
import { endToEndHeaders } from "./exchange.ts";
import { ageFactsOf, decideStorage, freshnessRules, remainingMs, varyNames } from "./freshness.ts";
import type { InvalidationRules } from "./invalidations.ts";
import type { EntryMeta, StoredEntry } from "./stored-entry.ts";
import type { UncacheableKeys } from "./uncacheable-keys.ts";

export interface EdgeCacheParts {
  storage: CacheStorageConfig;
  store: CacheStore;
  collapser: Collapser;
  /** Keys whose last answer could not be stored: their requests do not wait behind one another. */
  uncacheable: UncacheableKeys;
  rules: InvalidationRules;
  clock: Clock;
  log: Logger;
}

// The access-log fields of a fresh hit from memory: shared, never changed (the caller copies them into its own).
const MEMORY_HIT: Readonly<Record<string, unknown>> = Object.freeze({ cache: "hit", tier: "memory" });

/**
 * Serves a GET or HEAD through the cache; gives fields for the access log. Origin failures it cannot cover with a
 * stale response are thrown (or reject). A fresh entry in memory is answered at once, without waiting on anything:
 * the fields come back as they are, not in a promise, when the response was written whole (a small body, no
 * back-pressure). Everything else takes the path below, which gives a promise.
 */
export function serveThroughCache(parts: EdgeCacheParts, x: CacheExchange): Record<string, unknown> | Promise<Record<string, unknown>> {
  const key = primaryKeyOf(x, x.pathname, x.query);
  const hot = parts.store.lookupInMemory(key, x.requestHeaders);
  if (hot !== null && isUsable(parts, x, hot)) {
    const now = parts.clock.now();
    const remaining = remainingMs(hot.meta.rules, hot.meta.age, now);
    if (remaining > 0 && !hot.meta.rules.isNoCache) {
      const writing = deliverFreshHit(x, hot, remaining, now);
      return writing === undefined ? MEMORY_HIT : writing.then(() => MEMORY_HIT);
    }
  }
  return serveFromStore(parts, x, key);
}

function serveFromStore(parts: EdgeCacheParts, x: CacheExchange, key: string): Promise<Record<string, unknown>> {
  const coding = x.policy.compress ? normaliseAcceptEncoding(x.requestHeaders["accept-encoding"], parts.storage.compression.encodings) : null;
  // Nothing stored (the common miss): no read of the store to wait on, and no async frame around the forward's promise.
  if (parts.store.has(key, x.requestHeaders)) return serveFromEntry(parts, x, key, coding);
  return serveUnstored(parts, x, key, coding);
}

async function serveFromEntry(parts: EdgeCacheParts, x: CacheExchange, key: string, coding: ContentCoding | null): Promise<Record<string, unknown>> {
  const entry = await usableEntry(parts, x, key);
  if (entry) return serveEntry(parts, x, key, coding, entry);
  return serveUnstored(parts, x, key, coding);
}

/** Nothing usable is stored: to the origin, or behind the request for the same key already on its way there. */
function serveUnstored(parts: EdgeCacheParts, x: CacheExchange, key: string, coding: ContentCoding | null): Promise<Record<string, unknown>> {
  // A HEAD that misses goes to the origin as a HEAD: fetching a whole object to answer it could cost a gigabyte.
  if (x.method === "HEAD") return forward(parts, x, key, coding, null, false, { isHit: false, fwd: "uri-miss" });
  // A key whose answers are not stored: waiting behind another request for it would only add its round trip to ours.
  if (parts.uncacheable.isUncacheable(key, parts.clock.now())) return forward(parts, x, key, coding, null, true, { isHit: false, fwd: "uri-miss" });
  const waiting = parts.collapser.pending(key);
  if (waiting) return serveBehind(parts, x, key, coding, waiting);
  return forward(parts, x, key, coding, parts.collapser.begin(key), true, { isHit: false, fwd: "uri-miss" });
}

async function serveBehind(parts: EdgeCacheParts, x: CacheExchange, key: string, coding: ContentCoding | null, waiting: Promise<FillOutcome | StreamingFill | "timeout">): Promise<Record<string, unknown>> {
  parts.log.debug({ distribution: x.distributionId, path: x.pathname }, "waiting for the same request already on its way to the origin");
  const served = await serveCollapsed(parts, x, key, waiting);
  if (typeof served === "object") return served;
  // Uncacheable, or no headers within collapseTimeout: this request goes forward itself (as nginx's proxy_cache_lock does).
  return forward(parts, x, key, coding, null, true, { isHit: false, fwd: "uri-miss", detail: served === "timeout" ? "collapse-timeout" : undefined });
}

async function serveEntry(parts: EdgeCacheParts, x: CacheExchange, key: string, coding: ContentCoding | null, entry: StoredEntry): Promise<Record<string, unknown>> {
  const now = parts.clock.now();
  const remaining = remainingMs(entry.meta.rules, entry.meta.age, now);
  const { rules } = entry.meta;
  if (remaining > 0 && !rules.isNoCache) {
    await deliverFreshHit(x, entry, remaining, now);
    return { cache: "hit", tier: entry.tier };
  }
  // RFC 5861 §3: within stale-while-revalidate, serve it now and revalidate in the background (once: collapsed).
  if (rules.mayServeStale && !rules.isNoCache && -remaining <= rules.staleWhileRevalidateMs) {
    const fill = parts.collapser.begin(key);
    if (fill) void revalidate(parts, x, key, coding, entry, fill, false).catch((error: Error) => parts.log.warn({ error: { message: error.message } }, "background revalidation failed"));
    await deliverStored(x, entry, { isHit: true, ttlS: remaining / 1000, detail: "stale-while-revalidate" }, now);
    return { cache: "hit-stale-while-revalidate", tier: entry.tier };
  }
  const waiting = parts.collapser.pending(key);
  const served = waiting ? await serveCollapsed(parts, x, key, waiting) : null;
  if (typeof served === "object" && served !== null) return served;
  return revalidate(parts, x, key, coding, entry, parts.collapser.begin(key), true);
}

/**
 * RFC 9111 §4.3: a conditional request with the stored validators. A 304 refreshes the stored entry
 * (headers merged, §4.3.4); a 5xx or a failure to reach the origin serves the stale entry when
 * stale-if-error allows (RFC 5861 §4); anything else replaces it. A viewer's HEAD goes as a HEAD (a whole
 * body is not fetched to answer it): its 200 updates the stored GET response when it describes the same
 * representation, and invalidates it otherwise (RFC 9111 §4.3.5).
 */
async function revalidate(
  parts: EdgeCacheParts,
  x: CacheExchange,
  key: string,
  coding: ContentCoding | null,
  entry: StoredEntry,
  fill: ReturnType<Collapser["begin"]>,
  hasViewer: boolean,
): Promise<Record<string, unknown>> {
  const requestTimeMs = parts.clock.now();
  const invalidationMark = parts.rules.mark;
  const isHead = x.method === "HEAD" && hasViewer;
  let answer;
  try {
    answer = await x.fetchOrigin({ method: isHead ? "HEAD" : "GET", headers: fillHeaders(x, coding, entry.meta) });
  } catch (error) {
    fill?.finish("not-stored");
    if (!(error instanceof OriginFailureError) || !hasViewer || !mayServeStaleOnError(parts, entry)) throw error;
    await deliverStored(x, entry, { isHit: true, fwd: "stale", ttlS: remainingS(parts, entry), detail: "stale-if-error" }, parts.clock.now());
    return { cache: "stale-if-error", error: error.code };
  }
  const origin: Record<string, unknown> = { origin: answer.originId, ...(answer.failedOverBecause ? { failover: answer.failedOverBecause } : {}) };
  answer.addLogFields?.(origin);
  const isHeadUpdate = isHead && answer.statusCode === 200 && describesStored(entry.meta, answer.headers);
  if (answer.statusCode === 304 || isHeadUpdate) {
    answer.body.resume();
    const responseTimeMs = parts.clock.now();
    const notModified = withDate(endToEndHeaders(answer.headers), responseTimeMs);
    const headers = mergeNotModified(entry.meta.headers, notModified);
    // The freshened response must itself be storable: a 304 may say private or no-store (§3, §4.3.4).
    const decision = decideStorage({ hasAuthorization: x.requestHeaders.authorization !== undefined }, { status: entry.meta.status, headers }, x.policy, responseTimeMs);
    const rules = decision.isStorable ? decision.rules : freshnessRules({ status: entry.meta.status, headers }, x.policy, responseTimeMs);
    // §4.2.3: the age is the 304's own (its Date and Age); the stored response's old Age no longer applies.
    const meta = { ...entry.meta, headers, rules, age: ageFactsOf(notModified, requestTimeMs, responseTimeMs), invalidationMark };
    if (!decision.isStorable) await parts.store.deletePrimary(key);
    else if (!fill?.isAbandoned) await parts.store.updateMeta(meta);
    fill?.finish(decision.isStorable ? "stored" : "not-stored");
    if (hasViewer) {
      // A Set-Cookie on the 304 is for this viewer only: it goes out with this answer and is not stored.
      const cookie = notModified["set-cookie"];
      const viewerMeta = cookie === undefined ? meta : { ...meta, headers: { ...headers, "set-cookie": cookie } };
      const detail = decision.isStorable ? undefined : decision.reason;
      await deliverStored(x, { meta: viewerMeta, tier: entry.tier, body: entry.body }, { isHit: false, fwd: "stale", fwdStatus: answer.statusCode, ttlS: remainingS(parts, { ...entry, meta }), detail }, parts.clock.now());
    }
    const how = isHeadUpdate ? "head-updated" : "revalidated";
    return { cache: decision.isStorable ? how : `${how}-not-stored`, ...origin };
  }
  // §4.3.5: a HEAD's answer that is not the stored representation (another validator or length, or a status other than 200).
  if (isHead && answer.statusCode < 500) await parts.store.deletePrimary(key);
  if (answer.statusCode >= 500 && hasViewer && mayServeStaleOnError(parts, entry)) {
    answer.body.resume();
    fill?.finish("not-stored");
    await deliverStored(x, entry, { isHit: true, fwd: "stale", fwdStatus: answer.statusCode, ttlS: remainingS(parts, entry), detail: "stale-if-error" }, parts.clock.now());
    return { cache: "stale-if-error", ...origin };
  }
  const delivered = await deliverFromOrigin(deliverContext(parts), {
    primaryKey: key,
    coding,
    answer,
    requestTimeMs,
    invalidationMark,
    fill,
    canStore: true,
    facts: { isHit: false, fwd: "stale" },
    viewer: x,
    hasViewer,
  });
  return { cache: delivered === "miss-stored" ? "refreshed" : "stale-replaced", ...origin };
}

async function forward(
  parts: EdgeCacheParts,
  x: CacheExchange,
  key: string,
  coding: ContentCoding | null,
  fill: ReturnType<Collapser["begin"]>,
  canStore: boolean,
  facts: CacheStatusFacts,
): Promise<Record<string, unknown>> {
  const requestTimeMs = parts.clock.now();
  const invalidationMark = parts.rules.mark;
  let answer;
  try {
    answer = await x.fetchOrigin({ method: x.method, headers: fillHeaders(x, coding) });
  } catch (error) {
    fill?.finish("not-stored");
    throw error;
  }
  const delivering = deliverFromOrigin(deliverContext(parts), { primaryKey: key, coding, answer, requestTimeMs, invalidationMark, fill, canStore, facts, viewer: x, hasViewer: true });
  // A miss delivered at once (not stored, its body whole) is not awaited: no microtask for it.
  const cache = typeof delivering === "string" ? delivering : await delivering;
  const fields: Record<string, unknown> = { cache, origin: answer.originId };
  if (answer.failedOverBecause) fields.failover = answer.failedOverBecause;
  answer.addLogFields?.(fields);
  return fields;
}

/**
 * Waits for the fill this request collapsed behind: streams its body when the fill is storing a response this
 * request may use, or serves the stored entry once it is. Resolves with log fields when it answered the viewer.
 */
async function serveCollapsed(parts: EdgeCacheParts, x: CacheExchange, key: string, waiting: Promise<FillOutcome | StreamingFill | "timeout">): Promise<Record<string, unknown> | FillOutcome | "timeout"> {
  let outcome = await waiting;
  if (typeof outcome === "object") {
    const now = parts.clock.now();
    if (mayUseFill(parts, x, key, outcome, now)) {
      const ttlS = remainingMs(outcome.rules, outcome.age, now) / 1000;
      if (await deliverFilling(x, outcome, { isHit: true, ttlS, isCollapsed: true }, now)) return { cache: "hit-collapsed-streamed" };
    }
    // Not for this request (another variant, Authorization, invalidated), or already committing: wait for the end.
    outcome = await outcome.outcome;
  }
  const filled = outcome === "stored" ? await usableEntry(parts, x, key) : null;
  if (filled && isFresh(parts, filled)) {
    await deliverStored(x, filled, { isHit: true, ttlS: remainingS(parts, filled), isCollapsed: true }, parts.clock.now());
    return { cache: "hit-collapsed" };
  }
  return outcome;
}

/**
 * §4.3.5: does a HEAD's 200 describe the stored GET response? Its validators and length, where both sides have
 * them, must be the same (an entity tag compared weakly: the edge's compressed variants carry a weak one); with
 * nothing to compare, it is not known to, and the stored response is invalidated rather than updated.
 */
function describesStored(stored: EntryMeta, head: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const weak = (tag: string) => tag.replace(/^W\//, "");
  let matched = 0;
  for (const name of ["etag", "last-modified", "content-length"] as const) {
    const mine = stored.headers[name];
    const theirs = head[name];
    if (mine === undefined && theirs === undefined) continue;
    // The edge's compressed variants have no Content-Length of their own: the origin's length says nothing of them.
    if (name === "content-length" && (mine === undefined || theirs === undefined)) continue;
    if (typeof mine !== "string" || typeof theirs !== "string") return false;
    if (name === "etag" ? weak(mine) !== weak(theirs) : mine !== theirs) return false;
    matched++;
  }
  return matched > 0;
}

/** What usableEntry and isFresh would say of the response being filled, once stored. */
function mayUseFill(parts: EdgeCacheParts, x: CacheExchange, key: string, fill: StreamingFill, now: number): boolean {
  const vary = varyNames(fill.headers);
  const ownKey = vary.length > 0 ? parts.store.variantKey(key, vary, x.requestHeaders) : key;
  if (ownKey !== fill.key || fill.isAbandoned()) return false;
  if (parts.rules.isInvalidated(x.distributionId, x.pathname, fill.invalidationMark)) return false;
  if (x.requestHeaders.authorization !== undefined && !fill.rules.isReusableWithAuthorization) return false;
  return !fill.rules.isNoCache && remainingMs(fill.rules, fill.age, now) > 0;
}

/** The stored entry for this request, unless an invalidation or an Authorization header rules it out. */
async function usableEntry(parts: EdgeCacheParts, x: CacheExchange, key: string): Promise<StoredEntry | null> {
  const entry = await parts.store.lookup(key, x.requestHeaders);
  if (!entry) return null;
  if (parts.rules.isInvalidated(x.distributionId, x.pathname, entry.meta.invalidationMark)) {
    // Every worker applies the same rules and deletes it on its own when asked for it: nothing to tell the others.
    await parts.store.deletePrimary(key, "here");
    return null;
  }
  return isUsable(parts, x, entry) ? entry : null;
}

/** Neither invalidated nor ruled out by the request's Authorization (an invalidated entry is deleted by usableEntry). */
function isUsable(parts: EdgeCacheParts, x: CacheExchange, entry: StoredEntry): boolean {
  if (parts.rules.isInvalidated(x.distributionId, x.pathname, entry.meta.invalidationMark)) return false;
  // RFC 9111 §3.5: a response is reused for a request with Authorization only when it says it may be.
  return x.requestHeaders.authorization === undefined || entry.meta.rules.isReusableWithAuthorization;
}

/** RFC 5861 §4, unless must-revalidate, proxy-revalidate, s-maxage or no-cache forbid stale responses (§4.2.4). */
function mayServeStaleOnError(parts: EdgeCacheParts, entry: StoredEntry): boolean {
  const { rules } = entry.meta;
  // isNoCache too: a disk entry stored before no-cache cleared mayServeStale still has it set.
  return rules.mayServeStale && !rules.isNoCache && -remainingMs(rules, entry.meta.age, parts.clock.now()) <= rules.staleIfErrorMs;
}

function isFresh(parts: EdgeCacheParts, entry: StoredEntry): boolean {
  return !entry.meta.rules.isNoCache && remainingMs(entry.meta.rules, entry.meta.age, parts.clock.now()) > 0;
}

function remainingS(parts: EdgeCacheParts, entry: StoredEntry): number {
  return remainingMs(entry.meta.rules, entry.meta.age, parts.clock.now()) / 1000;
}

/**
 * The key without the content coding: the coding belongs to a variant only when one really is encoded. A response
 * the edge compresses, or one that could be, says Vary: Accept-Encoding (see deliver.ts), and its variants are keyed
 * by the normalised Accept-Encoding; any other response is one entry, so that a Range request or an
 * `Accept-Encoding: identity` viewer finds the whole uncompressed object whatever encodings others asked for.
 */
export function primaryKeyOf(x: Pick<CacheExchange, "distributionId" | "requestHeaders" | "policy" | "extraKeyComponents">, pathname: string, query: string): string {
  return cacheKeyText(x.distributionId, pathname, query, x.requestHeaders, null, x.extraKeyComponents, x.policy.key);
}

/** Made once per cache, not per miss (its nowMs is a closure). */
function deliverContext(parts: EdgeCacheParts): DeliverContext {
  let context = deliverContexts.get(parts);
  if (context === undefined) {
    context = { store: parts.store, compression: parts.storage.compression, nowMs: () => parts.clock.now(), uncacheable: parts.uncacheable };
    deliverContexts.set(parts, context);
  }
  return context;
}

const deliverContexts = new WeakMap<EdgeCacheParts, DeliverContext>();
