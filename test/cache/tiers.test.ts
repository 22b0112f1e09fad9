// Storage tiers hold their byte bounds (LRU), the disk tier checks what it reads, and invalidation rules match without scanning.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { openDiskTier } from "../../src/cache/disk-tier.ts";
import { createInvalidationRules } from "../../src/cache/invalidations.ts";
import { metaBytes } from "../../src/cache/stored-entry.ts";
import type { EntryMeta } from "../../src/cache/stored-entry.ts";
import { entryMeta } from "./entry-meta.ts";

const meta = (key: string, bodyBytes: number, bodySha256 = ""): EntryMeta => entryMeta(key, { bytes: bodyBytes, sha256: bodySha256 });

/** A 4,000-byte entry with a one-letter key, as the memory tier counts it (body and metadata). */
const ENTRY_BYTES = 4_000 + metaBytes(meta("a", 4_000));

describe("memory tier", () => {
  it("stays within its byte bound, evicting the least recently used", () => {
    const evicted: string[] = [];
    const memory = createMemoryTier({ maxBytes: 20_000, maxObjectBytes: 8_000, onEvict: (key) => evicted.push(key) });
    for (let i = 0; i < 10; i++) {
      memory.put(meta(`k${i}`, 4_000), [Buffer.alloc(4_000)]);
      if (i === 2) memory.get("k0"); // k0 is used again: k1 goes first
      assert.ok(memory.usedBytes <= 20_000, `used ${memory.usedBytes}`);
    }
    assert.equal(evicted[0], "k1");
    assert.equal(memory.put(meta("huge", 9_000), [Buffer.alloc(9_000)]), false);
  });
  it("gives an entry read since the last eviction a second chance, once", () => {
    const evicted: string[] = [];
    const memory = createMemoryTier({ maxBytes: 3 * ENTRY_BYTES, maxObjectBytes: 8_000, onEvict: (key) => evicted.push(key) });
    for (const key of ["a", "b", "c"]) memory.put(meta(key, 4_000), [Buffer.alloc(4_000)]);
    memory.get("a");
    memory.get("b");
    memory.put(meta("d", 4_000), [Buffer.alloc(4_000)]);
    assert.deepEqual(evicted, ["c"], "a and b were read, c was not");
    // a and b were moved behind d, their marks cleared: d, never read, is first in line now, then a (not read again).
    memory.put(meta("e", 4_000), [Buffer.alloc(4_000)]);
    memory.put(meta("f", 4_000), [Buffer.alloc(4_000)]);
    assert.deepEqual(evicted, ["c", "d", "a"]);
    assert.equal(memory.size, 3);
    assert.equal(memory.usedBytes, 3 * ENTRY_BYTES);
    assert.equal(memory.get("a"), null);
    assert.ok(memory.has("b") && memory.has("e") && memory.has("f"));
  });
  it("peek hands out an entry without counting a read: it gets no second chance", () => {
    const evicted: string[] = [];
    const memory = createMemoryTier({ maxBytes: 2 * ENTRY_BYTES, maxObjectBytes: 8_000, onEvict: (key) => evicted.push(key) });
    for (const key of ["a", "b"]) memory.put(meta(key, 4_000), [Buffer.alloc(4_000)]);
    assert.equal(memory.peek("a")?.meta.key, "a");
    assert.equal(memory.peek("z"), null);
    memory.put(meta("c", 4_000), [Buffer.alloc(4_000)]);
    assert.deepEqual(evicted, ["a"], "peeked at, not read: first in line still");
  });
  it("evicts every unread entry before a read one, even when all but the newest were read", () => {
    const evicted: string[] = [];
    const memory = createMemoryTier({ maxBytes: 4 * ENTRY_BYTES, maxObjectBytes: 8_000, onEvict: (key) => evicted.push(key) });
    for (const key of ["a", "b", "c", "d"]) memory.put(meta(key, 4_000), [Buffer.alloc(4_000)]);
    for (const key of ["a", "b", "c", "d"]) memory.get(key);
    memory.put(meta("big", 8_000), [Buffer.alloc(8_000)]);
    // All four were read: one pass clears their marks, then the oldest two go, in order.
    assert.deepEqual(evicted, ["a", "b"]);
    assert.ok(memory.has("big") && memory.has("c") && memory.has("d"));
    assert.ok(memory.usedBytes <= 4 * ENTRY_BYTES);
  });
  it("serves a byte range without copying the whole body", async () => {
    const memory = createMemoryTier({ maxBytes: 10_000, maxObjectBytes: 10_000 });
    memory.put(meta("r", 10), [Buffer.from("01234"), Buffer.from("56789")]);
    const chunks: Buffer[] = [];
    for await (const chunk of memory.get("r")!.body.stream({ start: 3, end: 6 })) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "3456");
  });
});

describe("disk tier", () => {
  it("stays within its byte bound and deletes the files of what it evicts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-"));
    try {
      const disk = await openDiskTier({ dir, maxBytes: 30_000 });
      for (let i = 0; i < 12; i++) {
        const writer = disk.createWriter()!;
        await writer.write(Buffer.alloc(4_000, i));
        await writer.commit((body) => meta(`k${i}`, body.bytes, body.sha256));
        assert.ok(disk.usedBytes <= 30_000, `used ${disk.usedBytes}`);
      }
      assert.equal(disk.has("k0"), false);
      assert.equal(disk.has("k11"), true);
      let files = 0;
      for (const sub of await readdir(join(dir, "entries"))) files += (await readdir(join(dir, "entries", sub))).length;
      assert.equal(files, disk.size * 2);
      const reopened = await openDiskTier({ dir, maxBytes: 30_000 });
      assert.equal((await reopened.loaded).outcome, "complete");
      assert.equal(reopened.size, disk.size);
      const entry = await reopened.get("k11");
      assert.equal(entry?.meta.bodyBytes, 4_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("a writer that is aborted (a cut origin body) leaves nothing behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-"));
    try {
      const disk = await openDiskTier({ dir, maxBytes: 30_000 });
      const writer = disk.createWriter()!;
      await writer.write(Buffer.alloc(100));
      writer.abort();
      assert.equal(disk.size, 0);
      const reopened = await openDiskTier({ dir, maxBytes: 30_000 });
      await reopened.loaded;
      assert.equal(reopened.size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("invalidation rules", () => {
  it("match exact paths and prefixes newer than an entry's mark, per distribution", () => {
    const rules = createInvalidationRules();
    const before = rules.mark;
    rules.append([{ id: "1", distribution: "shop", paths: ["/index.html", "/images/*"], at: "" }]);
    assert.equal(rules.isInvalidated("shop", "/index.html", before), true);
    assert.equal(rules.isInvalidated("shop", "/images/a/b.png", before), true);
    assert.equal(rules.isInvalidated("shop", "/index.htm", before), false);
    assert.equal(rules.isInvalidated("blog", "/index.html", before), false);
    assert.equal(rules.isInvalidated("shop", "/index.html", rules.mark), false, "stored after the invalidation");
    rules.append([{ id: "2", distribution: "blog", paths: ["*"], at: "" }]);
    assert.equal(rules.isInvalidated("blog", "/anything", before), true);
  });
});
