// The name an edge run from a store records its applied invalidations under: the flag, else MOAT_EDGE_NAME, else the host name.
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { test } from "node:test";
import { resolveEdgeName } from "../../src/config/index.ts";

test("--edge-name wins over MOAT_EDGE_NAME, which wins over the host name; an empty one counts as none", () => {
  assert.equal(resolveEdgeName("edge-a", { MOAT_EDGE_NAME: "edge-b" }), "edge-a");
  assert.equal(resolveEdgeName(undefined, { MOAT_EDGE_NAME: "edge-b" }), "edge-b");
  assert.equal(resolveEdgeName("", { MOAT_EDGE_NAME: "" }), hostname());
  assert.equal(resolveEdgeName(undefined, {}), hostname());
});
