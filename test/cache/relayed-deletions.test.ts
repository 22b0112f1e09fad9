// Cache deletions relayed between stores that share one disk directory (the workers of a group, each with its own memory
// tier): a deletion in one reaches the others' memory, variants included, nothing is relayed twice, and the deleting side
// waits for the others (batched, bounded).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCacheStore } from "../../src/cache/cache-store.ts";
import type { CacheStore } from "../../src/cache/cache-store.ts";
import { diskEntryFiles, openDiskTier } from "../../src/cache/disk-tier.ts";
import type { DiskTier } from "../../src/cache/disk-tier.ts";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { createDeletionRelay } from "../../src/cache/relayed-deletions.ts";
import type { DeletionBatch } from "../../src/cache/relayed-deletions.ts";
import { entryMeta } from "./entry-meta.ts";

const KEY = "shop\n/doc";

interface Worker {
  store: CacheStore;
  disk: DiskTier;
  /** Batches this worker sent to the others. */
  sent: DeletionBatch[];
  /** Its deletions from disk of keys another relayed, which go on after it acknowledged. */
  onDisk: Promise<unknown>[];
}

/**
 * Two workers over one directory, wired as a primary and worker-process.ts wire them: a batch one sends is deleted by the
 * other ("here": told no one) on a later turn of the event loop, as a message arrives, and acknowledged as soon as the
 * call returns (gone from memory then; the disk deletion goes on).
 */
