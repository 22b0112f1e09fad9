// The cache settings in a config: defaults, normalisation, and errors that name their path.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigInvalidError } from "../../src/errors.ts";
import { parseConfig } from "../../src/config/index.ts";

const base = (behavior: Record<string, unknown>, cache?: Record<string, unknown>) => ({
  dataDir: "/var/lib/moat",
  ...(cache ? { cache } : {}),
  distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: "https://api.internal" }], behaviors: [{ path: "*", target: "api", ...behavior }] }],
});
const issues = (document: unknown) => {
  try {
    parseConfig(document, { source: "test", baseDir: "/etc/moat" });
  } catch (error) {
    if (error instanceof ConfigInvalidError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
};

describe("cache config", () => {
  it("normalises a policy and the storage settings", () => {
    const config = parseConfig(
      base({ cache: { minTtl: "1s", defaultTtl: "1d", maxTtl: "365d", key: { query: ["v", "a"], headers: ["X-Tenant"], cookies: ["lang"] } } }, { memory: { maxSize: "64MiB" }, disk: { maxSize: "1GiB" }, maxObjectSize: "100MB" }),
      { source: "test", baseDir: "/etc/moat" },
    );
    const policy = config.distributions[0]?.behaviors[0]?.cache;
    assert.deepEqual(policy?.key, { query: ["a", "v"], headers: ["x-tenant"], cookies: ["lang"] });
    assert.deepEqual([policy?.minTtlMs, policy?.defaultTtlMs, policy?.maxTtlMs], [1_000, 86_400_000, 365 * 86_400_000]);
    assert.equal(config.cache.memory.maxBytes, 64 * 2 ** 20);
    assert.deepEqual(config.cache.disk, { dir: "/var/lib/moat/cache", maxBytes: 2 ** 30 });
    assert.equal(config.cache.maxObjectBytes, 100_000_000);
  });
  it("names what is wrong, with its path", () => {
    const found = [
      ...issues(base({ cache: { minTtl: "1h", maxTtl: "1m" } })),
      ...issues(base({ cache: { defaultTtl: "2d", maxTtl: "1d" } })),
      ...issues(base({ cache: { key: { query: "some" } } })),
      ...issues(base({ cache: "maybe" })),
      ...issues(base({ cache: { key: { headers: ["Moat-Viewer-Cert-PEM"] } } })),
      ...issues(base({ cache: { key: { headers: ["client_cert"] } } })),
      ...issues(base({}, { memory: { maxSize: "12" } })),
      ...issues(base({}, { disk: { maxSiz: "1GiB" } })),
    ];
    assert.deepEqual(found, [
      "distributions[0].behaviors[0].cache.minTtl: must not be more than maxTtl",
      "distributions[0].behaviors[0].cache.defaultTtl: must be between minTtl and maxTtl",
      'distributions[0].behaviors[0].cache.key.query: must be none, all, or a list of query parameter names (got "some")',
      'distributions[0].behaviors[0].cache: must be off or a cache policy { minTtl, defaultTtl, maxTtl, honorOriginTtl, key, compress } (got "maybe")',
      "distributions[0].behaviors[0].cache.key.headers[0]: Moat-Viewer-Cert-PEM carries the whole viewer certificate and cannot be part of a cache key; use moat-viewer-cert-sha256 (or -subject, -serial) to key on the viewer's identity",
      "distributions[0].behaviors[0].cache.key.headers[0]: client_cert carries the whole viewer certificate and cannot be part of a cache key; use moat-viewer-cert-sha256 (or -subject, -serial) to key on the viewer's identity",
      'cache.memory.maxSize: a unit is needed (B, KiB, MiB, GiB, TiB, KB, MB, GB or TB) (got "12")',
      'cache.disk.maxSiz: unknown key (did you mean "maxSize"?)',
    ]);
  });
});
