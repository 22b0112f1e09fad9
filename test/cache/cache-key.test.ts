// Cache keys per behavior policy, and Accept-Encoding normalisation.
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
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
