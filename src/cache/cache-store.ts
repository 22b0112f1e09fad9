// The cache's storage: the memory and disk tiers behind one interface, and the Vary records that map a primary key to its variants.

import type { IncomingHttpHeaders } from "node:http";
import { normaliseAcceptEncoding, requestField } from "./cache-key.ts";
import type { DiskTier, DiskWriter } from "./disk-tier.ts";
import { createFillingBody } from "./filling-body.ts";
import type { FillingBody, FillingBodyReader } from "./filling-body.ts";
import type { MemoryTier } from "./memory-tier.ts";
import type { EntryMeta, StoredEntry } from "./stored-entry.ts";

/**
 * Variants kept per primary key. A response that varies on a field the viewer chooses freely
 * (`Vary: User-Agent`, `Vary: X-Anything`) let one client store a variant per value it sent: each
 * evicted the others' entries from the tiers, and the key list of the Vary record grew without end
 * (an entry evicted from a tier stayed listed). Past this, a new variant evicts the oldest one.
 * Accept-Encoding, Accept-Language and the like need tens.
 */
export const MAX_VARIANTS_PER_KEY = 1024;

export interface EntryWriter {
  write(chunk: Buffer): Promise<void>;
  /** false once the body outgrew every tier: the caller stops storing. */
  readonly isStoring: boolean;
  commit(toMeta: (body: { bytes: number; sha256: string }) => EntryMeta): Promise<EntryMeta | null>;
  abort(): void;
  /**
   * The body as it is written, for requests collapsed behind this fill; null when the writer could still
   * drop it for a reason other than a fault (no disk tier, length unknown: it may outgrow memory).
   */
  readonly filling: FillingBodyReader | null;
}

export interface CacheStore {
  /** The stored response for a primary key that matches the request's Vary values, if any. */
  lookup(primaryKey: string, requestHeaders: IncomingHttpHeaders): Promise<StoredEntry | null>;
  /** lookup, in the memory tier alone and without waiting: null when the entry is not there (it may be on disk). */
  lookupInMemory(primaryKey: string, requestHeaders: IncomingHttpHeaders): StoredEntry | null;
  /** The memory tier's entry for a full key (a variant's own), not counted as read: for work done ahead of the first hit. */
  peekInMemory(key: string): StoredEntry | null;
  /** Whether a tier holds an entry for the request, without waiting: the disk's index is asked, not its files. */
  has(primaryKey: string, requestHeaders: IncomingHttpHeaders): boolean;
  /** The full key of a response with these Vary names for this request. */
  variantKey(primaryKey: string, varyNames: readonly string[], requestHeaders: IncomingHttpHeaders): string;
  /** A writer for a body of `expectedBytes` (null: unknown); null when no tier would take it. */
  openWriter(expectedBytes: number | null): EntryWriter | null;
  updateMeta(meta: EntryMeta): Promise<void>;
  /**
   * Removes a primary key and all its variants from every tier. `peers` (the default): then tells the processes that
   * share the disk tier (onDeleted) and resolves once they have removed it too. `here`: a deletion every process makes
   * on its own (an invalidation rule each one applies), or one a peer relayed: nobody is told.
   */
  deletePrimary(primaryKey: string, reach?: DeletionReach): Promise<void>;
  stats(): { memoryBytes: number; memoryEntries: number; diskBytes: number; diskEntries: number };
}

export type DeletionReach = "peers" | "here";

export interface CacheStoreOptions {
  memory: MemoryTier;
  disk: DiskTier | null;
  maxObjectBytes: number;
  memoryMaxObjectBytes: number;
  /**
   * Told the primary keys this process deleted, for its peers (the workers sharing the disk tier, each with a memory tier
   * of its own: see relayed-deletions.ts); deletePrimary waits for what it returns.
   */
  onDeleted?(primaryKeys: readonly string[]): Promise<void> | void;
}

/**
 * @example
 * const store = createCacheStore({ memory, disk, maxObjectBytes: 2 ** 30, memoryMaxObjectBytes: 8 * 2 ** 20 });
 */
