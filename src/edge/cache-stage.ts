// The cache stage of the pipeline: GET and HEAD of a caching behavior go through the edge cache; other requests invalidate it.

import type { IncomingHttpHeaders } from "node:http";
import type { CacheExchange, EdgeCache } from "../cache/index.ts";
import { requestTarget } from "../origin/index.ts";
import type { Logger } from "../observe/index.ts";
import type { ViewerResponse } from "./error-response.ts";
import { viewerResponseHeaders } from "./forwarded-headers.ts";
import type { RoutedBehavior } from "./edge-snapshot.ts";

export interface CacheStageRequest {
  method: string;
  /** Path and query as the viewer sent them. */
  url: string;
  distributionId: string;
  viewerHost: string;
  httpVersion: string;
  requestHeaders: IncomingHttpHeaders;
  /** Built on first call (a miss or a revalidation), so that a hit does not build headers it never sends. */
  originHeaders(): Record<string, string | string[]>;
  behavior: RoutedBehavior;
  res: ViewerResponse;
  /** For the log line of an origin retry. */
  requestId?: string;
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
    policy = (headers) => viewerResponseHeaders(headers, httpVersion);
    viewerHeaderPolicies.set(httpVersion, policy);
  }
  return policy;
}

/** Serves the request through the cache; gives access-log fields, at once for a fresh hit from memory, else in a promise. */
export function serveThroughEdgeCache(cache: EdgeCache, request: CacheStageRequest): Record<string, unknown> | Promise<Record<string, unknown>> {
  const { pathname, query } = splitTarget(request.url);
  return cache.serve({
    method: request.method,
    distributionId: request.distributionId,
    pathname,
    query,
    viewerHost: request.viewerHost,
    requestHeaders: request.requestHeaders,
    policy: request.behavior.cache,
    originHeaders: request.originHeaders,
    // No viewer abort signal: a fill finishes for the requests collapsed onto it even if its own viewer leaves.
    fetchOrigin: ({ method, headers }) => {
      const onEarlyHints = (hints: Record<string, string | string[]>) => forwardEarlyHints(request.res, hints);
      return requestTarget(request.behavior.target, { method, path: request.url, headers, body: null, requestId: request.requestId, onEarlyHints }).then((answer) => {
        const response = answer.response;
        // Not a spread: that would read `body`, and make the stream a body that has already arrived whole does without.
        return {
          statusCode: response.statusCode,
          headers: response.headers,
          get body() {
            return response.body;
          },
          wholeBody: () => response.wholeBody?.() ?? null,
          originId: answer.client.originId,
          failedOverBecause: answer.failedOverBecause,
        };
      });
    },
    viewerHeaders: viewerHeadersFor(request.httpVersion),
    res: request.res,
  });
}

/**
 * Cache-Status and X-Cache for a response that bypassed the cache. An unsafe method's success
 * invalidates its target before the viewer sees the response: a GET sent right after it must miss.
 */
export function bypassedCache(cache: EdgeCache | undefined, request: Omit<CacheStageRequest, "res" | "originHeaders" | "httpVersion">, status: number, headers: Record<string, string | string[] | undefined>, log: Logger): Record<string, string> | Promise<Record<string, string>> {
  if (!cache) return {};
  const isSafe = request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS";
  // A safe method invalidates nothing: its headers are known at once, with nothing to wait on.
  if (isSafe) return cache.passHeaders("bypass");
  const { pathname, query } = splitTarget(request.url);
  const target = { method: request.method, distributionId: request.distributionId, pathname, query, viewerHost: request.viewerHost, requestHeaders: request.requestHeaders, policy: request.behavior.cache };
  return cache.invalidateAfterUnsafe(target, status, headers).then(
    () => cache.passHeaders(request.behavior.cache.enabled ? "method" : "bypass"),
    (error: Error) => {
      // The response itself is fine; a stale entry may outlive it, so say which one.
      log.error({ distribution: request.distributionId, path: pathname, error: { message: error.message } }, "invalidation after an unsafe request failed; the cached response may be served until it expires");
      return cache.passHeaders(request.behavior.cache.enabled ? "method" : "bypass");
    },
  );
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

function splitTarget(url: string): { pathname: string; query: string } {
  const mark = url.indexOf("?");
  return mark === -1 ? { pathname: url, query: "" } : { pathname: url.slice(0, mark), query: url.slice(mark + 1) };
}
