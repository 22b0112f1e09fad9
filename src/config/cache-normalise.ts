// Defaults for the cache settings, and their normalised shape.

import { resolve } from "node:path";
import type { BehaviorCacheDocument, CacheStorageDocument } from "./cache-schema.ts";
import type { CachePolicyConfig, CacheStorageConfig } from "./cache-types.ts";

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

export const CACHE_DEFAULTS = {
  memoryMaxBytes: 256 * MIB,
  memoryMaxObjectBytes: 8 * MIB,
  diskMaxBytes: 10 * GIB,
  maxObjectBytes: GIB,
  // nginx's proxy_cache_lock_timeout is 5 s too.
  collapseTimeoutMs: 5_000,
  encodings: ["br", "gzip"] as const,
  // What CloudFront compresses, less the rarely used types.
  compressibleTypes: [
    "text/*",
    "application/javascript",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/manifest+json",
    "application/wasm",
    "image/svg+xml",
    "font/ttf",
    "font/otf",
    "application/vnd.ms-fontobject",
  ],
  // CloudFront compresses from 1,000 bytes: below that the header overhead eats the gain.
  compressMinBytes: 1000,
  maxTtlMs: 365 * 86_400_000,
} as const;

/** A behavior without `cache`: RFC 9111 as the origin's headers say, the whole URL as key, compression on. */
export const DEFAULT_CACHE_POLICY: CachePolicyConfig = {
  enabled: true,
  minTtlMs: 0,
  defaultTtlMs: null,
  maxTtlMs: CACHE_DEFAULTS.maxTtlMs,
  honorOriginTtl: true,
  key: { query: "all", headers: [], cookies: [] },
  compress: true,
};

export function normaliseCachePolicy(document: BehaviorCacheDocument | undefined): CachePolicyConfig {
  if (document === undefined) return DEFAULT_CACHE_POLICY;
  if (document === "off") return { ...DEFAULT_CACHE_POLICY, enabled: false, compress: false };
  const query = document.key?.query ?? "all";
  return {
    enabled: true,
    minTtlMs: document.minTtl ?? 0,
    defaultTtlMs: document.defaultTtl ?? null,
    maxTtlMs: document.maxTtl ?? CACHE_DEFAULTS.maxTtlMs,
    honorOriginTtl: document.honorOriginTtl ?? true,
    key: {
      query: typeof query === "string" ? query : [...query].sort(),
      headers: (document.key?.headers ?? []).map((name) => name.toLowerCase()).sort(),
      cookies: [...(document.key?.cookies ?? [])].sort(),
    },
    compress: document.compress ?? true,
  };
}

export function normaliseCacheStorage(document: CacheStorageDocument | undefined, dataDir: string, baseDir: string): CacheStorageConfig {
  const disk = document?.disk;
  const maxObjectBytes = document?.maxObjectSize ?? CACHE_DEFAULTS.maxObjectBytes;
  return {
    memory: {
      maxBytes: document?.memory?.maxSize ?? CACHE_DEFAULTS.memoryMaxBytes,
      maxObjectBytes: Math.min(document?.memory?.maxObjectSize ?? CACHE_DEFAULTS.memoryMaxObjectBytes, maxObjectBytes),
    },
    disk:
      disk === "off"
        ? null
        : { dir: disk?.dir === undefined ? resolve(dataDir, "cache") : resolve(baseDir, disk.dir), maxBytes: disk?.maxSize ?? CACHE_DEFAULTS.diskMaxBytes },
    maxObjectBytes,
    collapseTimeoutMs: document?.collapseTimeout ?? CACHE_DEFAULTS.collapseTimeoutMs,
    compression: {
      encodings: document?.compression?.encodings ?? [...CACHE_DEFAULTS.encodings],
      types: (document?.compression?.types ?? [...CACHE_DEFAULTS.compressibleTypes]).map((type) => type.toLowerCase()),
      minBytes: document?.compression?.minSize ?? CACHE_DEFAULTS.compressMinBytes,
    },
  };
}
