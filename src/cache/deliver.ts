// Streams responses to the viewer: from the origin while storing them (with optional compression), or from a stored entry.

import type { OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { CompressionConfig } from "../config/index.ts";
import type { ContentCoding } from "./cache-key.ts";
import { afterUpstream, cacheStatusHeaders, DEFAULT_CACHE_STATUS_NAME } from "./cache-status.ts";
import type { CacheStatusFacts } from "./cache-status.ts";
import type { CacheStore } from "./cache-store.ts";
import type { Fill } from "./collapse.ts";
import { compressedHeaders, createCompressor, shouldCompress, variesByCoding, withVaryOnCoding } from "./compression.ts";
import { endToEndHeaders, withDate } from "./exchange.ts";
import type { CacheExchange, OriginAnswer } from "./exchange.ts";
import { ageFactsOf, currentAgeMs, decideStorage, varyNames } from "./freshness.ts";
import type { EntryMeta, PreparedHead, StoredEntry } from "./stored-entry.ts";
import type { UncacheableKeys } from "./uncacheable-keys.ts";
import { answerFrom, answerStatus } from "./viewer-answer.ts";

export interface DeliverContext {
  store: CacheStore;
  compression: CompressionConfig;
  nowMs(): number;
  /** Told which keys' answers could not be stored whoever asked, and which could. */
  uncacheable?: UncacheableKeys;
}

export interface OriginDelivery {
  primaryKey: string;
  coding: ContentCoding | null;
  answer: OriginAnswer;
  requestTimeMs: number;
  invalidationMark: number;
  /** This request's registration as the one that fills the key; null when it does not collapse others. */
  fill: Fill | null;
  canStore: boolean;
  facts: CacheStatusFacts;
  /** null: nobody is waiting (a background revalidation); the body is only stored. */
  viewer: CacheExchange;
  hasViewer: boolean;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

// A miss answers the whole response: the viewer's Range was not sent to the origin (a fill asks for the whole object).
const IGNORING_RANGE = Object.freeze({ isRangeIgnored: true });
const IGNORING_RANGE_IN_PLACE = Object.freeze({ isRangeIgnored: true, isInPlace: true });

/**
 * Sends the origin's answer on to the viewer and, when it may be stored, into the store at the same
 * pace (the slower of the two sets it). A body cut short is never stored and cuts the viewer's response.
 * Gives a description for the access log: at once when the answer is not stored and its body had already arrived
 * whole (the common miss: no promise, no stream), else in a promise that settles when the body has gone through.
 */
export function deliverFromOrigin(ctx: DeliverContext, delivery: OriginDelivery): string | Promise<string> {
  const { answer, viewer: x } = delivery;
  const responseTimeMs = ctx.nowMs();
  const originHeaders = withDate(endToEndHeaders(answer.headers), responseTimeMs);
  const coding = delivery.coding;
  const isCompressing = x.method === "GET" && coding !== null && x.policy.compress && shouldCompress(answer.statusCode, originHeaders, coding, ctx.compression);
  const compressTo = isCompressing ? (coding as "br" | "gzip") : null;
  const varies = coding !== null && x.policy.compress && variesByCoding(answer.statusCode, originHeaders, ctx.compression);
  const headers = compressTo ? compressedHeaders(originHeaders, compressTo) : varies ? withVaryOnCoding(originHeaders) : originHeaders;
  const declaredLength = isCompressing ? null : lengthOf(headers);
  const decision = delivery.canStore && x.method === "GET" ? decideStorage({ hasAuthorization: x.requestHeaders.authorization !== undefined }, { status: answer.statusCode, headers }, x.policy, responseTimeMs) : null;
  const writer = decision?.isStorable && !delivery.fill?.isAbandoned ? ctx.store.openWriter(declaredLength) : null;
  // Before the waiting requests are released: those that come after this answer do not wait behind the next one.
  if (decision?.isStorable) ctx.uncacheable?.forget(delivery.primaryKey);
  else if (decision && decision.reason !== "authorization") ctx.uncacheable?.mark(delivery.primaryKey, responseTimeMs);
  if (!writer) delivery.fill?.finish("not-stored");
  // The entry's own key is for storing: an answer that is not stored does without it.
  const vary = writer ? varyNames(headers) : NO_NAMES;
  const fullKey = vary.length > 0 ? ctx.store.variantKey(delivery.primaryKey, vary, x.requestHeaders) : delivery.primaryKey;
  if (writer?.filling && decision?.isStorable && delivery.fill) {
    // Those collapsed behind this fill are released now and read the body as it is stored (see filling-body.ts).
    const age = ageFactsOf(headers, delivery.requestTimeMs, responseTimeMs);
    const stream = { key: fullKey, status: answer.statusCode, headers, rules: decision.rules, age, bodyBytes: declaredLength, invalidationMark: delivery.invalidationMark };
    delivery.fill.publish({ ...stream, body: writer.filling });
  }

  const res = x.res;
  let sendsBody = false;
  if (delivery.hasViewer) {
    // Headers nobody else holds (nothing stored or published) are answered in place, without another copy.
    const isOwnCopy = writer === null && headers !== answer.headers;
    const viewerAnswer = answerFrom({ status: answer.statusCode, headers, bodyBytes: declaredLength ?? 0 }, x.requestHeaders, x.method, declaredLength !== null, isOwnCopy ? IGNORING_RANGE_IN_PLACE : IGNORING_RANGE);
    // RFC 9211 §2.5 "stored" says the cache stored the response; these headers go out before the body is
    // whole, when nothing is stored yet (the body may be cut, the disk may fail). "detail=storing" says what is
    // true now; the access log says how it ended ("miss-stored"), and the next request's Cache-Status says "hit".
    const detail = writer ? "storing" : decision && !decision.isStorable ? decision.reason : decision ? "too-large" : undefined;
    const facts = delivery.facts;
    // A literal of one shape rather than a spread of the facts: this runs for every miss.
    const status = cacheStatusHeaders({ isHit: facts.isHit, fwd: facts.fwd, fwdStatus: answer.statusCode, ttlS: facts.ttlS, isStored: facts.isStored, isCollapsed: facts.isCollapsed, detail: facts.detail ?? detail }, x.cacheStatusName);
    const viewerHeaders = viewerAnswer.headers;
    viewerHeaders["cache-status"] = x.keepsUpstreamCacheStatus ? afterUpstream(originHeaders["cache-status"], status["cache-status"]) : status["cache-status"];
    viewerHeaders["x-cache"] = status["x-cache"];
    (res as import("node:http").ServerResponse).writeHead(answerStatus(viewerAnswer), x.viewerHeaders(viewerHeaders));
    sendsBody = x.method !== "HEAD" && viewerAnswer.kind === "full";
  }
  // A body that has already arrived whole is taken as its chunks: no stream is made to read it (see origin-dispatch.ts).
  const whole = compressTo ? null : (answer.wholeBody?.() ?? null);
  if (whole !== null && writer === null) {
    // Nothing to store and nothing to wait for: the body goes out at once, its last chunk with the end (one write
    // for a small body: head, body and end corked together), with no promise per chunk.
    if (delivery.hasViewer && !res.destroyed && !res.writableEnded) endWithChunks(res, sendsBody ? whole : []);
    return "miss";
  }
  return streamBody(delivery, { store: ctx.store, res, writer, decision, headers, declaredLength, compressTo, originHeaders, sendsBody, whole, fullKey, vary, responseTimeMs });
}

/** What deliverFromOrigin decided at the response head, for the body's way through. */
interface DeliveryPlan {
  store: CacheStore;
  res: CacheExchange["res"];
  writer: ReturnType<CacheStore["openWriter"]> | null;
  decision: ReturnType<typeof decideStorage> | null;
  headers: Record<string, string | string[]>;
  declaredLength: number | null;
  compressTo: "br" | "gzip" | null;
  originHeaders: Record<string, string | string[]>;
  sendsBody: boolean;
  whole: Buffer[] | null;
  fullKey: string;
  vary: readonly string[];
  responseTimeMs: number;
}

/** The body chunk by chunk, to the viewer and into the store at the pace of the slower; the entry committed before the viewer's last byte. */
async function streamBody(delivery: OriginDelivery, plan: DeliveryPlan): Promise<string> {
  const { answer } = delivery;
  const { res, writer, decision, headers, declaredLength, compressTo, originHeaders, sendsBody, whole, fullKey, vary, responseTimeMs } = plan;
  const source: Readable | null = whole ? null : compressTo ? compressStream(answer.body, compressTo, lengthOf(originHeaders)) : answer.body;
  let bytes = 0;
  // While storing, the last chunk reaches the viewer only after the commit: a viewer knows a response is whole
  // from its last byte (Content-Length), and may repeat the request at once; the entry must be there by then.
  let held: Buffer | null = null;
  // Nobody left to send it to, and nothing to store: the rest of the body is not read.
  let isLeft = false;
  try {
    for await (const chunk of whole ?? (source as AsyncIterable<Buffer>)) {
      bytes += chunk.length;
      const isViewerGone = !delivery.hasViewer || res.destroyed || res.writableEnded;
      if (isViewerGone && !writer?.isStoring) {
        source?.destroy();
        isLeft = true;
        break;
      }
      const isStoring = writer?.isStoring === true;
      const toViewer: Buffer | null = isStoring ? held : chunk;
      held = isStoring ? chunk : null;
      // The declared last byte ends the response in the same write: a separate end() costs an empty TLS write.
      const isLast = !isStoring && declaredLength !== null && bytes === declaredLength;
      const canWrite = sendsBody && !isViewerGone && toViewer !== null;
      const viewerWrite = canWrite && isLast ? endWith(res, toViewer) : canWrite ? writeToViewer(res, toViewer) : undefined;
      const storeWrite = isStoring ? writer.write(chunk) : undefined;
      // One await per chunk at most, and no Promise.all unless both sides wait.
      if (viewerWrite && storeWrite) await Promise.all([viewerWrite, storeWrite]);
      else if (viewerWrite ?? storeWrite) await (viewerWrite ?? storeWrite);
      // A writer that stopped storing (too large, a disk error with nothing to feed) releases what it held back.
      if (held && !writer?.isStoring) {
        if (sendsBody && !res.destroyed && !res.writableEnded) await writeToViewer(res, held);
        held = null;
      }
    }
    // A body taken whole is as long as undici let it be (it checks Content-Length; a HEAD's has none).
    if (declaredLength !== null && bytes !== declaredLength && !isLeft && source !== null && !source.destroyed) throw new Error(`origin body ended after ${bytes} of ${declaredLength} bytes`);
  } catch (error) {
    writer?.abort();
    delivery.fill?.finish("not-stored");
    if (delivery.hasViewer) res.destroy();
    throw error;
  }
  // Nothing to wait for: the last chunk goes with the end.
  const endViewer = () => {
    if (!delivery.hasViewer || res.destroyed || res.writableEnded) return;
    endWith(res, sendsBody ? held : null);
  };
  if (!writer || !writer.isStoring || delivery.fill?.isAbandoned || !decision?.isStorable) {
    writer?.abort();
    delivery.fill?.finish("not-stored");
    endViewer();
    return "miss";
  }
  const rules = decision.rules;
  const meta = await writer.commit((body) => ({
    key: fullKey,
    primaryKey: delivery.primaryKey,
    status: answer.statusCode,
    headers,
    rules,
    age: ageFactsOf(headers, delivery.requestTimeMs, responseTimeMs),
    vary: vary.length > 0 ? { names: vary } : null,
    bodyBytes: body.bytes,
    bodySha256: body.sha256,
    invalidationMark: delivery.invalidationMark,
  })).catch(() => null);
  delivery.fill?.finish(meta ? "stored" : "not-stored");
  // The entry is committed before the response's last byte: a viewer that repeats the request at once finds it
  // (a no-cache response is then revalidated, not fetched again as if it were never stored).
  endViewer();
  if (meta) prepareFirstHead(delivery.viewer, plan.store.peekInMemory(meta.key), meta);
  return meta ? "miss-stored" : "miss";
}

/**
 * Serves a stored entry: Age and Cache-Status added, conditionals and ranges answered, HEAD without a body. Gives
 * undefined when the response was written whole at once (no conditional, no range, a body in memory that went out
 * without back-pressure), else a promise that settles when it has been.
 */
export function deliverStored(x: CacheExchange, entry: StoredEntry, facts: CacheStatusFacts, nowMs: number): Promise<void> | undefined {
  const request = x.requestHeaders;
  if (request.range !== undefined || request["if-none-match"] !== undefined || request["if-modified-since"] !== undefined) return deliverAnswered(x, entry, facts, nowMs);
  // Neither a conditional nor a range: the answer is the whole stored response, whose head is prepared once.
  const res = x.res as import("node:http").ServerResponse;
  res.writeHead(entry.meta.status, storedHead(preparedHead(entry, x.method, x.viewerHeaders), entry.meta, facts, nowMs, x.cacheStatusName));
  return sendStored(x, entry);
}

/**
 * deliverStored for a fresh hit (`remainingMs` > 0 of freshness left): its Cache-Status (`<name>; hit; ttl=N`) and
 * Age are texts shared by every entry (see freshHitStatus and ageText), not made per hit.
 */
export function deliverFreshHit(x: CacheExchange, entry: StoredEntry, remainingMs: number, nowMs: number): Promise<void> | undefined {
  const request = x.requestHeaders;
  if (request.range !== undefined || request["if-none-match"] !== undefined || request["if-modified-since"] !== undefined) return deliverAnswered(x, entry, { isHit: true, ttlS: remainingMs / 1000 }, nowMs);
  const head = preparedHeadOf(entry, x.method, x.viewerHeaders);
  const headers = { ...head.headers };
  headers.age = ageText(Math.floor(currentAgeMs(entry.meta.age, nowMs) / 1000));
  headers["cache-status"] = freshHitStatus(x.cacheStatusName ?? DEFAULT_CACHE_STATUS_NAME, Math.floor(remainingMs / 1000));
  headers["x-cache"] = HIT_X_CACHE;
  (x.res as import("node:http").ServerResponse).writeHead(entry.meta.status, headers);
  return sendStored(x, entry);
}

const HIT_X_CACHE = cacheStatusHeaders({ isHit: true }, DEFAULT_CACHE_STATUS_NAME)["x-cache"];

/*
 * Texts a hit sends that depend on a number of seconds and nothing of the entry. Kept on the entry, as they were, a
 * cache too large for each entry to be hit every second made new ones nearly every hit, each a young string hung on
 * an old entry (remembered by the next scavenges, then promoted): shared, they are made once per value in use.
 */
const TEXTS_PER_MEMO = 4096;
const hitStatusTexts = new Map<string, Map<number, string>>();
const ageTexts: string[] = [];

/** `<name>; hit; ttl=<ttlS>`, as cacheStatusHeaders makes it. */
function freshHitStatus(name: string, ttlS: number): string {
  let byTtl = hitStatusTexts.get(name);
  if (byTtl === undefined) {
    // Identifiers are the config's (one per distribution at most); past the bound, start again rather than grow.
    if (hitStatusTexts.size >= TEXTS_PER_MEMO) hitStatusTexts.clear();
    hitStatusTexts.set(name, (byTtl = new Map()));
  }
  let text = byTtl.get(ttlS);
  if (text === undefined) {
    if (byTtl.size >= TEXTS_PER_MEMO) byTtl.clear();
    text = cacheStatusHeaders({ isHit: true, ttlS }, name)["cache-status"];
    byTtl.set(ttlS, text);
  }
  return text;
}

/** Age's value (RFC 9111 §5.1, whole seconds) as text: the first hour's texts are kept. */
function ageText(ageS: number): string {
  // Whole seconds from 0 only index the list (anything else would make it a dictionary).
  if (!(ageS >= 0 && ageS < TEXTS_PER_MEMO)) return String(ageS);
  return (ageTexts[ageS] ??= String(ageS));
}

/** The body of a whole stored response after its head: none for a HEAD. */
function sendStored(x: CacheExchange, entry: StoredEntry): Promise<void> | undefined {
  if (x.method === "HEAD") {
    x.res.end();
    return undefined;
  }
  return sendStoredBody(x.res, entry);
}

/**
 * The head of a stored response as a viewer's plain GET or HEAD gets it (no conditional, no range), less what
 * changes per request: made once per stored metadata, method and header policy (the function, one per HTTP
 * version: see cache-stage.ts). Age, Cache-Status and X-Cache are there, empty, so that the copy a hit fills in has
 * its fields in the order answerFrom and viewerHeaders give.
 */
export function preparedHead(entry: StoredEntry, method: string, viewerHeaders: CacheExchange["viewerHeaders"]): Readonly<OutgoingHttpHeaders> {
  return preparedHeadOf(entry, method, viewerHeaders).headers;
}

function preparedHeadOf(entry: StoredEntry, method: string, viewerHeaders: CacheExchange["viewerHeaders"]): PreparedHead {
  const meta = entry.meta;
  // On the entry when its tier keeps the same object for every hit (no WeakMap entry per cached key for the GC to walk).
  const isKeptOnEntry = "heads" in entry;
  const heads = isKeptOnEntry ? entry.heads : preparedHeads.get(meta);
  if (heads !== undefined) {
    if (!Array.isArray(heads)) {
      if (isHeadFor(heads, meta, method, viewerHeaders)) return heads;
    } else for (const head of heads) if (isHeadFor(head, meta, method, viewerHeaders)) return head;
  }
  const answer = answerFrom(meta, {}, method, true, { isStored: true });
  const headers = Object.freeze(viewerHeaders(Object.assign(answer.headers, { age: "", "cache-status": "", "x-cache": "" })));
  const head: PreparedHead = { meta, method, viewerHeaders, headers };
  // A handful at most per entry (GET and HEAD, over HTTP/1.1 and HTTP/2), most often one: the head itself until a
  // second is made (a list of one cost each of a million entries two more objects, and a hit two more reads).
  if (Array.isArray(heads)) heads.push(head);
  else {
    const kept = heads === undefined ? head : [heads, head];
    if (isKeptOnEntry) entry.heads = kept;
    else preparedHeads.set(meta, kept);
  }
  return head;
}

/** The meta too: an entry spread with other metadata ({ ...entry, meta }) must not find the heads of the stored one. */
function isHeadFor(head: PreparedHead, meta: EntryMeta, method: string, viewerHeaders: CacheExchange["viewerHeaders"]): boolean {
  return head.meta === meta && head.method === method && head.viewerHeaders === viewerHeaders;
}

/**
 * Makes the head the next hits will send (this request's method and HTTP version: most hits ask as the fill did) while
 * the fill's own objects are being made. Made at the first hit instead, it is one more piece of young memory hung on an
 * old entry: remembered by every scavenge until promoted, and at a million entries mostly first hits (a cache that
 * cannot keep every key hot), each one adding to the old generation that the next full collection marks.
 */
function prepareFirstHead(x: CacheExchange, entry: StoredEntry | null, meta: EntryMeta): void {
  if (entry?.meta === meta) preparedHeadOf(entry, x.method, x.viewerHeaders);
}

// Entries made for one response (the disk tier's): keyed by the metadata object, which a 304 or a new fill replaces,
// so a prepared head never outlives what it says.
const preparedHeads = new WeakMap<EntryMeta, PreparedHead | PreparedHead[]>();

/** A prepared head with this request's Age, Cache-Status and X-Cache. */
export function storedHead(prepared: Readonly<OutgoingHttpHeaders>, meta: EntryMeta, facts: CacheStatusFacts, nowMs: number, cacheStatusName?: string): OutgoingHttpHeaders {
  const headers = { ...prepared };
  const status = cacheStatusHeaders(facts, cacheStatusName);
  headers.age = String(Math.floor(currentAgeMs(meta.age, nowMs) / 1000));
  headers["cache-status"] = status["cache-status"];
  headers["x-cache"] = status["x-cache"];
  return headers;
}

/** The whole stored body, ended: at once when it is in memory and the socket takes it, else streamed. */
function sendStoredBody(res: CacheExchange["res"], entry: StoredEntry): Promise<void> | undefined {
  if (!entry.body.chunks) return pipeline(entry.body.stream(), res);
  const text = entry.body.text;
  if (text !== undefined) {
    // Head and body in one string, one write (Node's http joins a first string chunk to the head).
    if (!res.destroyed) (res as import("node:http").ServerResponse).end(text, "latin1");
    return undefined;
  }
  const chunks = entry.body.chunks();
  // The last chunk goes with end(): one write for a small body (head, body and end corked together).
  for (let index = 0; index < chunks.length - 1; index++) {
    if (res.destroyed) return undefined;
    const waiting = writeToViewer(res, chunks[index] as Buffer);
    if (waiting) return waiting.then(() => sendChunks(res, chunks, index + 1));
  }
  if (!res.destroyed) endWith(res, chunks[chunks.length - 1]);
  return undefined;
}

async function sendChunks(res: CacheExchange["res"], chunks: readonly Buffer[], from: number): Promise<void> {
  for (let index = from; index < chunks.length - 1; index++) {
    if (res.destroyed) return;
    await writeToViewer(res, chunks[index] as Buffer);
  }
  if (!res.destroyed) endWith(res, chunks[chunks.length - 1]);
}

/** deliverStored for a request with a conditional or a range: answerFrom decides what it gets. */
async function deliverAnswered(x: CacheExchange, entry: StoredEntry, facts: CacheStatusFacts, nowMs: number): Promise<void> {
  const answer = answerFrom(entry.meta, x.requestHeaders, x.method, true, { isStored: true });
  // answerFrom made a fresh copy: Age and Cache-Status go into it rather than into another one.
  const headers = Object.assign(answer.headers, { age: String(Math.floor(currentAgeMs(entry.meta.age, nowMs) / 1000)) }, cacheStatusHeaders(facts, x.cacheStatusName));
  const res = x.res;
  (res as import("node:http").ServerResponse).writeHead(answerStatus(answer), x.viewerHeaders(headers));
  if (x.method === "HEAD" || answer.kind === "not-modified" || answer.kind === "unsatisfiable") {
    res.end();
    return;
  }
  if (answer.kind === "multipart") {
    for (const part of answer.framing.parts) {
      if (res.destroyed) return;
      await writeToViewer(res, part.head);
      await writeBody(res, entry, part.range);
    }
    if (!res.destroyed) res.end(answer.framing.tail);
    return;
  }
  const range = answer.kind === "range" ? { start: answer.start, end: answer.end } : undefined;
  if (entry.body.chunks) {
    // The last chunk goes with end(): one write for a small body (head, body and end corked together).
    let previous: Buffer | undefined;
    for (const chunk of entry.body.chunks(range)) {
      if (res.destroyed) return;
      if (previous) await writeToViewer(res, previous);
      previous = chunk;
    }
    if (!res.destroyed) endWith(res, previous);
    return;
  }
  await pipeline(entry.body.stream(range), res);
}

/** One part of a multipart body: from memory without a stream, else streamed from the tier, without ending the response. */
async function writeBody(res: CacheExchange["res"], entry: StoredEntry, range: { start: number; end: number }): Promise<void> {
  if (entry.body.chunks) {
    for (const chunk of entry.body.chunks(range)) if (!res.destroyed) await writeToViewer(res, chunk);
    return;
  }
  for await (const chunk of entry.body.stream(range) as AsyncIterable<Buffer>) {
    if (res.destroyed) return;
    await writeToViewer(res, chunk);
  }
}

function compressStream(body: Readable, coding: "br" | "gzip", sizeHint: number | null): Readable {
  const compressor = createCompressor(coding, sizeHint);
  body.on("error", (error) => compressor.destroy(error));
  return body.pipe(compressor);
}

function lengthOf(headers: Readonly<Record<string, string | string[]>>): number | null {
  const value = headers["content-length"];
  if (typeof value !== "string" || value.length === 0) return null;
  // Digits only (what /^\d+$/ says), checked without a regular expression: this runs for every miss.
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 48 || code > 57) return null;
  }
  return Number(value);
}

/** Writes the chunks and ends the response with the last one; what the socket does not take at once is buffered (the chunks are in memory already). */
function endWithChunks(res: CacheExchange["res"], chunks: readonly Buffer[]): void {
  const last = chunks.length - 1;
  for (let index = 0; index < last; index++) (res as import("node:http").ServerResponse).write(chunks[index] as Buffer);
  endWith(res, last >= 0 ? chunks[last] : null);
}

/** Ends the response, with its last chunk when there is one. Always undefined: nothing to wait for. */
function endWith(res: CacheExchange["res"], chunk: Buffer | null | undefined): undefined {
  if (chunk) (res as import("node:http").ServerResponse).end(chunk);
  else res.end();
  return undefined;
}

export function writeToViewer(res: CacheExchange["res"], chunk: Buffer): Promise<void> | undefined {
  if ((res as import("node:http").ServerResponse).write(chunk)) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
