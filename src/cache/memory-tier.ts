// The memory tier: stored responses with their bodies as buffers, bounded in bytes, least recently used evicted first.

import { Readable } from "node:stream";
import type { EntryMeta, StoredEntry } from "./stored-entry.ts";
import { metaBytes } from "./stored-entry.ts";

interface MemoryRecord {
  chunks: readonly Buffer[];
  bytes: number;
  /** Made once per record (and again when its metadata changes): a hit hands out this object as it is. */
  entry: StoredEntry;
}

export interface MemoryTier {
  get(key: string): StoredEntry | null;
  /** Stores (or replaces) an entry; false when it is larger than the tier's object limit. */
  put(meta: EntryMeta, chunks: readonly Buffer[]): boolean;
  /** Replaces an entry's metadata (after a 304), keeping its body. */
  updateMeta(meta: EntryMeta): void;
  delete(key: string): void;
  has(key: string): boolean;
  readonly usedBytes: number;
  readonly size: number;
}

/**
 * A Map keeps insertion order, so re-inserting on each hit makes its first key the least recently used.
 * @example
 * const memory = createMemoryTier({ maxBytes: 256 * 2 ** 20, maxObjectBytes: 8 * 2 ** 20, onEvict: (key) => {} });
 */
export function createMemoryTier(options: { maxBytes: number; maxObjectBytes: number; onEvict?(key: string): void }): MemoryTier {
  const records = new Map<string, MemoryRecord>();
  let usedBytes = 0;

  const remove = (key: string) => {
    const record = records.get(key);
    if (!record) return;
    records.delete(key);
    usedBytes -= record.bytes;
  };

  const evictUntilFits = () => {
    for (const key of records.keys()) {
      if (usedBytes <= options.maxBytes) return;
      remove(key);
      options.onEvict?.(key);
    }
  };

  return {
    get(key) {
      const record = records.get(key);
      if (!record) return null;
      records.delete(key);
      records.set(key, record);
      return record.entry;
    },
    put(meta, chunks) {
      const bytes = meta.bodyBytes + metaBytes(meta);
      if (meta.bodyBytes > options.maxObjectBytes || bytes > options.maxBytes) return false;
      remove(meta.key);
      records.set(meta.key, { chunks, bytes, entry: { meta, tier: "memory", body: memoryBody(chunks) } });
      usedBytes += bytes;
      evictUntilFits();
      return true;
    },
    updateMeta(meta) {
      const record = records.get(meta.key);
      if (!record) return;
      usedBytes += metaBytes(meta) - metaBytes(record.entry.meta);
      record.entry = { meta, tier: "memory", body: record.entry.body };
      record.bytes = meta.bodyBytes + metaBytes(meta);
    },
    delete: remove,
    has: (key) => records.has(key),
    get usedBytes() {
      return usedBytes;
    },
    get size() {
      return records.size;
    },
  };
}

function memoryBody(chunks: readonly Buffer[]): StoredEntry["body"] {
  return { stream: (range) => Readable.from(sliceChunks(chunks, range), { objectMode: false }), chunks: (range) => sliceChunks(chunks, range) };
}

/** The stored chunks, or views on the part of them a range covers: the body is never copied. */
function sliceChunks(chunks: readonly Buffer[], range?: { start: number; end: number }): readonly Buffer[] {
  if (!range) return chunks;
  const parts: Buffer[] = [];
  let offset = 0;
  for (const chunk of chunks) {
    const chunkEnd = offset + chunk.length;
    if (chunkEnd > range.start && offset <= range.end) {
      parts.push(chunk.subarray(Math.max(0, range.start - offset), Math.min(chunk.length, range.end - offset + 1)));
    }
    offset = chunkEnd;
  }
  return parts;
}
