// The edge's node flags and malloc settings reach forked workers, without overriding an operator's own.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { EDGE_MALLOC_ENV, EDGE_NODE_FLAGS, withEdgeMallocEnv, withEdgeNodeFlags } from "../../../src/cli/run/edge-runtime.ts";

test("a worker's exec arguments get each edge flag the primary lacks; a value the operator gave stays", () => {
  assert.deepEqual(withEdgeNodeFlags([]), [...EDGE_NODE_FLAGS]);
  assert.deepEqual(withEdgeNodeFlags(["--enable-source-maps"]), ["--enable-source-maps", ...EDGE_NODE_FLAGS]);
  assert.deepEqual(withEdgeNodeFlags(["--max-semi-space-size=16"]), ["--max-semi-space-size=16"]);
  assert.deepEqual(withEdgeNodeFlags(["--max_semi_space_size=4"]), ["--max_semi_space_size=4"]);
});

test("a worker's environment gets each malloc setting the primary lacks; a value the operator gave stays", () => {
  const env = withEdgeMallocEnv({ PATH: "/usr/bin", MALLOC_ARENA_MAX: "4" });
  assert.equal(env.PATH, "/usr/bin");
  assert.equal(env.MALLOC_ARENA_MAX, "4");
  assert.equal(env.MALLOC_MMAP_THRESHOLD_, EDGE_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_);
  assert.equal(env.MALLOC_TRIM_THRESHOLD_, EDGE_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_);
});

test("the `moat` command's own line starts node with the edge's flag and malloc settings (one definition: edge-runtime.ts)", async () => {
  // `moat start` run as the package's bin (npx moat, a global install) has no npm script to set them.
  const firstLine = (await readFile(new URL("../../../src/cli/main.ts", import.meta.url), "utf8")).split("\n", 1)[0];
  const env = Object.entries(EDGE_MALLOC_ENV).map(([name, value]) => `${name}=${value}`);
  assert.equal(firstLine, `#!/usr/bin/env -S ${[...env, "node", ...EDGE_NODE_FLAGS].join(" ")}`);
});
