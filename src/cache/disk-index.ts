// The disk tier's in-memory index: one record per entry, in eviction order (loaded and not served since the start first, then least recently used).

/** Kept in memory per disk entry: what the index costs (see docs/explanation/cache.md, "Measured index overhead"). */
export interface DiskRecord {
  bodyId: string;
  bytes: number;
  /** Set once the body's digest was checked in this process (or it was written by it). */
  isVerified: boolean;
}

export interface DiskIndex {
  get(key: string): DiskRecord | undefined;
  /** A record written or served in this process: the most recently used. */
  setUsed(key: string, record: DiskRecord): void;
  /** A record loaded from disk at start: last used before the restart, so evicted before any used since. */
  setLoaded(key: string, record: DiskRecord): void;
  remove(key: string): DiskRecord | undefined;
  /** Keys, the first to evict first. */
  evictionOrder(): Iterable<string>;
  readonly usedBytes: number;
  readonly size: number;
}

/** @example const index = createDiskIndex(); index.setUsed(key, { bodyId, bytes, isVerified: true }); */
export function createDiskIndex(): DiskIndex {
  // Map order is insertion order: re-inserting a key moves it to the end (most recently used).
  const loaded = new Map<string, DiskRecord>();
  const used = new Map<string, DiskRecord>();
  let usedBytes = 0;
  const remove = (key: string) => {
    const record = used.get(key) ?? loaded.get(key);
    if (!record) return undefined;
    used.delete(key);
    loaded.delete(key);
    usedBytes -= record.bytes;
    return record;
  };
  return {
    get: (key) => used.get(key) ?? loaded.get(key),
    setUsed(key, record) {
      remove(key);
      used.set(key, record);
      usedBytes += record.bytes;
    },
    setLoaded(key, record) {
      remove(key);
      loaded.set(key, record);
      usedBytes += record.bytes;
    },
    remove,
    *evictionOrder() {
      // Deleting the key just yielded is safe for a Map iterator: it still visits every later key.
      yield* loaded.keys();
      yield* used.keys();
    },
    get usedBytes() {
      return usedBytes;
    },
    get size() {
      return loaded.size + used.size;
    },
  };
}
