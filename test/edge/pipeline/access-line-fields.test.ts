import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routeFragment, stageFields } from "../../../src/edge/pipeline/access-line-fields.ts";
import type { RoutedBehavior } from "../../../src/edge/snapshot/edge-snapshot.ts";

const never = () => false;

function behavior(path: string): RoutedBehavior {
  return { path } as unknown as RoutedBehavior;
}

describe("the access line's fields made once", () => {
  it("writes a route's distribution and behavior as JSON, escaped, and the same string for the same behavior", () => {
    const images = behavior('/img/"*"\\\u0001');
    const fragment = routeFragment("shop", images);
    assert.deepEqual(JSON.parse(`{${fragment.slice(1)}}`), { distribution: "shop", behavior: '/img/"*"\\\u0001' });
    assert.equal(routeFragment("shop", images), fragment);
    // The same behavior object under another distribution's id is never given the first one's fields.
    assert.deepEqual(JSON.parse(`{${routeFragment("blog", images).slice(1)}}`), { distribution: "blog", behavior: '/img/"*"\\\u0001' });
  });

  it("serialises a frozen stage result once and an ordinary one every time, as it is then", () => {
    const hit = Object.freeze({ cache: "hit", tier: "memory" });
    assert.equal(stageFields(hit, never), ',"cache":"hit","tier":"memory"');
    assert.equal(stageFields(hit, never), ',"cache":"hit","tier":"memory"');
    const fields: Record<string, unknown> = { cache: "miss" };
    assert.equal(stageFields(fields, never), ',"cache":"miss"');
    fields.origin = 'o"1';
    assert.equal(stageFields(fields, never), ',"cache":"miss","origin":"o\\"1"');
    assert.equal(stageFields(fields, (name) => name === "cache"), ',"origin":"o\\"1"');
  });
});
