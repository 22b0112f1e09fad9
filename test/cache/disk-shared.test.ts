// The disk tier shared by the workers of a group: each sees what the others store, replace and delete, concurrent writers of one key leave one whole entry, and the directory keeps one byte bound.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diskEntryFiles, openDiskTier } from "../../src/cache/disk-tier.ts";
import type { DiskTier } from "../../src/cache/disk-tier.ts";
import type { StoredEntry } from "../../src/cache/stored-entry.ts";
import { entryMeta } from "./entry-meta.ts";

async function put(disk: DiskTier, key: string, body: string | Buffer): Promise<void> {
  const writer = disk.createWriter()!;
  await writer.write(Buffer.from(body));
  assert.ok(await writer.commit((facts) => entryMeta(key, facts)), `commit of ${key}`);
}

async function bodyOf(entry: StoredEntry | null): Promise<string | null> {
  if (!entry) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of entry.body.stream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The files of one key: its metadata file and every body file named after it. */
async function filesOf(dir: string, key: string): Promise<{ metas: string[]; bodies: string[] }> {
  const files = diskEntryFiles(dir, key);
  const names = (await readdir(files.dir).catch(() => [] as string[])).filter((name) => name.startsWith(files.metaPrefix));
  return { metas: names.filter((name) => name.endsWith(".meta")), bodies: names.filter((name) => name.endsWith(".body")) };
}

/** Two tiers on one directory, as two workers open it (each its own temporary directory). */
async function withGroup(maxBytes: number, work: (a: DiskTier, b: DiskTier, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "moat-disk-shared-"));
  const a = await openDiskTier({ dir, maxBytes, sharers: 2, tmpDirName: "tmp-worker-1" });
  const b = await openDiskTier({ dir, maxBytes, sharers: 2, tmpDirName: "tmp-worker-2" });
  try {
    await Promise.all([a.loaded, b.loaded]);
    await work(a, b, dir);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

describe("disk tier shared by workers", () => {
  it("a worker finds an entry another stored after it started, and follows its replacement and its deletion", async () => {
    await withGroup(2 ** 30, async (a, b, dir) => {
      await put(a, "shop\n/a", "first");
      assert.equal(b.has("shop\n/a"), false, "not indexed by b yet");
      assert.equal(await bodyOf(await b.get("shop\n/a")), "first", "b looks on disk");
      assert.equal(b.has("shop\n/a"), true, "and indexes it");

      await put(b, "shop\n/a", "second");
      assert.equal(await bodyOf(await a.get("shop\n/a")), "second", "a follows b's replacement");
      assert.deepEqual((await filesOf(dir, "shop\n/a")).bodies.length, 1, "the replaced body is gone: one body file");

      await a.delete("shop\n/a");
      assert.equal(await b.get("shop\n/a"), null, "b follows a's deletion");
      assert.equal(b.has("shop\n/a"), false);
      assert.deepEqual(await filesOf(dir, "shop\n/a"), { metas: [], bodies: [] });
    });
  });

  it("two workers storing one key at once leave one whole entry that both serve", async () => {
    await withGroup(2 ** 30, async (a, b, dir) => {
      const key = "shop\n/race";
      const bodies = (who: string) => Array.from({ length: 20 }, (_, i) => `${who} ${i} `.repeat(50 + i));
      const written = [...bodies("a"), ...bodies("b")];
      await Promise.all([(async () => { for (const body of bodies("a")) await put(a, key, body); })(), (async () => { for (const body of bodies("b")) await put(b, key, body); })()]);
      const fromA = await bodyOf(await a.get(key));
      const fromB = await bodyOf(await b.get(key));
      assert.ok(fromA !== null && written.includes(fromA), "a serves one of the bodies written, whole");
      assert.equal(fromB, fromA, "both serve the same entry: the one the metadata names");
      assert.deepEqual(await filesOf(dir, key).then((files) => [files.metas.length, files.bodies.length]), [1, 1], "one metadata file, one body: no torn or orphaned body is left");
      // And a third process, as a restarted worker, loads that same entry.
      const c = await openDiskTier({ dir, maxBytes: 2 ** 30, sharers: 2, tmpDirName: "tmp-worker-3" });
      await c.loaded;
      assert.equal(await bodyOf(await c.get(key)), fromA);
      await c.close();
    });
  });

  it("keeps the directory within one byte bound: each worker evicts down to its share", async () => {
    // Each entry counts its body plus 1 KiB of metadata.
    const maxBytes = 40 * 1024;
    await withGroup(maxBytes, async (a, b, dir) => {
      for (let i = 0; i < 30; i++) await put(i % 2 ? a : b, `shop\n/${i}`, Buffer.alloc(1024, i));
      assert.ok(a.usedBytes <= maxBytes / 2 && b.usedBytes <= maxBytes / 2, `a ${a.usedBytes} and b ${b.usedBytes} bytes, each at most ${maxBytes / 2}`);
      let onDisk = 0;
      for (const sub of await readdir(join(dir, "entries"))) onDisk += (await readdir(join(dir, "entries", sub))).filter((name) => name.endsWith(".body")).length;
      assert.ok(onDisk * 2048 <= maxBytes, `${onDisk} entries on disk: within the bound`);
      assert.ok(onDisk > 10, "and the bound is used, not thrown away");
    });
  });

  it("an entry another worker finds damaged is deleted for every worker", async () => {
    await withGroup(2 ** 30, async (a, b, dir) => {
      await put(a, "shop\n/bad", "a good body");
      const files = diskEntryFiles(dir, "shop\n/bad");
      const body = (await filesOf(dir, "shop\n/bad")).bodies[0]!;
      await writeFile(join(files.dir, body), "a bad body!"); // same length, other bytes
      assert.equal(await b.get("shop\n/bad"), null, "b checks the body before serving it");
      assert.deepEqual(await filesOf(dir, "shop\n/bad"), { metas: [], bodies: [] });
      assert.equal(await a.get("shop\n/bad"), null, "and a forgets it");
    });
  });

  it("a restarted worker leaves alone a body too young to be an orphan; alone, it sweeps it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-shared-"));
    try {
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      await put(first, "shop\n/x", "named");
      await first.close();
      const files = diskEntryFiles(dir, "shop\n/x");
      // What another worker leaves between its body's rename and its metadata's: a body nothing names yet.
      const young = join(files.dir, `${files.metaPrefix}.0123456789ab.body`);
      await writeFile(young, "being installed");
      const restarted = await openDiskTier({ dir, maxBytes: 2 ** 30, sharers: 2, tmpDirName: "tmp-worker-2" });
      await restarted.loaded;
      await restarted.close();
      assert.equal((await filesOf(dir, "shop\n/x")).bodies.length, 2, "the young body is kept under sharers");
      const old = new Date(Date.now() - 120_000);
      await utimes(young, old, old);
      const again = await openDiskTier({ dir, maxBytes: 2 ** 30, sharers: 2, tmpDirName: "tmp-worker-2" });
      await again.loaded;
      await again.close();
      assert.equal((await filesOf(dir, "shop\n/x")).bodies.length, 1, "an old one is an orphan, and is swept");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
