// A stored entry's metadata for cache tier tests: a plain 200 with one header, fresh for a minute.
import type { EntryMeta } from "../../src/cache/stored-entry.ts";

/**
 * @example
 * await writer.commit((body) => entryMeta("shop\n/a", body));
 * memory.put(entryMeta("shop\n/b", { bytes: 3, sha256: "" }), [Buffer.from("abc")]);
 */
export function entryMeta(key: string, body: { bytes: number; sha256: string }, extra: Partial<EntryMeta> = {}): EntryMeta {
  return {
    key,
    primaryKey: key,
    status: 200,
    headers: { "content-type": "text/plain" },
    rules: { lifetimeMs: 60_000, isNoCache: false, mayServeStale: true, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, isReusableWithAuthorization: false },
    age: { requestTimeMs: 0, responseTimeMs: 0, dateMs: 0, ageValueS: 0 },
    vary: null,
    bodyBytes: body.bytes,
    bodySha256: body.sha256,
    invalidationMark: 0,
    ...extra,
  };
}
