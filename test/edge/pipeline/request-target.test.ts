// Request heads: one Host, Host agreeing with :authority, absolute-form read as RFC 9112 §3.2.2 says; request targets: dot-segments, plain, percent-encoded or hidden behind %2F, \\ or ;, are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkRequestTarget, normalisedPath, readRequestHead } from "../../../src/edge/pipeline/request-target.ts";
import type { RequestHeadInput } from "../../../src/edge/pipeline/request-target.ts";

const h1 = (url: string, rawHeaders: string[]): RequestHeadInput => ({
  httpVersionMajor: 1,
  url,
  rawHeaders,
  headers: Object.fromEntries(rawHeaders.flatMap((value, index) => (index % 2 === 0 ? [[value.toLowerCase(), rawHeaders[index + 1]]] : []))),
});

test("origin-form paths pass, with the query split off", () => {
  assert.deepEqual(checkRequestTarget("/static/a.css?v=1"), { ok: true, pathname: "/static/a.css", normalised: "/static/a.css" });
  assert.deepEqual(checkRequestTarget("/a..b/.well-known/x"), { ok: true, pathname: "/a..b/.well-known/x", normalised: "/a..b/.well-known/x" });
  assert.deepEqual(checkRequestTarget("/x?next=/../y"), { ok: true, pathname: "/x", normalised: "/x" }, "the query is not a path");
});

test("dot-segments are refused, encoded or not", () => {
  for (const url of ["/static/../admin", "/static/./a", "/static/%2e%2e/admin", "/static/%2E/a", "/a/..", "/..?x"]) {
    assert.equal(checkRequestTarget(url).ok, false, url);
  }
});

test("dot-segments hidden from a literal reading are refused: an encoded /, a \\, a ;parameter, a double encoding", () => {
  for (const url of ["/static/..;/admin", "/static/..;x=1/admin", "/static/..%2fadmin", "/static/..%2Fadmin", "/static%2f..%2fadmin", "/static/..\\admin", "/static/%2e%2e%2fadmin", "/static/.%2e/admin", "/static/%252e%252e/admin", "/a/..%5cb"]) {
    const target = checkRequestTarget(url);
    assert.equal(target.ok, false, url);
    assert.match(!target.ok ? target.problem : "", /\. or \.\. segment/, url);
  }
});

test("the normalised path is the most lenient origin's reading, and costs nothing for a plain path", () => {
  assert.equal(normalisedPath("/%61pi/x"), "/api/x");
  assert.equal(normalisedPath("//api//x"), "/api/x");
  assert.equal(normalisedPath("/api;jsessionid=1/x;v=2"), "/api/x");
  assert.equal(normalisedPath("/a%2Fb\\c"), "/a/b/c");
  assert.equal(normalisedPath("/caf%C3%A9"), "/caf%C3%A9", "non-ASCII stays encoded");
  const plain = "/static/a.css";
  assert.equal(normalisedPath(plain), plain);
  assert.deepEqual(checkRequestTarget("/static/a%20b.css"), { ok: true, pathname: "/static/a%20b.css", normalised: "/static/a b.css" });
});

test("absolute-form and asterisk-form are refused", () => {
  assert.equal(checkRequestTarget("https://shop.test/a").ok, false);
  assert.equal(checkRequestTarget("*").ok, false);
  assert.equal(checkRequestTarget("").ok, false);
});

test("RFC 9112 §3.2: more than one Host line is a 400, in any case", () => {
  assert.deepEqual(readRequestHead(h1("/a", ["Host", "shop.test"])), { ok: true, authority: "shop.test", path: "/a" });
  const twice = readRequestHead(h1("/a", ["Host", "shop.test", "host", "shop.test"]));
  assert.equal(twice.ok === false && twice.code, "duplicate-host");
});

test("RFC 9112 §3.2.2: an absolute-form target's authority replaces Host, and the path goes on in origin-form", () => {
  assert.deepEqual(readRequestHead(h1("https://Shop.test:443/a/b?c=d", ["Host", "other.test"])), { ok: true, authority: "Shop.test:443", path: "/a/b?c=d" });
  assert.deepEqual(readRequestHead(h1("https://shop.test", [])), { ok: true, authority: "shop.test", path: "/" });
  assert.deepEqual(readRequestHead(h1("https://shop.test?x", [])), { ok: true, authority: "shop.test", path: "/?x" });
  const http = readRequestHead(h1("http://shop.test/a", []));
  assert.equal(http.ok === false && http.status, 421);
  for (const url of ["https://user@shop.test/a", "https:///a"]) {
    const bad = readRequestHead(h1(url, []));
    assert.equal(bad.ok === false && bad.status, 400, url);
  }
});

test("RFC 9113 §8.3.1: a host header must name the :authority's entity", () => {
  const h2 = (host: string | undefined): RequestHeadInput => ({
    httpVersionMajor: 2,
    url: "/a",
    rawHeaders: [":authority", "shop.test", ...(host === undefined ? [] : ["host", host])],
    headers: { ":authority": "shop.test", ...(host === undefined ? {} : { host }) },
  });
  assert.deepEqual(readRequestHead(h2(undefined)), { ok: true, authority: "shop.test", path: "/a" });
  assert.equal(readRequestHead(h2("SHOP.test:443")).ok, true);
  const other = readRequestHead(h2("other.test"));
  assert.equal(other.ok === false && other.code, "host-authority-mismatch");
});
