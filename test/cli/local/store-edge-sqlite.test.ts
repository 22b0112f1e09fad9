// `moat start --store`, apply, diff, export and store log on SQLite: the store named by the edge's data directory.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseStoreAddress } from "../../../src/store/index.ts";
import { runMoat } from "../moat-process.ts";
import { storeEdgeContract } from "./store-edge-contract.ts";

describe("an edge and the store commands on SQLite", () => {
  storeEdgeContract({
    // The data directory itself: its moat.db is the store, and it is the edge's data directory.
    freshAddress: async (_t, dataDir) => dataDir,
  });
});

describe("moat start --store: what it refuses before serving", () => {
  test("a data directory names its moat.db; a file path, or sqlite:PATH, names that file", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "moat-store-address-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    assert.deepEqual(parseStoreAddress(dir), { engine: "sqlite", target: join(dir, "moat.db"), label: `sqlite:${join(dir, "moat.db")}`, dataDir: dir });
    assert.deepEqual(parseStoreAddress(`sqlite:${dir}/x.db`), { engine: "sqlite", target: join(dir, "x.db"), label: `sqlite:${join(dir, "x.db")}` });
  });

  test("an empty store, both sources, neither source, a data directory that does not exist", { timeout: 60_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "moat-store-refusals-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const empty = await runMoat(["start", "--store", dir], { cwd: dir });
    assert.equal(empty.code, 1);
    assert.equal(empty.stderr, `moat: the store sqlite:${join(dir, "moat.db")} holds no config yet (revision 0): there is nothing to serve. Fix: apply one first: \`moat apply -f moat.yaml --store sqlite:${join(dir, "moat.db")}\`\n`);
    const both = await runMoat(["start", "--store", dir, "--config", join(dir, "moat.yaml")], { cwd: dir });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --config FILE or --store ADDRESS, not both/);
    const neither = await runMoat(["start"], { cwd: dir });
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /--config FILE or --store ADDRESS is required/);
    // MOAT_STORE is read when the flag is absent.
    const fromEnv = await runMoat(["store", "log"], { cwd: dir, env: { MOAT_STORE: dir } });
    assert.equal(fromEnv.stdout, `sqlite:${join(dir, "moat.db")}: no revision yet (nothing was applied).\n`);
    const notMade = await runMoat(["export", "--store", join(dir, "not-made")], { cwd: dir });
    assert.equal(notMade.code, 2);
    assert.match(notMade.stderr, /not-made does not exist\. Fix: create the data directory first/);
  });
});
