// The memory tier: stored responses with their bodies (small ones as text, others as buffers), bounded in bytes, least recently used evicted first (approximately: second chance).

import { Readable } from "node:stream";
import { getHeapStatistics } from "node:v8";
import type { EntryMeta, PreparedHead, StoredBody, StoredEntry } from "./stored-entry.ts";
import { shareHeaderValues } from "./shared-values.ts";
import { metaBytes } from "./stored-entry.ts";

/**
 * One stored response in memory: the entry a hit is handed, its body and the tier's bookkeeping in one object, with
 * the body's methods on the prototype. Every live object is marked at each major GC; a million entries made six
 * objects each (record, entry, body, two closures and their context) where one does.
 * Made again when its metadata changes (a 304): a request in flight keeps the entry it was handed.
 */
class MemoryEntry implements StoredEntry, StoredBody {
  readonly meta: EntryMeta;
  readonly tier = "memory" as const;
  // Own fields, not getters: an entry spread into another ({ ...entry, meta }) keeps its body.
  readonly body: StoredBody;
  /** The body as buffers; null when it is kept as text. */
  readonly parts: readonly Buffer[] | null;
  readonly text: string | undefined;
  /** Body and metadata bytes, as the bound counts them. */
  readonly bytes: number;
  heads: PreparedHead | PreparedHead[] | undefined = undefined;
  /** Read since it was stored or last passed over by eviction: the next eviction moves it to the back instead. */
  isRecent = false;

  constructor(meta: EntryMeta, body: { parts: readonly Buffer[] | null; text: string | undefined }, bytes: number) {
    this.meta = meta;
    this.body = this;
    this.parts = body.parts;
    this.text = body.text;
    this.bytes = bytes;
  }

  stream(range?: { start: number; end: number }): Readable {
    return Readable.from(this.chunks(range), { objectMode: false });
  }

  chunks(range?: { start: number; end: number }): readonly Buffer[] {
    // A copy of the part asked for: the hits that take these (ranges, multipart, conditionals) are not the common one.
    if (this.parts === null) return [Buffer.from(range ? (this.text as string).slice(range.start, range.end + 1) : (this.text as string), "latin1")];
    return sliceChunks(this.parts, range);
  }
}

export interface MemoryTier {
  get(key: string): StoredEntry | null;
  /** get, without counting as a read: eviction's second chance is for entries viewers asked for. */
  peek(key: string): StoredEntry | null;
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
 * A Map keeps insertion order, and entries are evicted from its front. A hit only marks its entry recent; eviction
 * gives a recent entry a second chance (moved to the back, mark cleared) and evicts the first one that is not: CLOCK,
 * close to least recently used. Moving the entry on every hit (delete + set) cost a million-entry Map about 0.5 µs
 * more per hit than the lookup, and every few tens of thousands of hits a rehash of the whole table (its deleted
 * slots fill up), tens of MB allocated at once (bench/memory-tier-hits.ts).
 * @example
 * const memory = createMemoryTier({ maxBytes: 256 * 2 ** 20, maxObjectBytes: 8 * 2 ** 20, onEvict: (key) => {} });
 */
export function createMemoryTier(options: { maxBytes: number; maxObjectBytes: number; onEvict?(key: string): void; textBytesMax?: number }): MemoryTier {
  const records = new Map<string, MemoryEntry>();
  let usedBytes = 0;
  const textBytesMax = options.textBytesMax ?? defaultTextBytesMax();
  let textBytes = 0;

  /** The body as the entry keeps it: as text when it is small and the heap's share for text has room. */
  const bodyOf = (chunks: readonly Buffer[], bodyBytes: number) => {
    if (bodyBytes > TEXT_BODY_BYTES_MAX || textBytes + bodyBytes > textBytesMax) return { parts: ownedChunks(chunks, bodyBytes), text: undefined };
    textBytes += bodyBytes;
    return { parts: null, text: (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks as Buffer[], bodyBytes)).toString("latin1") };
  };

  const remove = (key: string) => {
    const record = records.get(key);
    if (!record) return;
    records.delete(key);
    usedBytes -= record.bytes;
    if (record.text !== undefined) textBytes -= record.text.length;
  };

