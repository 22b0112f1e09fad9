// The prepared head of a stored response (deliver.ts) against the head built afresh for each request.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { preparedHead, storedHead } from "../../src/cache/deliver.ts";
import { cacheStatusHeaders } from "../../src/cache/cache-status.ts";
import { currentAgeMs } from "../../src/cache/freshness.ts";
import { answerFrom } from "../../src/cache/viewer-answer.ts";
import { viewerResponseHeaders } from "../../src/edge/forwarded-headers.ts";
import { entryMeta } from "./entry-meta.ts";

const policy = (headers: Record<string, string | string[] | undefined>) => viewerResponseHeaders(headers, "1.1");

function freshHead(meta: ReturnType<typeof entryMeta>, method: string, nowMs: number) {
  const answer = answerFrom(meta, {}, method, true, { isStored: true });
  const headers = Object.assign(answer.headers, { age: String(Math.floor(currentAgeMs(meta.age, nowMs) / 1000)) }, cacheStatusHeaders({ isHit: true, ttlS: 42 }));
  return policy(headers);
}

describe("a stored response's prepared head", () => {
  const meta = entryMeta("shop\n/a", { bytes: 3, sha256: "" }, { headers: { "content-type": "text/plain", etag: '"a"', age: "5", via: "1.1 origin" }, age: { requestTimeMs: 0, responseTimeMs: 0, dateMs: 0, ageValueS: 5 } });

  for (const method of ["GET", "HEAD"]) {
    it(`equals the head built afresh, fields in the same order (${method})`, () => {
      const prepared = storedHead(preparedHead(meta, method, policy), meta, { isHit: true, ttlS: 42 }, 10_000);
      const fresh = freshHead(meta, method, 10_000);
      assert.deepEqual(Object.entries(prepared), Object.entries(fresh));
    });
  }

  it("is made once per metadata, method and policy; Age and Cache-Status change per request", () => {
    assert.equal(preparedHead(meta, "GET", policy), preparedHead(meta, "GET", policy));
    assert.notEqual(preparedHead(meta, "GET", policy), preparedHead(meta, "HEAD", policy));
    const early = storedHead(preparedHead(meta, "GET", policy), meta, { isHit: true, ttlS: 50 }, 1_000);
    const late = storedHead(preparedHead(meta, "GET", policy), meta, { isHit: true, ttlS: 20 }, 31_000);
    assert.equal(early.age, "6");
    assert.equal(late.age, "36");
    assert.equal(late["cache-status"], "moat; hit; ttl=20");
    assert.equal(preparedHead(meta, "GET", policy).age, "", "the prepared head itself is never filled in");
  });

  it("is another one for new metadata (after a 304)", () => {
    const refreshed = { ...meta, headers: { ...meta.headers, etag: '"b"' } };
    assert.equal(preparedHead(refreshed, "GET", policy).etag, '"b"');
  });
});
