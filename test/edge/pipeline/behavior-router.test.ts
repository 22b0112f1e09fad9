// Behavior selection: CloudFront-style wildcards, the most specific pattern first, "*" as the default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileBehaviorRouter } from "../../../src/edge/pipeline/behavior-router.ts";

test("the most specific pattern wins whatever the configured order", () => {
  const match = compileBehaviorRouter([{ path: "*" }, { path: "/static/*" }, { path: "/static/img/*" }, { path: "/api/v?/*" }]);
  assert.equal(match("/static/img/a.png")?.path, "/static/img/*");
  assert.equal(match("/static/a.css")?.path, "/static/*");
  assert.equal(match("/api/v2/users")?.path, "/api/v?/*");
  assert.equal(match("/api/v10/users")?.path, "*", "? is exactly one character");
  assert.equal(match("/other")?.path, "*");
});

test("patterns are literal apart from * and ?, and case-sensitive", () => {
  const match = compileBehaviorRouter([{ path: "/a.b/(x)+*" }, { path: "/Static/*" }]);
  assert.equal(match("/a.b/(x)+y")?.path, "/a.b/(x)+*");
  assert.equal(match("/aXb/(x)+y"), undefined, "a dot is a dot");
  assert.equal(match("/static/x"), undefined);
});

test("ties keep the configured order", () => {
  const match = compileBehaviorRouter([{ path: "/a*", id: 1 }, { path: "/*a", id: 2 }]);
  assert.equal(match("/aa")?.id, 1);
});
