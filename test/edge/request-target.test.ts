// Request targets: origin-form only; dot-segments, plain or percent-encoded, are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkRequestTarget } from "../../src/edge/request-target.ts";

test("origin-form paths pass, with the query split off", () => {
  assert.deepEqual(checkRequestTarget("/static/a.css?v=1"), { ok: true, pathname: "/static/a.css" });
  assert.deepEqual(checkRequestTarget("/a..b/.well-known/x"), { ok: true, pathname: "/a..b/.well-known/x" });
  assert.deepEqual(checkRequestTarget("/x?next=/../y"), { ok: true, pathname: "/x" }, "the query is not a path");
});

test("dot-segments are refused, encoded or not", () => {
  for (const url of ["/static/../admin", "/static/./a", "/static/%2e%2e/admin", "/static/%2E/a", "/a/..", "/..?x"]) {
    assert.equal(checkRequestTarget(url).ok, false, url);
  }
});

test("absolute-form and asterisk-form are refused", () => {
  assert.equal(checkRequestTarget("https://shop.test/a").ok, false);
  assert.equal(checkRequestTarget("*").ok, false);
  assert.equal(checkRequestTarget("").ok, false);
});
