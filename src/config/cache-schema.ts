// The shape of the cache settings in a config file: the top-level `cache` (tiers, compression) and a behavior's `cache` policy.

import { z } from "zod";
import { closedObject } from "./closed-object.ts";
import { formatByteSize, parseByteSize } from "./byte-size.ts";
import * as field from "./fields.ts";
import { describeValue } from "./issues.ts";

const YEAR_MS = 365 * 86_400_000;
const ttl = field.duration({ min: 0, max: 10 * YEAR_MS });

/** A size such as "256MiB", in bytes, between `min` and `max` inclusive. */
export function byteSize(min: number, max: number) {
  const needsUnit = (issue: { input: unknown }) =>
    typeof issue.input === "number" ? `a size needs a unit, as in "${issue.input}MiB" (got ${issue.input})` : undefined;
  return z.string({ error: needsUnit }).transform((text, ctx) => {
    const bytes = parseByteSize(text);
    if (typeof bytes === "string") {
      ctx.addIssue({ code: "custom", message: `${bytes} (got ${describeValue(text)})`, input: text });
      return z.NEVER;
    }
    if (bytes < min || bytes > max) {
      ctx.addIssue({ code: "custom", message: `must be between ${formatByteSize(min)} and ${formatByteSize(max)} (got ${describeValue(text)})`, input: text });
      return z.NEVER;
    }
    return bytes;
  }).meta({ format: "size" });
}

const TIB = 1024 ** 4;
const headerName = field.checkedString((value) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? null : "must be an HTTP header name"));
const cookieName = field.checkedString((value) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? null : "must be a cookie name"));
const queryName = z.string().min(1, { error: "must be a query parameter name" });

// The viewer's certificate itself (PEM, DER, chain) identifies no more than its fingerprint does and would
// make every key kilobytes long; keys take the identity fields instead (moat-viewer-cert-sha256, -subject…).
const CERTIFICATE_BODY_HEADERS = new Set(["moat-viewer-cert-pem", "client-cert", "client-cert-chain", "x-forwarded-client-cert"]);
const keyHeaderName = headerName.superRefine((value, ctx) => {
  // In any spelling: the cache reads a "_" name the request lacks in its "-" spelling (cache-key.ts requestField).
  if (CERTIFICATE_BODY_HEADERS.has(value.toLowerCase().replaceAll("_", "-"))) {
    ctx.addIssue({ code: "custom", message: `${value} carries the whole viewer certificate and cannot be part of a cache key; use moat-viewer-cert-sha256 (or -subject, -serial) to key on the viewer's identity`, input: value });
  }
});

const cacheKey = closedObject({
  query: z
    .union([z.literal(["none", "all"]), field.uniqueList(queryName).min(1)], {
      error: (issue) => `must be none, all, or a list of query parameter names (got ${describeValue(issue.input)})`,
    })
    .optional(),
  headers: field.uniqueList(keyHeaderName).optional(),
  cookies: field.uniqueList(cookieName).optional(),
});

const cachePolicy = closedObject({
  minTtl: ttl.optional(),
  defaultTtl: ttl.optional(),
  maxTtl: ttl.optional(),
  honorOriginTtl: z.boolean().optional(),
  key: cacheKey.optional(),
  compress: z.boolean().optional(),
}).superRefine((policy, ctx) => {
  const min = policy.minTtl ?? 0;
  const max = policy.maxTtl ?? YEAR_MS;
  if (min > max) ctx.addIssue({ code: "custom", path: ["minTtl"], message: "must not be more than maxTtl", input: policy.minTtl });
  const fallback = policy.defaultTtl;
  if (fallback !== undefined && (fallback < min || fallback > max)) {
    ctx.addIssue({ code: "custom", path: ["defaultTtl"], message: "must be between minTtl and maxTtl", input: fallback });
  }
});

/** A behavior's `cache`: off, or a policy (every key optional). */
export const behaviorCache = z.union([z.literal("off"), cachePolicy], {
  error: (issue) => `must be off or a cache policy { minTtl, defaultTtl, maxTtl, honorOriginTtl, key, compress } (got ${describeValue(issue.input)})`,
});

const compression = closedObject({
  encodings: field.uniqueList(z.enum(["br", "gzip"])).optional(),
  types: field.uniqueList(z.string().min(1)).optional(),
  minSize: byteSize(0, 1024 ** 3).optional(),
});

/** The top-level `cache`: storage tiers, object size limit, collapsed forwarding, compression. */
export const cacheStorage = closedObject({
  memory: closedObject({ maxSize: byteSize(0, TIB).optional(), maxObjectSize: byteSize(0, TIB).optional() }).optional(),
  disk: z
    .union([z.literal("off"), closedObject({ dir: field.filePath.optional(), maxSize: byteSize(1024 ** 2, 1024 * TIB).optional() })], {
      error: (issue) => `must be off or { dir, maxSize } (got ${describeValue(issue.input)})`,
    })
    .optional(),
  maxObjectSize: byteSize(1, TIB).optional(),
  collapseTimeout: field.duration({ min: 1, max: 10 * 60_000 }).optional(),
  compression: compression.optional(),
});

export type BehaviorCacheDocument = z.output<typeof behaviorCache>;
export type CacheStorageDocument = z.output<typeof cacheStorage>;
