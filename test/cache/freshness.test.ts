// RFC 9111 freshness, storability and age as pure functions, grouped by section; time is passed in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CACHE_POLICY } from "../../src/config/index.ts";
import { parseCacheControl } from "../../src/cache/cache-control.ts";
import { ageFactsOf, currentAgeMs, decideStorage, freshnessRules } from "../../src/cache/freshness.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const date = (offsetS: number) => new Date(NOW + offsetS * 1000).toUTCString();
const store = (status: number, headers: Record<string, string>, hasAuthorization = false, policy = DEFAULT_CACHE_POLICY) =>
  decideStorage({ hasAuthorization }, { status, headers }, policy, NOW);
const lifetime = (headers: Record<string, string>, policy = DEFAULT_CACHE_POLICY, status = 200) => freshnessRules({ status, headers }, policy, NOW).lifetimeMs;

describe("§5.2 Cache-Control parsing", () => {
  it("lowercases names, unquotes values, keeps the first of a repeated directive, joins field lines", () => {
    const cc = parseCacheControl(['Max-Age=60, no-cache="set-cookie, x"', "max-age=5, private"]);
    assert.equal(cc.get("max-age"), "60");
    assert.equal(cc.get("no-cache"), "set-cookie, x");
    assert.equal(cc.get("private"), true);
  });
});

describe("§4.2.1 freshness lifetime", () => {
  it("s-maxage wins over max-age, which wins over Expires", () => {
    assert.equal(lifetime({ "cache-control": "max-age=60, s-maxage=120", expires: date(30), date: date(0) }), 120_000);
    assert.equal(lifetime({ "cache-control": "max-age=60", expires: date(30), date: date(0) }), 60_000);
    assert.equal(lifetime({ expires: date(30), date: date(0) }), 30_000);
  });
  it("an invalid Expires means already expired", () => {
    assert.equal(lifetime({ expires: "0" }), 0);
  });
  it("a malformed max-age is ignored", () => {
    assert.equal(lifetime({ "cache-control": "max-age=abc", expires: date(30), date: date(0) }), 30_000);
  });
  it("§4.2.2 heuristic: 10% of the time since Last-Modified, for heuristically cacheable statuses only", () => {
    assert.equal(lifetime({ "last-modified": date(-1000), date: date(0) }), 100_000);
    assert.equal(lifetime({ "last-modified": date(-1000), date: date(0) }, DEFAULT_CACHE_POLICY, 302), 0);
  });
  it("the policy clamps the origin's lifetime to min..max, and defaultTtl stands in when there is none", () => {
    const policy = { ...DEFAULT_CACHE_POLICY, minTtlMs: 10_000, maxTtlMs: 100_000, defaultTtlMs: 50_000 };
    assert.equal(lifetime({ "cache-control": "max-age=1" }, policy), 10_000);
    assert.equal(lifetime({ "cache-control": "max-age=1000" }, policy), 100_000);
    assert.equal(lifetime({}, policy), 50_000);
    assert.equal(lifetime({ "cache-control": "max-age=1000" }, { ...policy, honorOriginTtl: false }), 50_000);
  });
});

