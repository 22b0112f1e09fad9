// The prepared head of a stored response (deliver.ts) against the head built afresh for each request.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { preparedHead, storedHead } from "../../src/cache/deliver.ts";
import { cacheStatusHeaders } from "../../src/cache/cache-status.ts";
import { currentAgeMs } from "../../src/cache/freshness.ts";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import type { EntryMeta, StoredEntry } from "../../src/cache/stored-entry.ts";
import { answerFrom } from "../../src/cache/viewer-answer.ts";
import { viewerResponseHeaders } from "../../src/edge/pipeline/forwarded-headers.ts";
import { entryMeta } from "./entry-meta.ts";

const policy = (headers: Record<string, string | string[] | undefined>) => viewerResponseHeaders(headers, "1.1");

function freshHead(meta: ReturnType<typeof entryMeta>, method: string, nowMs: number) {
  const answer = answerFrom(meta, {}, method, true, { isStored: true });
  const headers = Object.assign(answer.headers, { age: String(Math.floor(currentAgeMs(meta.age, nowMs) / 1000)) }, cacheStatusHeaders({ isHit: true, ttlS: 42 }));
  return policy(headers);
}

/** The entry the memory tier hands out for `meta`, hit after hit. */
function memoryEntry(meta: EntryMeta): StoredEntry {
  const memory = createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20 });
  memory.put(meta, [Buffer.from("abc")]);
  return memory.get(meta.key) as StoredEntry;
}

/** An entry as the disk tier makes one per lookup. */
const diskEntry = (meta: EntryMeta): StoredEntry => ({ meta, tier: "disk", body: { stream: () => { throw new Error("not read"); } } });

describe("a stored response's prepared head", () => {
  const meta = entryMeta("shop\n/a", { bytes: 3, sha256: "" }, { headers: { "content-type": "text/plain", etag: '"a"', age: "5", via: "1.1 origin" }, age: { requestTimeMs: 0, responseTimeMs: 0, dateMs: 0, ageValueS: 5 } });
  const entry = memoryEntry(meta);

  for (const method of ["GET", "HEAD"]) {
    it(`equals the head built afresh, fields in the same order (${method})`, () => {
      const prepared = storedHead(preparedHead(entry, method, policy), meta, { isHit: true, ttlS: 42 }, 10_000);
      const fresh = freshHead(meta, method, 10_000);
      assert.deepEqual(Object.entries(prepared), Object.entries(fresh));
    });
  }

  it("is made once per metadata, method and policy; Age and Cache-Status change per request", () => {
    assert.equal(preparedHead(entry, "GET", policy), preparedHead(entry, "GET", policy));
    assert.notEqual(preparedHead(entry, "GET", policy), preparedHead(entry, "HEAD", policy));
    const early = storedHead(preparedHead(entry, "GET", policy), meta, { isHit: true, ttlS: 50 }, 1_000);
    const late = storedHead(preparedHead(entry, "GET", policy), meta, { isHit: true, ttlS: 20 }, 31_000);
    assert.equal(early.age, "6");
    assert.equal(late.age, "36");
    assert.equal(late["cache-status"], "moat; hit; ttl=20");
    assert.equal(preparedHead(entry, "GET", policy).age, "", "the prepared head itself is never filled in");
  });

  it("is kept on the memory tier's entry, and made once per metadata for entries made per lookup (the disk tier's)", () => {
    assert.ok(Array.isArray(entry.heads) && entry.heads.length === 2, "GET and HEAD, on the entry itself");
    const stored = memoryEntry(meta);
    assert.equal(stored.heads, undefined, "none before the first hit");
    // Read through a function: the assertion above narrowed stored.heads to undefined for TypeScript.
    const headsOf = (entry: { heads?: unknown }) => entry.heads as { headers: unknown } | Array<{ headers: unknown }> | undefined;
    const first = preparedHead(stored, "GET", policy);
    assert.ok(!Array.isArray(headsOf(stored)) && (headsOf(stored) as { headers: unknown }).headers === first, "one head is kept as itself, not in a list");
    preparedHead(stored, "HEAD", policy);
    const both = headsOf(stored);
    assert.ok(Array.isArray(both) && both.length === 2 && both[0]?.headers === first, "a second makes a list, the first still in it");
    assert.equal(preparedHead(stored, "GET", policy), first);
    assert.equal(preparedHead(diskEntry(meta), "GET", policy), preparedHead(diskEntry(meta), "GET", policy), "one head for two lookups of the same metadata");
    assert.equal(diskEntry(meta).heads, undefined);
  });

  it("is another one for new metadata (after a 304), also on an entry spread with it", () => {
    const refreshed = { ...meta, headers: { ...meta.headers, etag: '"b"' } };
    assert.equal(preparedHead(memoryEntry(refreshed), "GET", policy).etag, '"b"');
    assert.equal(preparedHead({ ...entry, meta: refreshed }, "GET", policy).etag, '"b"', "not the stored metadata's head");
    assert.equal(preparedHead(entry, "GET", policy).etag, '"a"');
  });
});
