// What the cache keeps about a stored response, whichever tier holds its body.

import type { AgeFacts, FreshnessRules } from "./freshness.ts";

export interface EntryMeta {
  /** The full key: the primary key, plus the Vary values when the response has Vary. */
  readonly key: string;
  readonly primaryKey: string;
  readonly status: number;
  /** End-to-end response fields as the origin sent them (hop-by-hop fields removed). */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly rules: FreshnessRules;
  readonly age: AgeFacts;
  /** The Vary names (lowercased) and the request's values for them when stored; null without Vary. */
  readonly vary: { readonly names: readonly string[] } | null;
  readonly bodyBytes: number;
  /** SHA-256 of the body (hex): a disk entry is checked against it before it is first served. */
  readonly bodySha256: string;
  /** The number of invalidations known when the request that filled it started (see invalidations.ts). */
  readonly invalidationMark: number;
}

/** A body the tiers can hand out: whole, or a byte range of it (inclusive end). */
export interface StoredBody {
  stream(range?: { start: number; end: number }): import("node:stream").Readable;
  /** The bytes themselves, when they are already in memory: a hit is then written without a stream (a pipeline costs more than a small body). */
  chunks?(range?: { start: number; end: number }): readonly Buffer[];
  /** The whole body as latin1 text (a character per byte), when the tier keeps a small body so: it goes out with the head in one write. */
  readonly text?: string | undefined;
}

export interface StoredEntry {
  readonly meta: EntryMeta;
  readonly body: StoredBody;
  readonly tier: "memory" | "disk";
  /**
   * The viewer heads a hit makes from `meta` (deliver.ts), kept here by a tier that hands out the same entry object
   * hit after hit (the memory tier): the one head, or a list once there are more. Absent on an entry made for one
   * response: its heads go in a WeakMap by meta.
   */
  heads?: PreparedHead | PreparedHead[];
}

/** A stored response's head as a plain GET or HEAD gets it, made once per method and header policy (deliver.ts). */
export interface PreparedHead {
  /** The metadata it was made from. */
  readonly meta: EntryMeta;
  readonly method: string;
  readonly viewerHeaders: unknown;
  readonly headers: Readonly<import("node:http").OutgoingHttpHeaders>;
}

/** Rough bytes of an entry's metadata, so that the memory bound covers headers too. */
export function metaBytes(meta: EntryMeta): number {
  // Calibrated against bench/cache-index.ts: about 637 heap bytes per entry with a 56-character key and three headers,
  // the head a fill prepares for the next hits (deliver.ts) included, which holds one more pointer per field. Values
  // count as the entry's own, though repeated ones are shared (shared-values.ts): an estimate from above.
  let bytes = 400 + meta.key.length * 2;
  for (const name in meta.headers) {
    const value = meta.headers[name];
    bytes += name.length + (Array.isArray(value) ? value.join("").length : (value?.length ?? 0)) + 24;
  }
  return bytes;
}
