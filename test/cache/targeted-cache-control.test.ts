// RFC 9213 targeted cache control: CDN-Cache-Control (and Moat-CDN-Cache-Control) decide for this cache over Cache-Control and Expires; cases after the cache-tests suite's cdn-* tests.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CACHE_POLICY } from "../../src/config/index.ts";
import { decideStorage, freshnessRules } from "../../src/cache/freshness.ts";
import { responseDirectives } from "../../src/cache/targeted-cache-control.ts";
import { viewerResponseHeaders } from "../../src/edge/pipeline/forwarded-headers.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const date = (offsetS: number) => new Date(NOW + offsetS * 1000).toUTCString();
const lifetimeS = (headers: Record<string, string>) => freshnessRules({ status: 200, headers: { date: date(0), ...headers } }, DEFAULT_CACHE_POLICY, NOW).lifetimeMs / 1000;
const isStored = (headers: Record<string, string>) => decideStorage({ hasAuthorization: false }, { status: 200, headers: { date: date(0), ...headers } }, DEFAULT_CACHE_POLICY, NOW).isStorable;

describe("RFC 9213 §2.1: a valid targeted field replaces Cache-Control and Expires", () => {
  it("cdn-max-age, cdn-max-age-cc-max-age-0: CDN-Cache-Control's max-age wins over Cache-Control's", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=3600" }), 3600);
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=3600", "cache-control": "max-age=0" }), 3600);
  });
  it("cdn-max-age-0: CDN-Cache-Control max-age=0 makes a Cache-Control max-age=3600 response stale at once", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=0", "cache-control": "max-age=3600" }), 0);
  });
  it("cdn-max-age-expires, cdn-max-age-0-expires: Expires is ignored when the targeted field governs", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=3600", expires: date(-10) }), 3600);
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=0", expires: date(3600) }), 0);
  });
  it("cdn-fresh-cc-nostore, cdn-no-store-cc-fresh: no-store obeys the targeted field", () => {
    assert.equal(isStored({ "cdn-cache-control": "max-age=3600", "cache-control": "no-store" }), true);
    assert.equal(isStored({ "cdn-cache-control": "no-store", "cache-control": "max-age=3600" }), false);
  });
  it("cdn-private: private in the targeted field keeps it out of the shared cache", () => {
    assert.equal(isStored({ "cdn-cache-control": "private", "cache-control": "max-age=3600" }), false);
  });
  it("Moat-CDN-Cache-Control comes first in Moat's target list", () => {
    assert.equal(lifetimeS({ "moat-cdn-cache-control": "max-age=60", "cdn-cache-control": "max-age=3600" }), 60);
    assert.equal(responseDirectives({ "moat-cdn-cache-control": "max-age=60" }).field, "moat-cdn-cache-control");
  });
});

describe("RFC 9213 §2.1: an invalid targeted field is ignored whole; a directive of the wrong type is ignored", () => {
  it("cdn-max-age-space-before-equals, cdn-max-age-case-insensitive: not a Structured Fields Dictionary, so Cache-Control decides", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age =3600", "cache-control": "max-age=10" }), 10);
    assert.equal(lifetimeS({ "cdn-cache-control": "Max-Age=3600", "cache-control": "max-age=10" }), 10);
    assert.equal(responseDirectives({ "cdn-cache-control": "", "cache-control": "max-age=10" }).field, "cache-control");
  });
  it("cdn-max-age-quoted, cdn-max-age-float, cdn-max-age-negative: max-age must be a non-negative Integer", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": 'max-age="3600"', "cache-control": "max-age=10" }), 0);
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=3600.5", "cache-control": "max-age=10" }), 0);
    assert.equal(lifetimeS({ "cdn-cache-control": "max-age=-1", "cache-control": "max-age=10" }), 0);
  });
  it("cdn-max-age-extension: unknown directives and parameters do not spoil the field", () => {
    assert.equal(lifetimeS({ "cdn-cache-control": "foo=bar, max-age=3600;x=1" }), 3600);
  });
});

describe("what the viewer gets", () => {
  it("Moat-CDN-Cache-Control is consumed by Moat; CDN-Cache-Control goes on for the next CDN", () => {
    const out = viewerResponseHeaders({ "moat-cdn-cache-control": "max-age=60", "cdn-cache-control": "max-age=3600", "cache-control": "no-cache" }, "1.1");
    assert.equal(out["moat-cdn-cache-control"], undefined);
    assert.equal(out["cdn-cache-control"], "max-age=3600");
  });
});