async function withWorkers(work: (a: Worker, b: Worker, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "moat-relayed-"));
  const workers: Worker[] = [];
  for (const n of [1, 2]) {
    const disk = await openDiskTier({ dir, maxBytes: 2 ** 30, sharers: 2, tmpDirName: `tmp-worker-${n}` });
    const sent: DeletionBatch[] = [];
    const relay = createDeletionRelay({
      send: (batch) => {
        sent.push(batch);
        const other = workers.find((worker) => worker.disk !== disk)!;
        setImmediate(() => {
          other.onDisk.push(Promise.all(batch.primaryKeys.map((key) => other.store.deletePrimary(key, "here"))));
          relay.acknowledged(batch.id);
        });
        return true;
      },
      waitLimitMs: 10_000,
    });
    const store = createCacheStore({ memory: createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 16 }), disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 2 ** 16, onDeleted: relay.deleted });
    workers.push({ store, disk, sent, onDisk: [] });
  }
  try {
    await Promise.all(workers.map((worker) => worker.disk.loaded));
    await work(workers[0]!, workers[1]!, dir);
  } finally {
    await Promise.all(workers.map((worker) => worker.disk.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

async function store(worker: Worker, key: string, body: string, extra: Parameters<typeof entryMeta>[2] = {}): Promise<void> {
  const writer = worker.store.openWriter(body.length)!;
  await writer.write(Buffer.from(body));
  assert.ok(await writer.commit((facts) => entryMeta(key, facts, extra)), `commit of ${key}`);
}

async function filesOf(dir: string, key: string): Promise<string[]> {
  const files = diskEntryFiles(dir, key);
  return (await readdir(files.dir).catch(() => [] as string[])).filter((name) => name.startsWith(files.metaPrefix));
}

describe("cache deletions relayed between workers", () => {
  it("a deletion in one worker removes the entry from the other's memory tier before it resolves, and is not relayed back", async () => {
    await withWorkers(async (a, b, dir) => {
      await store(a, KEY, "old body");
      // b takes it from the shared disk, and keeps it in its own memory tier from then on.
      assert.ok(await b.store.lookup(KEY, {}));
      assert.ok(b.store.lookupInMemory(KEY, {}), "b holds it in memory");
      assert.ok(a.store.lookupInMemory(KEY, {}), "a holds it in memory");

      await a.store.deletePrimary(KEY);
      assert.equal(a.store.lookupInMemory(KEY, {}), null);
      assert.equal(b.store.lookupInMemory(KEY, {}), null, "b still serves from memory what a deleted");
      assert.equal(await b.store.lookup(KEY, {}), null);
      assert.deepEqual(await filesOf(dir, KEY), []);
      assert.deepEqual(a.sent.map((batch) => batch.primaryKeys), [[KEY]]);
      assert.deepEqual(b.sent, [], "a relayed deletion is not relayed again");
    });
  });

  it("the other worker deletes the variants it holds under the key, which the deleting worker never saw", async () => {
    await withWorkers(async (a, b, dir) => {
      const headers = { "accept-language": "fr" };
      const variant = b.store.variantKey(KEY, ["accept-language"], headers);
      await store(b, variant, "bonjour", { primaryKey: KEY, vary: { names: ["accept-language"] } });
      assert.ok(b.store.lookupInMemory(KEY, headers), "b holds the French variant");

      await a.store.deletePrimary(KEY);
      assert.equal(b.store.lookupInMemory(KEY, headers), null);
      assert.equal(await b.store.lookup(KEY, headers), null);
      await Promise.all(b.onDisk);
      assert.deepEqual(await filesOf(dir, variant), [], "the variant's files are gone for everyone");
    });
  });

  it("deleting a key this worker never indexed deletes what another stored on the shared disk", async () => {
    await withWorkers(async (a, b, dir) => {
      await store(b, KEY, "stored by b");
      assert.equal(a.disk.has(KEY), false, "a has not indexed it");
      await a.disk.delete(KEY);
      assert.deepEqual(await filesOf(dir, KEY), [], "its metadata and body are gone");
      assert.equal(await a.disk.get(KEY), null);
      assert.equal(await b.disk.get(KEY), null);
    });
  });

  it("a deletion every worker makes on its own (here) tells no one", async () => {
    await withWorkers(async (a, b) => {
      await store(a, KEY, "body");
      await a.store.deletePrimary(KEY, "here");
      assert.deepEqual(a.sent, []);
      assert.deepEqual(b.sent, []);
    });
  });
});

describe("the deletion relay", () => {
  it("deletions of one turn go as one batch, each key once, and wait for its acknowledgement", async () => {
    const sent: DeletionBatch[] = [];
    const relay = createDeletionRelay({ send: (batch) => (sent.push(batch), true), waitLimitMs: 10_000 });
    let done = 0;
    const waits = [relay.deleted(["a"]), relay.deleted(["b", "a"]), relay.deleted(["c"])].map((wait) => wait.then(() => done++));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sent.map((batch) => batch.primaryKeys), [["a", "b", "c"]]);
    assert.equal(relay.pending, 1);
    assert.equal(done, 0, "nobody goes on before the others acknowledged");
    relay.acknowledged(sent[0]!.id);
    await Promise.all(waits);
    assert.equal(done, 3);
    assert.equal(relay.pending, 0);
  });

  it("a batch nobody can receive resolves at once; one never acknowledged resolves at the wait limit, reported", async (t) => {
    const none = createDeletionRelay({ send: () => false, waitLimitMs: 10_000 });
    await none.deleted(["a"]);
    assert.equal(none.pending, 0);

    t.mock.timers.enable({ apis: ["setTimeout", "setImmediate"] });
    const givenUp: DeletionBatch[] = [];
    const stuck = createDeletionRelay({ send: () => true, waitLimitMs: 2_000, onGiveUp: (batch) => givenUp.push(batch) });
    let isDone = false;
    const wait = stuck.deleted(["k"]).then(() => (isDone = true));
    t.mock.timers.tick(0);
    t.mock.timers.tick(1_999);
    await Promise.resolve();
    assert.equal(isDone, false);
    t.mock.timers.tick(1);
    await wait;
    assert.deepEqual(givenUp.map((batch) => batch.primaryKeys), [["k"]]);
    assert.equal(stuck.pending, 0);
  });
});