export function createCacheStore(options: CacheStoreOptions): CacheStore {
  const { memory, disk } = options;
  /** Primary keys whose responses had Vary: their names, and the variant keys stored. */
  const varied = new Map<string, VariedRecord>();
  // Primary keys that a fill or a delete decided while the disk index loads: older records loaded later must not undo that.
  const decidedWhileLoading = new Set<string>();
  if (disk) {
    disk.admitLoaded(admitLoaded);
    void disk.loaded.then(() => decidedWhileLoading.clear());
  }

  /** Learns the Vary record of an entry the disk loader adds; false drops an entry that a newer fill or a delete superseded. */
  function admitLoaded(meta: EntryMeta): boolean {
    if (!decidedWhileLoading.has(meta.primaryKey)) {
      rememberVariant(meta);
      return true;
    }
    // Kept only as another variant under the Vary names the newer fill uses; anything else would replace it.
    const record = varied.get(meta.primaryKey);
    if (meta.vary === null || !record || !sameNames(record.names, meta.vary.names)) return false;
    if (!record.keys.has(meta.key) && record.keys.size >= MAX_VARIANTS_PER_KEY) return false;
    record.keys.add(meta.key);
    return true;
  }

  function rememberVariant(meta: EntryMeta): void {
    if (meta.vary === null) {
      varied.delete(meta.primaryKey);
      return;
    }
    const record = varied.get(meta.primaryKey);
    if (!record || !sameNames(record.names, meta.vary.names)) return void varied.set(meta.primaryKey, { names: meta.vary.names, keys: new Set([meta.key]), keysByValue: undefined });
    if (record.keys.has(meta.key)) return;
    record.keys.add(meta.key);
    if (record.keys.size > MAX_VARIANTS_PER_KEY) evictOldestVariant(record.keys);
  }

  // A Set iterates in insertion order: the first key is the variant stored longest ago.
  function evictOldestVariant(keys: Set<string>): void {
    const [oldest] = keys;
    if (oldest === undefined) return;
    keys.delete(oldest);
    memory.delete(oldest);
    // Not awaited: a commit does not wait on another entry's file. A failed delete leaves a file nobody looks up (the key is no longer listed).
    disk?.delete(oldest).catch(() => {});
  }

  function variantKey(primaryKey: string, names: readonly string[], headers: IncomingHttpHeaders): string {
    // One flat string (a join), as cacheKeyText's: see there.
    return [primaryKey, `\u0001${names.map((name) => `${name}:${varyValue(name, requestField(headers, name))}`).join("\u0002")}`].join("\n");
  }

  /**
   * variantKey for a request to a primary key with Vary: with one name (Accept-Encoding, nearly always), the key made
   * for each value of it is kept on the record, so a hit does not build and hash the whole key again. Made again
   * when the record is (another Vary), bounded as any memo of what viewers send.
   */
  function variantKeyOf(primaryKey: string, record: VariedRecord, headers: IncomingHttpHeaders): string {
    const names = record.names;
    if (names.length !== 1) return variantKey(primaryKey, names, headers);
    const value = requestField(headers, names[0] as string);
    if (Array.isArray(value)) return variantKey(primaryKey, names, headers);
    const memoKey = value ?? ABSENT_VALUE;
    const known = (record.keysByValue ??= new Map());
    let key = known.get(memoKey);
    if (key === undefined) {
      key = variantKey(primaryKey, names, headers);
      if (known.size >= VARIANT_KEYS_PER_RECORD) known.clear();
      known.set(memoKey, key);
    }
    return key;
  }

  async function get(key: string): Promise<StoredEntry | null> {
    const hot = memory.get(key);
    if (hot) return hot;
    if (!disk) return null;
    const cold = await disk.get(key);
    if (!cold) return null;
    // Small objects move up to memory; larger ones keep streaming from disk.
    if (cold.meta.bodyBytes <= options.memoryMaxObjectBytes) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of cold.body.stream()) chunks.push(chunk as Buffer);
      } catch {
        // A read error (EIO): the entry goes, and this request is a miss.
        await disk.delete(key);
        return null;
      }
      memory.put(cold.meta, chunks);
    }
    return cold;
  }

  return {
    async lookup(primaryKey, headers) {
      const record = varied.get(primaryKey);
      // RFC 9111 §4.1: a stored response with Vary is used only when the request's values match.
      return get(record ? variantKeyOf(primaryKey, record, headers) : primaryKey);
    },
    lookupInMemory(primaryKey, headers) {
      const record = varied.get(primaryKey);
      return memory.get(record ? variantKeyOf(primaryKey, record, headers) : primaryKey);
    },
    peekInMemory: (key) => memory.peek(key),
    has(primaryKey, headers) {
      const record = varied.get(primaryKey);
      const key = record ? variantKeyOf(primaryKey, record, headers) : primaryKey;
      return memory.get(key) !== null || (disk !== null && disk.has(key));
    },
    variantKey,
    openWriter(expectedBytes) {
      if (expectedBytes !== null && expectedBytes > options.maxObjectBytes) return null;
      const toMemory = expectedBytes === null || expectedBytes <= options.memoryMaxObjectBytes;
      let filling: FillingBody | null = null;
      // null too while the disk tier is degraded (a write failed): the fill then skips the disk.
      const diskWriter = disk?.createWriter((bytes) => filling?.flushed(bytes)) ?? null;
      if (!toMemory && !diskWriter) return null;
      // Without the disk, a body of unknown length may outgrow memory and be dropped: readers would be cut for nothing.
      const isFollowable = diskWriter !== null || expectedBytes !== null;
      filling = isFollowable ? createFillingBody(diskWriter ? { file: diskWriter.file, opened: diskWriter.opened } : null) : null;
      const writer = createTieredWriter(diskWriter, toMemory, options, filling);
      return {
        filling,
        write: writer.write,
        get isStoring() {
          return writer.isStoring();
        },
        async commit(toMeta) {
          const meta = await writer.commit(toMeta);
          if (meta && disk?.isLoading) decidedWhileLoading.add(meta.primaryKey);
          if (meta) rememberVariant(meta);
          return meta;
        },
        abort: writer.abort,
      };
    },
    async updateMeta(meta) {
      memory.updateMeta(meta);
      await disk?.updateMeta(meta);
    },
    async deletePrimary(primaryKey, reach = "peers") {
      const keys = [primaryKey, ...(varied.get(primaryKey)?.keys ?? [])];
      varied.delete(primaryKey);
      if (disk?.isLoading) decidedWhileLoading.add(primaryKey);
      // Memory first, every variant, before anything is awaited: a relayed deletion is acknowledged as soon as the call returns.
      for (const key of keys) memory.delete(key);
      for (const key of keys) await disk?.delete(key);
      // After the disk: a peer that looks there once told finds nothing to bring back.
      if (reach === "peers") await options.onDeleted?.([primaryKey]);
    },
    stats: () => ({ memoryBytes: memory.usedBytes, memoryEntries: memory.size, diskBytes: disk?.usedBytes ?? 0, diskEntries: disk?.size ?? 0 }),
  };

  /** Writes to disk (when there is one) and collects in memory while the body is small enough. */
  function createTieredWriter(initialDiskWriter: DiskWriter | null, toMemory: boolean, limits: { maxObjectBytes: number; memoryMaxObjectBytes: number }, filling: FillingBody | null) {
    let chunks: Buffer[] | null = toMemory ? [] : null;
    let diskWriter = initialDiskWriter;
    let bytes = 0;
    let isDead = false;
    let isOnlyFeeding = false;
    const loseDisk = () => {
      diskWriter?.abort();
      diskWriter = null;
      if (chunks) return;
      if (!filling) return abort();
      isOnlyFeeding = true;
      filling.diskLost();
    };
    const abort = () => {
      isDead = true;
      chunks = null;
      diskWriter?.abort();
      filling?.fail(new Error("the fill was not stored (cut short, too large, invalidated or a disk error)"));
    };
    return {
      isStoring: () => !isDead,
      abort,
      async write(chunk: Buffer): Promise<void> {
        if (isDead) return;
        bytes += chunk.length;
        if (bytes > limits.maxObjectBytes) return abort();
        if (chunks && bytes > limits.memoryMaxObjectBytes) chunks = null;
        if (!chunks && !diskWriter && !isOnlyFeeding) return abort();
        chunks?.push(chunk);
        const written = diskWriter?.write(chunk);
        filling?.append(chunk, chunks !== null);
        try {
          await written;
        } catch {
          // A disk error (the tier is now degraded): the fill goes on in memory if it still fits, else it is not
          // stored, but still feeds the requests reading it as it is written. Either way the viewer's response goes
          // on from the origin: a disk error never cuts it.
          loseDisk();
        }
      },
      async commit(toMeta: (body: { bytes: number; sha256: string }) => EntryMeta): Promise<EntryMeta | null> {
        if (isDead) return null;
        // Readers that joined hold the temporary file open before it is renamed.
        await filling?.seal();
        if (isOnlyFeeding) {
          filling?.succeed();
          return null;
        }
        let meta: EntryMeta | null = null;
        if (diskWriter) meta = await diskWriter.commit(toMeta);
        if (!meta && !chunks && filling) {
          // The disk failed at commit: the readers finish from the temporary file they hold open and the tail.
          filling.diskLost();
          filling.succeed();
          return null;
        }
        // A disk that failed at commit: the memory copy, if any, is still a whole body.
        if (chunks) {
          meta ??= toMeta({ bytes, sha256: "" });
          memory.put(meta, chunks);
        }
        if (meta) filling?.succeed();
        else filling?.fail(new Error("the fill could not be stored"));
        return meta;
      },
    };
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

// RFC 9111 §4.1: values may be normalised before comparison (whitespace; Accept-Encoding to the coding served).
/** A primary key whose responses say Vary: its names, the variants' keys stored, and the keys made per request value. */
interface VariedRecord {
  names: readonly string[];
  keys: Set<string>;
  keysByValue: Map<string, string> | undefined;
}

// A request without the field: no field value can be this (Node refuses NUL in a header).
const ABSENT_VALUE = "\u0000absent";
const VARIANT_KEYS_PER_RECORD = 64;

// One list for every call: the parse of each Accept-Encoding value is remembered per list (cache-key.ts).
const VARY_CODINGS: readonly ("br" | "gzip")[] = Object.freeze(["br", "gzip"]);

function varyValue(name: string, value: string | string[] | undefined): string {
  if (name === "accept-encoding") return normaliseAcceptEncoding(value, VARY_CODINGS);
  if (value === undefined) return "\u0000";
  return (Array.isArray(value) ? value.join(",") : value).replace(/\s*,\s*/g, ",").replace(/\s+/g, " ").trim();
}
