// Answers a request collapsed behind a fill from the fill's headers and its body as it is written.

import { afterUpstream, cacheStatusHeaders } from "./cache-status.ts";
import type { CacheStatusFacts } from "./cache-status.ts";
import type { StreamingFill } from "./collapse.ts";
import { writeToViewer } from "./deliver.ts";
import type { CacheExchange } from "./exchange.ts";
import { currentAgeMs } from "./freshness.ts";
import { answerFrom, answerStatus } from "./viewer-answer.ts";

/**
 * Serves the fill's response as a stored one (conditionals, a single range, HEAD) while its body is still
 * being written. A fill that fails after the headers went out destroys the response: the viewer sees a cut
 * connection (a short Content-Length, or a chunked body without its last chunk), never a complete-looking one.
 * Resolves false, having sent nothing, when the fill can no longer be joined (it is committing or failed).
 */
export async function deliverFilling(x: CacheExchange, stream: StreamingFill, facts: CacheStatusFacts, nowMs: number): Promise<boolean> {
  const isLengthKnown = stream.bodyBytes !== null;
  // A range of a body of unknown length is answered whole (200), as a Range request that misses is.
  const { range: _range, ...withoutRange } = x.requestHeaders;
  const request = isLengthKnown ? x.requestHeaders : withoutRange;
  const stored = { status: stream.status, headers: stream.headers, bodyBytes: stream.bodyBytes ?? 0 };
  let answer = answerFrom(stored, request, x.method, isLengthKnown, { isStored: true });
  // Several ranges of a body still being written: answered whole (200), as RFC 9110 §14.2 allows.
  if (answer.kind === "multipart") answer = answerFrom(stored, withoutRange, x.method, isLengthKnown, { isStored: true });
  const sendsBody = x.method !== "HEAD" && (answer.kind === "full" || answer.kind === "range");
  const body = sendsBody ? stream.body.join() : null;
  if (sendsBody && !body) return false;
  const headers = { ...answer.headers, age: String(Math.floor(currentAgeMs(stream.age, nowMs) / 1000)), ...cacheStatusHeaders(facts, x.cacheStatusName) };
  if (x.keepsUpstreamCacheStatus) headers["cache-status"] = afterUpstream(stream.headers["cache-status"], headers["cache-status"]);
  const res = x.res;
  (res as import("node:http").ServerResponse).writeHead(answerStatus(answer), x.viewerHeaders(headers));
  if (!body) {
    res.end();
    return true;
  }
  const first = answer.kind === "range" ? answer.start : 0;
  const last = answer.kind === "range" ? answer.end : Number.POSITIVE_INFINITY;
  let offset = 0;
  try {
    for await (const chunk of body) {
      const from = Math.max(0, first - offset);
      const to = Math.min(chunk.length, last - offset + 1);
      offset += chunk.length;
      if (to > from) await writeToViewer(res, from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
      if (res.destroyed || offset > last) break;
    }
  } catch (error) {
    res.destroy();
    throw error;
  }
  if (!res.destroyed && !res.writableEnded) res.end();
  return true;
}