describe("§3 storing responses", () => {
  it("stores a response with explicit freshness, or a heuristically cacheable status with a validator", () => {
    assert.equal(store(200, { "cache-control": "max-age=60" }).isStorable, true);
    assert.equal(store(404, { "last-modified": date(-1000) }).isStorable, true);
    assert.equal(store(500, {}).isStorable, false);
    assert.equal(store(302, { "cache-control": "max-age=60" }).isStorable, true);
  });
  it("refuses no-store, private, 206, 304, Vary: * and Set-Cookie", () => {
    const reasons = [
      store(200, { "cache-control": "no-store, max-age=60" }),
      store(200, { "cache-control": 'private="x", max-age=60' }),
      store(206, { "cache-control": "max-age=60" }),
      store(304, { "cache-control": "max-age=60" }),
      store(200, { "cache-control": "max-age=60", vary: "*" }),
      store(200, { "cache-control": "max-age=60", "set-cookie": "a=1" }),
    ].map((decision) => (decision.isStorable ? "stored" : decision.reason));
    assert.deepEqual(reasons, ["no-store", "private", "status 206", "status 304", "vary-star", "set-cookie"]);
  });
  it("§3.5 a request with Authorization: only public, s-maxage or must-revalidate responses", () => {
    assert.equal(store(200, { "cache-control": "max-age=60" }, true).isStorable, false);
    for (const cc of ["public, max-age=60", "s-maxage=60", "must-revalidate, max-age=60"]) assert.equal(store(200, { "cache-control": cc }, true).isStorable, true, cc);
  });
  it("no-cache is stored (to be revalidated); must-revalidate and s-maxage forbid serving stale", () => {
    const noCache = store(200, { "cache-control": "no-cache", etag: '"a"' });
    assert.ok(noCache.isStorable && noCache.rules.isNoCache);
    assert.equal(freshnessRules({ status: 200, headers: { "cache-control": "max-age=1, must-revalidate" } }, DEFAULT_CACHE_POLICY, NOW).mayServeStale, false);
    assert.equal(freshnessRules({ status: 200, headers: { "cache-control": "s-maxage=1" } }, DEFAULT_CACHE_POLICY, NOW).mayServeStale, false);
    const sie = freshnessRules({ status: 200, headers: { "cache-control": "max-age=1, stale-if-error=30, stale-while-revalidate=20" } }, DEFAULT_CACHE_POLICY, NOW);
    assert.deepEqual([sie.staleIfErrorMs, sie.staleWhileRevalidateMs, sie.mayServeStale], [30_000, 20_000, true]);
  });
});

describe("§4.2.3 age", () => {
  it("takes the larger of the apparent age and the Age header plus the response delay, then adds resident time", () => {
    const facts = ageFactsOf({ date: date(-10), age: "3" }, NOW - 2_000, NOW);
    assert.equal(currentAgeMs(facts, NOW), 10_000); // apparent 10 s > 3 s + 2 s delay
    assert.equal(currentAgeMs(facts, NOW + 5_000), 15_000);
    const aged = ageFactsOf({ date: date(0), age: "30" }, NOW - 1_000, NOW);
    assert.equal(currentAgeMs(aged, NOW), 31_000);
  });
  it("a response without Date is dated when it arrived", () => {
    assert.equal(currentAgeMs(ageFactsOf({}, NOW, NOW), NOW + 1_000), 1_000);
  });
});

describe("rules shared between stored responses", () => {
  const rules = (headers: Record<string, string>) => freshnessRules({ status: 200, headers }, DEFAULT_CACHE_POLICY, NOW);
  it("responses with the same rules get one frozen object; different rules, different objects", () => {
    const first = rules({ "cache-control": "public, max-age=3600", etag: '"a"' });
    assert.equal(rules({ "cache-control": "max-age=3600, public", etag: '"b"' }), first, "the same rules, however the header spells them");
    assert.ok(Object.isFrozen(first));
    assert.deepEqual({ ...first }, { lifetimeMs: 3_600_000, isNoCache: false, mayServeStale: true, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, isReusableWithAuthorization: true });
    assert.notEqual(rules({ "cache-control": "public, max-age=60" }), first, "another lifetime");
    assert.notEqual(rules({ "cache-control": "public, max-age=3600, must-revalidate" }), first, "another flag");
    assert.notEqual(rules({ "cache-control": "public, max-age=3600, stale-if-error=60" }), first, "another stale-if-error");
  });
  it("is bounded: heuristic lifetimes, one per Last-Modified, start the memo again rather than grow it", () => {
    const first = rules({ "cache-control": "max-age=7" });
    for (let index = 1; index <= 5000; index++) rules({ "cache-control": "public", date: date(0), "last-modified": date(-10 * index) });
    const again = rules({ "cache-control": "max-age=7" });
    assert.deepEqual(again, first);
    assert.notEqual(again, first, "made anew after the memo started again");
  });
});
