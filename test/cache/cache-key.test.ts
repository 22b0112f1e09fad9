// Cache keys per behavior policy, and Accept-Encoding normalisation.
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { cacheKey, normaliseAcceptEncoding, requestField } from "../../src/cache/cache-key.ts";

const key = (query: string, config: Parameters<typeof cacheKey>[1], headers: Record<string, string> = {}, extra?: string[]) =>
  cacheKey({ distributionId: "shop", pathname: "/a", query, headers, coding: null, extraComponents: extra }, config).text;
const all = { query: "all", headers: [], cookies: [] } as const;

describe("cache key", () => {
  it("query all: parameter order does not matter; none: the query is ignored; a list keeps only those", () => {
    assert.equal(key("b=2&a=1", all), key("a=1&b=2", all));
    assert.notEqual(key("a=1", all), key("a=2", all));
    assert.equal(key("a=1", { ...all, query: "none" }), key("a=2", { ...all, query: "none" }));
    assert.equal(key("v=1&utm=x", { ...all, query: ["v"] }), key("utm=y&v=1", { ...all, query: ["v"] }));
  });
  it("listed headers and cookies are part of the key; others are not", () => {
    const config = { query: "none", headers: ["x-tenant"], cookies: ["lang"] } as const;
    assert.equal(key("", config, { "x-tenant": "a", cookie: "lang=en; s=1" }), key("", config, { "x-tenant": "a", cookie: "s=2; lang=en", "x-other": "z" }));
    assert.notEqual(key("", config, { "x-tenant": "a" }), key("", config, { "x-tenant": "b" }));
    assert.notEqual(key("", config, { cookie: "lang=en" }), key("", config, { cookie: "lang=fr" }));
  });
  it("extra components from other stages (a viewer identity) separate keys", () => {
    assert.notEqual(key("", all, {}, ["viewer=a"]), key("", all, {}, ["viewer=b"]));
  });
});

describe("Accept-Encoding normalisation", () => {
  it("picks the first offered coding the viewer accepts, honouring q=0 and *", () => {
    assert.equal(normaliseAcceptEncoding("gzip, deflate, br", ["br", "gzip"]), "br");
    assert.equal(normaliseAcceptEncoding("gzip, deflate", ["br", "gzip"]), "gzip");
    assert.equal(normaliseAcceptEncoding("br;q=0, gzip;q=0.5", ["br", "gzip"]), "gzip");
    assert.equal(normaliseAcceptEncoding("*;q=0, identity", ["br", "gzip"]), "identity");
    assert.equal(normaliseAcceptEncoding("*", ["br", "gzip"]), "br");
    assert.equal(normaliseAcceptEncoding(undefined, ["br", "gzip"]), "identity");
  });
});

test("a '_' field name the request lacks reads its '-' spelling, as CGI, PHP, WSGI and Rack do; a '_' field the request has is read as is", () => {
  assert.equal(requestField({ "x-tenant": "a" }, "x_tenant"), "a");
  assert.equal(requestField({ "x-tenant": "a", x_tenant: "b" }, "x_tenant"), "b");
  assert.equal(requestField({ x_tenant: "b" }, "x-tenant"), undefined, "a '-' name never reads a '_' field (the edge drops those by default)");
});

// V8 keeps a string made by + or a template as a tree of its parts (a cons string). A key is kept by the tiers' maps for
// as long as its entry lives, and compared at every lookup: as a tree, a dozen objects spread over the heap to walk.
const FLATNESS_SCRIPT = `
const { cacheKeyText } = await import(${JSON.stringify(new URL("../../src/cache/cache-key.ts", import.meta.url).href)});
const { createCacheStore } = await import(${JSON.stringify(new URL("../../src/cache/cache-store.ts", import.meta.url).href)});
const { createMemoryTier } = await import(${JSON.stringify(new URL("../../src/cache/memory-tier.ts", import.meta.url).href)});
const config = { query: "all", headers: ["x-tenant"], cookies: ["lang"] };
const key = cacheKeyText("shop", "/products/" + process.argv[1], "b=2&a=1", { "x-tenant": "t-" + process.argv[1], cookie: "lang=en" }, null, ["viewer=v"], config);
const store = createCacheStore({ memory: createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20 }), disk: null, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 2 ** 20 });
const variant = store.variantKey(key, ["accept-language"], { "accept-language": "en-GB, en;q=0.8" });
// Not on stdout: V8 prints there through C's stdio (see test/tick-shape.test.ts).
process.stderr.write(JSON.stringify({ key, variant }) + "\\n");
%DebugPrint(key);
%DebugPrint(variant);
`;

test("a cache key and a variant key are each one flat string, not a tree of their parts", async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", FLATNESS_SCRIPT, String(Date.now())], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  const { key, variant } = JSON.parse(stderr.trim().split("\n").at(-1) as string) as { key: string; variant: string };
  assert.ok(key.startsWith("shop\n/products/") && key.includes("\na=1&b=2\n") && key.endsWith("\nviewer=v"), key);
  assert.ok(variant.startsWith(`${key}\n\u0001accept-language:`), variant);
  assert.deepEqual([...stdout.matchAll(/- type: (\w+)/g)].map((match) => match[1]), ["SEQ_ONE_BYTE_STRING_TYPE", "SEQ_ONE_BYTE_STRING_TYPE"], stdout.slice(0, 2000));
});
