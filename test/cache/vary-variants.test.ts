// Variants per primary key are bounded: a response that varies on a field the viewer picks freely cannot fill the tiers, or the Vary record, with one key's variants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCacheStore, MAX_VARIANTS_PER_KEY } from "../../src/cache/cache-store.ts";
import { openDiskTier } from "../../src/cache/disk-tier.ts";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { entryMeta } from "./entry-meta.ts";

const PRIMARY = "shop\n/static/page";
const NAMES = ["x-anything"] as const;

test("past MAX_VARIANTS_PER_KEY, each new variant evicts the oldest from memory and disk; the newest are all served", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-variants-"));
  try {
    const disk = await openDiskTier({ dir, maxBytes: 64 * 2 ** 20 });
    await disk.loaded;
    const memory = createMemoryTier({ maxBytes: 64 * 2 ** 20, maxObjectBytes: 2 ** 20 });
    const store = createCacheStore({ memory, disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 2 ** 20 });
    const extra = 5;
    const headersOf = (index: number) => ({ "x-anything": `value-${index}` });
    for (let index = 0; index < MAX_VARIANTS_PER_KEY + extra; index++) {
      const key = store.variantKey(PRIMARY, NAMES, headersOf(index));
      const writer = store.openWriter(2);
      assert.ok(writer);
      await writer.write(Buffer.from("ok"));
      await writer.commit((body) => entryMeta(key, body, { primaryKey: PRIMARY, vary: { names: NAMES } }));
    }
    for (let index = 0; index < extra; index++) {
      assert.equal(await store.lookup(PRIMARY, headersOf(index)), null, `variant ${index} evicted`);
      assert.equal(memory.get(store.variantKey(PRIMARY, NAMES, headersOf(index))), null);
    }
    for (const index of [extra, MAX_VARIANTS_PER_KEY, MAX_VARIANTS_PER_KEY + extra - 1]) assert.ok(await store.lookup(PRIMARY, headersOf(index)), `variant ${index} kept`);
    assert.equal(store.stats().memoryEntries, MAX_VARIANTS_PER_KEY);
    // The disk deletes are not awaited by the commit: they have run once the queue has.
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 0; index < extra; index++) assert.equal(disk.has(store.variantKey(PRIMARY, NAMES, headersOf(index))), false, `variant ${index} off the disk`);
    // A deletion of the primary key still reaches every variant kept.
    await store.deletePrimary(PRIMARY, "here");
    assert.equal(store.stats().memoryEntries, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
