// Host lookup: exact aliases, one-label wildcards, and Host header parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAliasIndex, hostnameOfAuthority } from "../../src/edge/alias-index.ts";

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
