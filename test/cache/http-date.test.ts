// RFC 9110 §5.6.7 HTTP-date parsing, strict, and RFC 9111 §5.3's "invalid Expires means expired"; cache-tests ids in the names.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CACHE_POLICY } from "../../src/config/index.ts";
import { freshnessRules } from "../../src/cache/freshness.ts";
import { httpDateMs } from "../../src/cache/http-date.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const FUTURE = Date.UTC(2050, 7, 18, 2, 1, 18);

describe("§5.6.7 HTTP-date", () => {
  it("reads the three formats: IMF-fixdate, rfc850-date, asctime-date", () => {
    assert.equal(httpDateMs("Sun, 06 Nov 1994 08:49:37 GMT", NOW), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(httpDateMs("Sunday, 06-Nov-94 08:49:37 GMT", NOW), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(httpDateMs("Sun Nov  6 08:49:37 1994", NOW), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(httpDateMs("Thu Aug 18 02:01:18 2050", NOW), FUTURE);
    assert.equal(httpDateMs(" Thu, 18 Aug 2050 02:01:18 GMT ", NOW), FUTURE, "surrounding whitespace is not part of the value");
  });
  it("freshness-expires-32bit, freshness-expires-far-future: dates past 2038 and 2100", () => {
    assert.equal(httpDateMs("Tue, 19 Jan 2038 14:14:08 GMT", NOW), Date.UTC(2038, 0, 19, 14, 14, 8));
    assert.equal(httpDateMs("Sun, 21 Nov 2286 04:46:39 GMT", NOW), Date.UTC(2286, 10, 21, 4, 46, 39));
  });
  it("freshness-expires-rfc850: a two-digit year more than 50 years ahead is the most recent past year with those digits", () => {
    assert.equal(httpDateMs("Thursday, 18-Aug-50 02:01:18 GMT", NOW), FUTURE, "2050 is 24 years ahead of 2026");
    assert.equal(httpDateMs("Wednesday, 18-Aug-77 02:01:18 GMT", NOW), Date.UTC(1977, 7, 18, 2, 1, 18), "2077 would be 51 years ahead");
  });
  const invalid: [string, string | string[]][] = [
    ["freshness-expires-invalid", "0"],
    ["freshness-expires-invalid-utc", "Thu, 18 Aug 2050 02:01:18 UTC"],
    ["freshness-expires-invalid-aest", "Thu, 18 Aug 2050 02:01:18 AEST"],
    ["freshness-expires-invalid-2-digit-year", "Thu, 18 Aug 50 02:01:18 GMT"],
    ["freshness-expires-invalid-no-comma", "Thu 18 Aug 2050 02:01:18 GMT"],
    ["freshness-expires-invalid-multiple-spaces", "Thu, 18  Aug  2050 02:01:18 GMT"],
    ["freshness-expires-invalid-date-dashes", "Thu, 18-Aug-2050 02:01:18 GMT"],
    ["freshness-expires-invalid-time-periods", "Thu, 18 Aug 2050 02.01.18 GMT"],
    ["freshness-expires-invalid-1-digit-hour", "Thu, 18 Aug 2050 2:01:18 GMT"],
    ["freshness-expires-invalid-multiple-lines", ["Thu, 18 Aug 2050 02:01:18 GMT", "Thu, 18 Aug 2050 02:01:19 GMT"]],
    ["two values on one line", "Thu, 18 Aug 2050 02:01:18 GMT, Thu, 18 Aug 2050 02:01:19 GMT"],
    ["a day that its month has not", "Fri, 31 Feb 2050 02:01:18 GMT"],
    ["an hour past 23", "Thu, 18 Aug 2050 24:01:18 GMT"],
    ["an unknown month", "Thu, 18 Agu 2050 02:01:18 GMT"],
    ["an unknown day name", "Thr, 18 Aug 2050 02:01:18 GMT"],
    ["an rfc850-date with a short day name", "Thu, 18-Aug-50 02:01:18 GMT"],
    ["an ISO date", "2050-08-18T02:01:18Z"],
  ];
  for (const [name, value] of invalid) {
    it(`${name}: ${JSON.stringify(value)} is not an HTTP-date, and as Expires means already expired (RFC 9111 §5.3)`, () => {
      assert.equal(httpDateMs(value, NOW), null);
      assert.equal(freshnessRules({ status: 200, headers: { expires: value, date: new Date(NOW).toUTCString() } }, DEFAULT_CACHE_POLICY, NOW).lifetimeMs, 0);
    });
  }
  it("freshness-expires-future: a valid Expires gives the lifetime up to it", () => {
    const expires = new Date(NOW + 86_400_000).toUTCString();
    assert.equal(freshnessRules({ status: 200, headers: { expires, date: new Date(NOW).toUTCString() } }, DEFAULT_CACHE_POLICY, NOW).lifetimeMs, 86_400_000);
  });
});
