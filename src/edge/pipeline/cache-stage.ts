// The cache stage of the pipeline: GET and HEAD of a caching behavior go through the edge cache; other requests invalidate it.

import type { IncomingHttpHeaders } from "node:http";
import { afterUpstream } from "../../cache/index.ts";
import type { CacheExchange, EdgeCache } from "../../cache/index.ts";
import type { CachePolicyConfig } from "../../config/index.ts";
import { requestTarget } from "../../origin/index.ts";
import type { OriginRequest, TargetResponse } from "../../origin/index.ts";
import type { Logger, RequestTrace } from "../../observe/index.ts";
import type { ViewerResponse } from "./error-response.ts";
import { originRequestHeaders, toViewerResponseHeaders } from "./forwarded-headers.ts";
import type { RoutedBehavior } from "../snapshot/edge-snapshot.ts";

/** What the pipeline knows of a request when it reaches this stage. */
export interface EdgeExchangeFacts {
  method: string;
  /** Path and query as the viewer sent them. */
  url: string;
  distributionId: string;
  /** The Host the viewer sent. */
  viewerHost: string;
  /** "1.1" or "2". */
  httpVersion: string;
  clientAddress: string;
  /** The viewer's headers less those that must not reach the origin (viewer-header-names.ts). */
  screenedHeaders: IncomingHttpHeaders;
  /** As the cache matches them: the screened headers with the edge's own certificate headers. */
  requestHeaders: IncomingHttpHeaders;
  /** The certificate headers the edge sends the origin. */
  certificateHeaders: Readonly<Record<string, string>>;
  behavior: RoutedBehavior;
  res: ViewerResponse;
  /** For the log line of an origin retry. */
  requestId: string;
  /** The request's trace context: its traceparent goes to the origin. */
  trace: RequestTrace;
  /** This edge's Cache-Status identifier for the distribution. */
  cacheStatusName: string;
}

/**
 * One viewer request as the cache and the origin see it, made once per request. A class with methods rather than an
 * object of closures: a miss holds it across the origin's round trip, and closures over the pipeline's frames kept
 * the request, its response and everything beside them alive through scavenges, into old space.
 */
export class EdgeExchange implements CacheExchange {
  readonly method: string;
  readonly url: string;
  readonly distributionId: string;
  readonly pathname: string;
  readonly query: string;
  readonly viewerHost: string;
  readonly httpVersion: string;
  readonly clientAddress: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly policy: CachePolicyConfig;
  readonly behavior: RoutedBehavior;
  readonly res: ViewerResponse;
  readonly requestId: string;
  readonly trace: RequestTrace;
  readonly viewerHeaders: CacheExchange["viewerHeaders"];
  readonly cacheStatusName: string;
  private readonly screenedHeaders: IncomingHttpHeaders;
  private readonly certificateHeaders: Readonly<Record<string, string>>;
  private forwarded: Record<string, string | string[]> | undefined = undefined;

  constructor(facts: EdgeExchangeFacts) {
    this.method = facts.method;
    this.url = facts.url;
    this.distributionId = facts.distributionId;
    const mark = facts.url.indexOf("?");
    this.pathname = mark === -1 ? facts.url : facts.url.slice(0, mark);
    this.query = mark === -1 ? "" : facts.url.slice(mark + 1);
    this.viewerHost = facts.viewerHost;
    this.httpVersion = facts.httpVersion;
    this.clientAddress = facts.clientAddress;
    this.requestHeaders = facts.requestHeaders;
    this.policy = facts.behavior.cache;
    this.behavior = facts.behavior;
    this.res = facts.res;
    this.requestId = facts.requestId;
    this.trace = facts.trace;
    this.viewerHeaders = viewerHeadersFor(facts.httpVersion);
    this.cacheStatusName = facts.cacheStatusName;
    this.screenedHeaders = facts.screenedHeaders;
    this.certificateHeaders = facts.certificateHeaders;
  }

  /** Read on a miss only: a getter, so that a hit pays nothing for it. */
  get keepsUpstreamCacheStatus(): boolean {
    return this.behavior.viaShield;
  }

  /** Built once, and only when the request goes to the origin: a cache hit never sends them. */
  originHeaders(): Record<string, string | string[]> {
    // originRequestHeaders makes a new object: the certificate headers go into it. This exchange is its ForwardingFacts.
    return (this.forwarded ??= Object.assign(originRequestHeaders(this.screenedHeaders, this), this.certificateHeaders));
  }

