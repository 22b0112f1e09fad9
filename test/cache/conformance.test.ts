// Cases of the http-tests cache-tests suite (cache-tests.fyi) checked against the pure cache policy, grouped by RFC 9111 section; test ids in the names.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CACHE_POLICY } from "../../src/config/index.ts";
import { deltaSeconds, parseCacheControl } from "../../src/cache/cache-control.ts";
import { endToEndHeaders, mergeNotModified } from "../../src/cache/exchange.ts";
import { ageFactsOf, decideStorage, freshnessRules } from "../../src/cache/freshness.ts";
import { answerFrom } from "../../src/cache/viewer-answer.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const date = (offsetS: number) => new Date(NOW + offsetS * 1000).toUTCString();
const store = (status: number, headers: Record<string, string>) => decideStorage({ hasAuthorization: false }, { status, headers }, DEFAULT_CACHE_POLICY, NOW);
const maxAge = (value: string) => deltaSeconds(parseCacheControl(value), "max-age");

describe("§5.2 Cache-Control parsing (cc-parse, cc-freshness)", () => {
  it("freshness-max-age-space-before-equals, freshness-max-age-space-after-equals: whitespace around = makes the directive invalid", () => {
    assert.equal(maxAge("max-age =100"), null);
    assert.equal(maxAge("max-age= 100"), null);
    assert.equal(maxAge("max-age=100"), 100);
  });
  it("freshness-max-age-quoted, -leading-zero, -max-plus: quoted, zero-padded and huge values", () => {
    assert.equal(maxAge('max-age="3600"'), 3600);
    assert.equal(maxAge("max-age=003600"), 3600);
    assert.equal(maxAge("max-age=99999999999"), 2_147_483_648);
  });
  it("freshness-max-age-single-quoted, -negative, -a100, -100a: invalid values are ignored", () => {
    for (const value of ["max-age='3600'", "max-age=-100", "max-age=a100", "max-age=100a"]) assert.equal(maxAge(value), null, value);
  });
  it("freshness-max-age-ignore-quoted(-rev): max-age inside a quoted string is not a directive", () => {
    assert.equal(maxAge('extension="max-age=100", max-age=1'), 1);
    assert.equal(maxAge('max-age=1, extension="max-age=100"'), 1);
  });
});

describe("§5.1 Age", () => {
  it("age-parse-suffix, age-parse-dup-old: a list-valued Age uses its first member", () => {
    assert.equal(ageFactsOf({ age: "7200,0" }, NOW, NOW).ageValueS, 7200);
    assert.equal(ageFactsOf({ age: "7200, 7200" }, NOW, NOW).ageValueS, 7200);
  });
  it("age-parse-nonnumeric, age-parse-negative, age-parse-float: an invalid Age is ignored", () => {
    for (const age of ["abc", "-7200", "7200.0"]) assert.equal(ageFactsOf({ age }, NOW, NOW).ageValueS, 0, age);
  });
});

describe("§3 storing responses", () => {
  it("status-200-must-understand: §5.2.2.3 must-understand with an understood status overrides no-store", () => {
    assert.equal(store(200, { "cache-control": "max-age=3600, no-store, must-understand" }).isStorable, true);
  });
  it("status-599-must-understand: must-understand with a status the cache does not understand is not stored", () => {
    const decision = store(599, { "cache-control": "max-age=3600, no-store, must-understand" });
    assert.deepEqual(decision, { isStorable: false, reason: "must-understand" });
    assert.equal(store(599, { "cache-control": "max-age=3600, must-understand" }).isStorable, false);
    assert.equal(store(599, { "cache-control": "max-age=3600" }).isStorable, true);
  });
  it("headers-store-Proxy-Authentication-Info and the other proxy-specific or hop-by-hop fields: §3.1 not stored", () => {
    const stored = endToEndHeaders({ "proxy-authenticate": "x", "proxy-authentication-info": "x", "proxy-authorization": "x", "keep-alive": "x", connection: "a", a: "1", "test-header": "kept" });
    assert.deepEqual(stored, { "test-header": "kept" });
  });
});

describe("§4.2.4 serving stale responses", () => {
  it("stale-close-no-cache: no-cache forbids serving the response without revalidation, whatever stale-if-error says", () => {
    const rules = freshnessRules({ status: 200, headers: { "cache-control": "max-age=3600, no-cache, stale-if-error=600" } }, DEFAULT_CACHE_POLICY, NOW);
    assert.equal(rules.mayServeStale, false);
  });
});

describe("§4.3.2 answering conditional requests from the cache", () => {
  it("conditional-lm-fresh-no-lm: If-Modified-Since is compared with Date when the stored response has no Last-Modified", () => {
    const stored = { status: 200, headers: { date: date(0) }, bodyBytes: 4 };
    assert.equal(answerFrom(stored, { "if-modified-since": date(0) }, "GET", true, { isStored: true }).kind, "not-modified");
    assert.equal(answerFrom(stored, { "if-modified-since": date(-60) }, "GET", true, { isStored: true }).kind, "full");
  });
});

describe("§4.3.4 freshening stored responses with a 304", () => {
  it("304-etag-update-response-Content-Length: Content-Length is never updated; other fields are", () => {
    const merged = mergeNotModified({ "content-length": "5", "test-header": "a" }, { "content-length": "10", "test-header": "b" });
    assert.deepEqual(merged, { "content-length": "5", "test-header": "b" });
  });
  it("a 304's Set-Cookie is not merged into the stored response (Moat never stores Set-Cookie)", () => {
    assert.equal(mergeNotModified({ etag: '"a"' }, { etag: '"a"', "set-cookie": "s=1" })["set-cookie"], undefined);
  });
});
