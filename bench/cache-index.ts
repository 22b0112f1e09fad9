// Measures what the cache's index costs per entry (heap bytes) and what an invalidation check costs per lookup, at a million entries.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createMemoryTier } from "../src/cache/memory-tier.ts";
import { createInvalidationRules } from "../src/cache/invalidations.ts";
import { preparedHead } from "../src/cache/deliver.ts";
import type { EntryMeta, StoredEntry } from "../src/cache/stored-entry.ts";

/** The viewer's header policy (cache-stage.ts): a new object with the fields it keeps. */
const VIEWER_HEADERS = (headers: Record<string, string | string[] | undefined>) => ({ ...headers });

export interface CacheIndexResult {
  entries: number;
  /** Memory tier: index entry + metadata (status, 3 headers, rules, age) + the head a fill prepares for hits, body excluded. */
  memoryTierBytesPerEntry: number;
  /** Disk tier: what stays in memory per entry on disk (key string + record), metadata excluded. */
  diskIndexBytesPerEntry: number;
  /** One invalidation check (exact + prefix rules, 10,000 rules loaded). */
  invalidationCheckNs: number;
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A key like the edge builds (one flat string: see cache-key.ts): distribution, a 40-character path, a query. */
const keyOf = (i: number) => ["shop", `/static/assets/${i.toString(36).padStart(8, "0")}/app.bundle.js`, `v=${i % 97}`, "", "", "", ""].join("\n");

function metaOf(key: string): EntryMeta {
  return {
    key,
    primaryKey: key,
    status: 200,
    headers: { "content-type": "application/javascript", etag: `"${key.length}"`, "cache-control": "max-age=86400" },
    rules: { lifetimeMs: 86_400_000, isNoCache: false, mayServeStale: true, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, isReusableWithAuthorization: false },
    age: { requestTimeMs: 1, responseTimeMs: 2, dateMs: 2, ageValueS: 0 },
    vary: null,
    bodyBytes: 0,
    bodySha256: "",
    invalidationMark: 0,
  };
}

function memoryTierBytesPerEntry(entries: number): number {
  const before = heapAfterGc();
  const memory = createMemoryTier({ maxBytes: Number.MAX_SAFE_INTEGER, maxObjectBytes: 1 });
  for (let i = 0; i < entries; i++) {
    const key = keyOf(i);
    memory.put(metaOf(key), []);
    // As a fill leaves its entry: with the head its next hits send (deliver.ts).
    preparedHead(memory.peek(key) as StoredEntry, "GET", VIEWER_HEADERS);
  }
  const bytes = (heapAfterGc() - before) / entries;
  if (memory.size !== entries) throw new Error("memory tier lost entries");
  return bytes;
}

// The disk tier's index is a Map of key → { bodyId, bytes, isVerified } (disk-tier.ts, DiskRecord).
function diskIndexBytesPerEntry(entries: number): number {
  const before = heapAfterGc();
  const disk = new Map<string, { bodyId: string; bytes: number; isVerified: boolean }>();
  for (let i = 0; i < entries; i++) disk.set(keyOf(i), { bodyId: (i * 2654435761).toString(16).padStart(12, "0").slice(0, 12), bytes: 4096 + i, isVerified: false });
  const bytes = (heapAfterGc() - before) / entries;
  if (disk.size !== entries) throw new Error("disk index lost entries");
  return bytes;
}

export function measureCacheIndex(entries = 1_000_000): CacheIndexResult {
  const memoryBytes = memoryTierBytesPerEntry(entries);
  const diskBytes = diskIndexBytesPerEntry(entries);

  const rules = createInvalidationRules();
  rules.append(Array.from({ length: 10_000 }, (_, i) => ({ id: String(i), distribution: "shop", paths: [i % 2 ? `/static/${i}/*` : `/page/${i}.html`], at: "" })));
  const lookups = 1_000_000;
  let hits = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++) if (rules.isInvalidated("shop", `/static/assets/${i}/app.bundle.js`, 0)) hits++;
  const invalidationCheckNs = Number(process.hrtime.bigint() - started) / lookups;
  if (hits < 0) throw new Error("unreachable");
  return { entries, memoryTierBytesPerEntry: Math.round(memoryBytes), diskIndexBytesPerEntry: Math.round(diskBytes), invalidationCheckNs: Math.round(invalidationCheckNs) };
}

export function formatCacheIndex(result: CacheIndexResult): string {
  return (
    `cache index at ${result.entries.toLocaleString("en")} entries: memory tier ${result.memoryTierBytesPerEntry} B/entry (index + metadata + prepared head, body excluded), ` +
    `disk index ${result.diskIndexBytesPerEntry} B/entry; invalidation check ${result.invalidationCheckNs} ns/lookup with 10,000 rules\n`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(formatCacheIndex(measureCacheIndex()));
