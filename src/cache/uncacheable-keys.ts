// Keys whose last origin answer could not be stored (no-store, private, Set-Cookie…): their requests go to the origin at once instead of waiting behind one another (Varnish's hit-for-miss).
//
// Collapsed forwarding makes requests for a key wait for the one already on its way to the origin, on the bet that
// its answer will be stored and serve them all. For a key whose answers are never stored the bet always loses:
// each waiting request learns so when the first one's headers arrive, and only then goes to the origin itself,
// paying two origin round trips instead of one. Remembering the outcome per key lets the next requests skip the
// wait. A later answer that is stored forgets the key at once, so collapsing comes back with the first cacheable response.

/** How long a key is remembered after its last uncacheable answer (Varnish's builtin hit-for-miss lasts 120 s). */
export const UNCACHEABLE_MEMORY_MS = 120_000;
const REMARK_AFTER_MS = 1_000;
/** At most this many keys are remembered; the least recently marked go first. */
export const UNCACHEABLE_MAX_KEYS = 10_000;

export interface UncacheableKeys {
  /** The origin's answer for this primary key could not be stored, whoever asked. */
  mark(primaryKey: string, nowMs: number): void;
  /** An answer for this key was stored (or may be): requests collapse again. */
  forget(primaryKey: string): void;
  /** True when the key's last answer, less than UNCACHEABLE_MEMORY_MS ago, could not be stored. */
  isUncacheable(primaryKey: string, nowMs: number): boolean;
}

/** @example const keys = createUncacheableKeys(); keys.mark(key, clock.now()); keys.isUncacheable(key, clock.now()); // true */
export function createUncacheableKeys(maxKeys = UNCACHEABLE_MAX_KEYS): UncacheableKeys {
  // Map order is marking order (a mark deletes and re-adds): the first key is the oldest.
  const markedAt = new Map<string, number>();
  return {
    mark(primaryKey, nowMs) {
      // A key marked again within the second keeps its place and time: a busy uncacheable URL is marked by every
      // request, and moving it to the end each time cost more than the second it would be remembered longer.
      const at = markedAt.get(primaryKey);
      if (at !== undefined && nowMs - at < REMARK_AFTER_MS && nowMs >= at) return;
      markedAt.delete(primaryKey);
      markedAt.set(primaryKey, nowMs);
      if (markedAt.size > maxKeys) markedAt.delete(markedAt.keys().next().value as string);
    },
    forget(primaryKey) {
      if (markedAt.size > 0) markedAt.delete(primaryKey);
    },
    isUncacheable(primaryKey, nowMs) {
      if (markedAt.size === 0) return false;
      const at = markedAt.get(primaryKey);
      if (at === undefined) return false;
      if (nowMs - at < UNCACHEABLE_MEMORY_MS) return true;
      markedAt.delete(primaryKey);
      return false;
    },
  };
}
