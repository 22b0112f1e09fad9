// Host lookup: exact aliases, one-label wildcards, and Host header parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAliasIndex, forwardedAuthority, hostnameOfAuthority } from "../../../src/edge/pipeline/alias-index.ts";

test("exact aliases win over wildcards, and a wildcard covers exactly one label", () => {
  const shop = { id: "shop", aliases: ["shop.test", "*.cdn.test"] };
  const img = { id: "img", aliases: ["img.cdn.test"] };
  const index = createAliasIndex([shop, img]);
  assert.equal(index.find("shop.test"), shop);
  assert.equal(index.find("img.cdn.test"), img);
  assert.equal(index.find("js.cdn.test"), shop);
  assert.equal(index.find("a.b.cdn.test"), undefined);
  assert.equal(index.find("cdn.test"), undefined);
});

test("hostnameOfAuthority strips the port and the trailing dot and lower-cases", () => {
  assert.equal(hostnameOfAuthority("Shop.Test:8443"), "shop.test");
  assert.equal(hostnameOfAuthority("shop.test."), "shop.test");
  assert.equal(hostnameOfAuthority("[::1]:8443"), "::1");
  assert.equal(hostnameOfAuthority(undefined), "");
  assert.equal(hostnameOfAuthority("[::1"), "");
});

test("forwardedAuthority is the normal form (RFC 9110 §4.2.3): case, trailing dot, empty or default port; another port only if the viewer connected to it", () => {
  for (const authority of ["shop.test", "SHOP.Test", "shop.test.", "shop.test:443", "shop.test:", "Shop.Test.:443", "shop.test:1234"]) assert.equal(forwardedAuthority(authority, 443), "shop.test", authority);
  assert.equal(forwardedAuthority("shop.test:8443", 8443), "shop.test:8443");
  assert.equal(forwardedAuthority("Shop.test.:8443", 8443), "shop.test:8443");
  assert.equal(forwardedAuthority("shop.test:8443", undefined), "shop.test");
  assert.equal(forwardedAuthority("[2001:DB8::1]:443", 443), "[2001:db8::1]");
  assert.equal(forwardedAuthority(undefined, 443), "");
});
