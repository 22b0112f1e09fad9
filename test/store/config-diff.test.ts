// diffConfig: what making the store match a document would change, per resource and field by field (no I/O: a store read is plain data).
import assert from "node:assert/strict";
import { test } from "node:test";
import { diffConfig, preferStored } from "../../src/store/index.ts";
import type { StoreRead, StoredResource } from "../../src/store/index.ts";

function stateOf(resources: Omit<StoredResource, "version" | "revision">[]): StoreRead {
  return { revision: 7, document: {}, resources: resources.map((resource) => ({ ...resource, version: 1, revision: 7 })) };
}

const origin = (id: string, url = `https://${id}.internal:9443`) => ({ id, url });
const shop = { id: "shop", aliases: ["shop.test"], origins: [origin("api"), origin("dr")] };

test("an origin added first is one addition, not every origin shifted; order is reported apart", () => {
  const current = stateOf([{ kind: "distribution", name: "shop", document: shop }]);
  const diff = diffConfig(current, { distributions: [{ ...shop, origins: [origin("new"), origin("dr"), origin("api", "https://api.internal:1")] }] });
  assert.deepEqual(diff, {
    revision: 7,
    unchanged: 0,
    changes: [
      {
        action: "change",
        kind: "distribution",
        name: "shop",
        fields: [
          { change: "changed", path: "origins[id=api].url", before: "https://api.internal:9443", after: "https://api.internal:1" },
          { change: "added", path: "origins[id=new]", after: origin("new") },
          { change: "reordered", path: "origins", before: ["api", "dr"], after: ["dr", "api"] },
        ],
      },
    ],
  });
});

test("keys in another order are no change; a setting's whole value, a removed key and a list of values are", () => {
  const current = stateOf([
    { kind: "setting", name: "workers", document: 1 },
    { kind: "setting", name: "listen", document: { https: 8443, host: "0.0.0.0" } },
    { kind: "distribution", name: "shop", document: shop },
    { kind: "trustStore", name: "old", document: { caBundle: "/old.pem" } },
  ]);
  const document = { workers: 2, listen: { https: 8443 }, distributions: [{ origins: shop.origins, id: "shop", aliases: ["shop.test", "www.shop.test"] }] };
  assert.deepEqual(diffConfig(current, document).changes, [
    { action: "change", kind: "setting", name: "listen", fields: [{ change: "removed", path: "host", before: "0.0.0.0" }] },
    { action: "change", kind: "setting", name: "workers", fields: [{ change: "changed", path: "", before: 1, after: 2 }] },
    { action: "delete", kind: "trustStore", name: "old", document: { caBundle: "/old.pem" } },
    { action: "change", kind: "distribution", name: "shop", fields: [{ change: "changed", path: "aliases", before: ["shop.test"], after: ["shop.test", "www.shop.test"] }] },
  ]);
  const reordered = { distributions: [{ origins: shop.origins, aliases: shop.aliases, id: "shop" }] };
  const same = stateOf([{ kind: "distribution", name: "shop", document: shop }]);
  assert.deepEqual(diffConfig(same, reordered), { revision: 7, changes: [], unchanged: 1 });
  // What apply stores for it is the stored JSON itself, so the store's replaceAll sees no change either.
  assert.equal((preferStored(same, reordered).distributions as unknown[])[0], shop);
});