  /** Evicts until the bound holds, never `stored`: the entry just put, which second chances could leave first in line. */
  const evictUntilFits = (stored: string) => {
    // A Map's iterator also visits entries set behind it while it runs: one given its second chance comes up again, unmarked.
    for (const [key, record] of records) {
      if (usedBytes <= options.maxBytes) return;
      if (key === stored) continue;
      if (record.isRecent) {
        record.isRecent = false;
        records.delete(key);
        records.set(key, record);
        continue;
      }
      remove(key);
      options.onEvict?.(key);
    }
  };

  return {
    get(key) {
      const record = records.get(key);
      if (!record) return null;
      record.isRecent = true;
      return record;
    },
    peek: (key) => records.get(key) ?? null,
    put(meta, chunks) {
      const bytes = meta.bodyBytes + metaBytes(meta);
      if (meta.bodyBytes > options.maxObjectBytes || bytes > options.maxBytes) return false;
      remove(meta.key);
      // What the tier keeps for long: the values many entries repeat are one string each (shared-values.ts).
      shareHeaderValues(meta.headers);
      records.set(meta.key, new MemoryEntry(meta, bodyOf(chunks, meta.bodyBytes), bytes));
      usedBytes += bytes;
      evictUntilFits(meta.key);
      return true;
    },
    updateMeta(meta) {
      const record = records.get(meta.key);
      if (!record) return;
      shareHeaderValues(meta.headers);
      const updated = new MemoryEntry(meta, record, meta.bodyBytes + metaBytes(meta));
      // Revalidated because it was asked for: as recent as a hit.
      updated.isRecent = true;
      usedBytes += updated.bytes - record.bytes;
      records.set(meta.key, updated);
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

/**
 * Bodies up to this size are kept as one string of their bytes (latin1: a character per byte, any byte), in V8's heap.
 * A hit then ends its response with it, and Node's http writes the head and the body as one string in one write; a
 * Buffer body went with the head as two chunks, each through more of Node's stream and TLS machinery per hit (and a
 * small Buffer's bytes are moved out of the heap on its first write: a malloc per entry, at its first hit).
 * Measured (docs/BENCHMARKS.md): a 1 KiB hit 18–21 µs of edge CPU against 21–25 as a Buffer; past a few KiB the
 * string write costs more than the two chunks (8 KiB 27–28 against 24–27, 12 KiB 29 against 25–26).
 */
const TEXT_BODY_BYTES_MAX = 2048;
// Text counts against V8's heap limit, Buffers do not: past this share of it, small bodies are kept as Buffers again.
const TEXT_SHARE_OF_HEAP_LIMIT = 0.25;

function defaultTextBytesMax(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * TEXT_SHARE_OF_HEAP_LIMIT);
}

// A chunk backed by a buffer this much larger than itself is copied into one of its own.
const WASTE_FACTOR = 2;
// Bodies up to this size are copied into one buffer; larger ones chunk by chunk.
const JOINED_BYTES_MAX = 64 * 1024;

/**
 * Chunks that hold no more memory than their bytes. A body read from a socket arrives as views on read buffers (and
 * Node's allocation pool is 64 KiB): kept as they are, a small cached body would keep a whole buffer alive,
 * unaccounted, for as long as it is cached (a 1 KiB body holding 64 KiB: a memory tier bounded at 256 MB holding
 * gigabytes). Copied once, when stored, into buffers of their own (not the pool, whose slab one entry could pin).
 */
export function ownedChunks(chunks: readonly Buffer[], bodyBytes: number): readonly Buffer[] {
  const isWasteful = (chunk: Buffer) => chunk.buffer.byteLength > chunk.length * WASTE_FACTOR;
  if (!chunks.some(isWasteful)) return chunks;
  if (bodyBytes <= JOINED_BYTES_MAX) return [copyOf(chunks, bodyBytes)];
  return chunks.map((chunk) => (isWasteful(chunk) ? copyOf([chunk], chunk.length) : chunk));
}

function copyOf(chunks: readonly Buffer[], bytes: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(copy, offset);
  return offset === bytes ? copy : copy.subarray(0, offset);
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