  /** To the behavior's origin (or group), with no body. No viewer abort: a fill finishes for the requests collapsed onto it even if its own viewer leaves. */
  fetchOrigin(request: { method: string; headers: Readonly<Record<string, string | string[]>> }): Promise<TargetResponse> {
    // A TargetResponse reads as the cache's OriginAnswer: handed on as it is.
    return requestTarget(this.behavior.target, new FillRequest(request.method, this.url, request.headers, this.requestId, this.res));
  }
}

/** The origin request of a cache fill: its early hints go on to the viewer's response, through a method rather than a closure made per miss. */
class FillRequest implements OriginRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body = null;
  readonly requestId: string;
  private readonly res: ViewerResponse;

  constructor(method: string, path: string, headers: Readonly<Record<string, string | string[]>>, requestId: string, res: ViewerResponse) {
    this.method = method;
    this.path = path;
    this.headers = headers;
    this.requestId = requestId;
    this.res = res;
  }

  onEarlyHints(hints: Record<string, string | string[]>): void {
    forwardEarlyHints(this.res, hints);
  }
}

/** Whether this request goes through the cache (GET and HEAD of a behavior whose policy caches). */
export function goesThroughCache(cache: EdgeCache | undefined, method: string, behavior: RoutedBehavior): cache is EdgeCache {
  return cache !== undefined && behavior.cache.enabled && (method === "GET" || method === "HEAD");
}

/**
 * The viewer response header policy for one HTTP version, one function per version for the life of the process:
 * the cache prepares a stored response's head per policy function (deliver.ts), and a call site that always sees
 * the same few functions stays monomorphic.
 */
const viewerHeaderPolicies = new Map<string, CacheExchange["viewerHeaders"]>();
function viewerHeadersFor(httpVersion: string): CacheExchange["viewerHeaders"] {
  let policy = viewerHeaderPolicies.get(httpVersion);
  if (policy === undefined) {
    // The cache gives a new object of its own (exchange.ts): the policy is applied to it in place.
    policy = (headers) => toViewerResponseHeaders(headers, httpVersion);
    viewerHeaderPolicies.set(httpVersion, policy);
  }
  return policy;
}

/**
 * Cache-Status and X-Cache for a response that bypassed the cache. An unsafe method's success
 * invalidates its target before the viewer sees the response: a GET sent right after it must miss.
 * Behind an origin shield the shield's entry stays, before this edge's (RFC 9211 §2), as on a miss.
 */
export function bypassedCache(cache: EdgeCache | undefined, request: EdgeExchange, status: number, headers: Record<string, string | string[] | undefined>, log: Logger): Record<string, string> | Promise<Record<string, string>> {
  if (!cache) return {};
  const isSafe = request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS";
  // A safe method invalidates nothing: its headers are known at once, with nothing to wait on.
  if (isSafe) return passHeaders(cache, request, "bypass", headers);
  const pathname = request.pathname;
  const reason = request.behavior.cache.enabled ? "method" : "bypass";
  return cache.invalidateAfterUnsafe(request, status, headers).then(
    () => passHeaders(cache, request, reason, headers),
    (error: Error) => {
      // The response itself is fine; a stale entry may outlive it, so say which one.
      log.error({ distribution: request.distributionId, path: pathname, error: { message: error.message } }, "invalidation after an unsafe request failed; the cached response may be served until it expires");
      return passHeaders(cache, request, reason, headers);
    },
  );
}

function passHeaders(cache: EdgeCache, request: EdgeExchange, reason: "method" | "bypass", upstream: Record<string, string | string[] | undefined>): Record<string, string> {
  const ours = cache.passHeaders(reason, request.cacheStatusName);
  if (request.keepsUpstreamCacheStatus) ours["cache-status"] = afterUpstream(upstream["cache-status"], ours["cache-status"] as string);
  return ours;
}

/**
 * RFC 8297: a 103 (Early Hints) from the origin goes on to the viewer (HTTP/1.1 and HTTP/2) while it waits for
 * the final response; it is never stored (only final responses are). Only its Link fields go: they are what a
 * 103 is for (§2), and nothing else in an interim response is meant for the viewer. Not to an HTTP/1.0 viewer
 * (RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client"), nor once the final response
 * has begun (a background revalidation, a fill whose viewer was answered).
 */
export function forwardEarlyHints(res: ViewerResponse, hints: Record<string, string | string[]>): void {
  // The request's own version: the pipeline's httpVersion says "1.1" for HTTP/1.0 too.
  if ((res as { req?: { httpVersion?: string } }).req?.httpVersion === "1.0" || res.headersSent || res.writableEnded || hints.link === undefined) return;
  try {
    (res as { writeEarlyHints(hints: Record<string, string | string[]>): void }).writeEarlyHints({ link: hints.link });
  } catch {
    // A Link value Node refuses to send (not a valid Link field): the hints are advisory, the response goes on.
  }
}
