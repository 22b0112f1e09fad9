// The disk tier's index loads in the background: the tier opens at once, and fills, deletes, Vary records and the byte bound stay right while it loads.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCacheStore } from "../../src/cache/cache-store.ts";
import { diskEntryFiles, openDiskTier } from "../../src/cache/disk-tier.ts";
import type { BeforeBatch, DiskTier, LoadStep } from "../../src/cache/disk-tier.ts";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import type { EntryMeta, StoredEntry } from "../../src/cache/stored-entry.ts";
import { entryMeta } from "./entry-meta.ts";

const meta = entryMeta;

async function put(disk: DiskTier, key: string, body: string | Buffer, extra: Partial<EntryMeta> = {}): Promise<void> {
  const writer = disk.createWriter()!;
  await writer.write(Buffer.from(body));
  assert.ok(await writer.commit((facts) => meta(key, facts, extra)), `commit of ${key}`);
}

async function bodyOf(entry: StoredEntry | null): Promise<string | null> {
  if (!entry) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of entry.body.stream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Pauses the loader at the first step that `matches`, until `release`; `reached` resolves once it is paused there. */
function createLoaderGate(matches: (step: LoadStep, metaFiles: readonly string[]) => boolean) {
  let release = () => {};
  let signalReached = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (signalReached = resolve));
  let hasPaused = false;
  const steps: LoadStep[] = [];
  const beforeBatch: BeforeBatch = (step, metaFiles) => {
    steps.push(step);
    if (hasPaused || !matches(step, metaFiles)) return;
    hasPaused = true;
    signalReached();
    return released;
  };
  return { beforeBatch, reached, release: () => release(), steps };
}

const metaFileOf = (dir: string, key: string) => {
  const files = diskEntryFiles(dir, key);
  return join(files.dir, `${files.metaPrefix}.meta`);
};

/** A key stored in the same subdirectory (so the same batch) as `key`. */
function keyBesides(key: string, prefix: string): string {
  const sub = (k: string) => createHash("sha256").update(k).digest("hex").slice(0, 2);
  for (let i = 0; ; i++) if (sub(`${prefix}${i}`) === sub(key)) return `${prefix}${i}`;
}

async function withDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "moat-disk-bg-"));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function filesIn(dir: string, prefix: string): Promise<string[]> {
  const files = diskEntryFiles(dir, prefix);
  return (await readdir(files.dir).catch(() => [] as string[])).filter((name) => name.startsWith(files.metaPrefix));
}

describe("disk tier: background index load", () => {
  it("opens before its index is loaded (lookups miss meanwhile), then loads it batch by batch", async () => {
    await withDir(async (dir) => {
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      for (let i = 0; i < 600; i++) await put(first, `k${i}`, `body ${i}`);
      await first.close();
      const gate = createLoaderGate((step) => step === "read");
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 30, beforeBatch: gate.beforeBatch });
      await gate.reached;
      assert.equal(disk.isLoading, true);
      assert.equal(disk.size, 0);
      assert.equal(await disk.get("k1"), null, "not loaded yet: a miss");
      gate.release();
      const report = await disk.loaded;
      assert.deepEqual([report.outcome, report.entries, report.dropped, disk.size, disk.isLoading], ["complete", 600, 0, 600, false]);
      assert.ok(gate.steps.filter((step) => step === "read").length > 1, "loaded in several batches");
      assert.equal(await bodyOf(await disk.get("k599")), "body 599");
    });
  });

  it("a fill committed while loading wins over the loader's older record; a key deleted meanwhile is not resurrected", async () => {
    await withDir(async (dir) => {
      const gone = keyBesides("fresh", "gone-");
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      await put(first, "fresh", "old body");
      await put(first, gone, "deleted body");
      await first.close();
      // Paused after the batch holding both was read, before it is applied: the loader holds their old records.
      const gate = createLoaderGate((step, files) => step === "apply" && files.includes(metaFileOf(dir, "fresh")));
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 30, beforeBatch: gate.beforeBatch });
      await gate.reached;
      await put(disk, "fresh", "new body!");
      await disk.delete(gone);
      gate.release();
      const report = await disk.loaded;
      assert.equal(report.entries, 0, "neither old record was added");
      assert.equal(await bodyOf(await disk.get("fresh")), "new body!");
      assert.equal(disk.has(gone), false);
      assert.equal(await disk.get(gone), null);
      assert.deepEqual((await filesIn(dir, "fresh")).length, 2, "the old body was swept: one meta, one body");
      assert.deepEqual(await filesIn(dir, gone), [], "the deleted entry's files are gone");
      await disk.close();
      const again = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      await again.loaded;
      assert.equal(await bodyOf(await again.get("fresh")), "new body!");
      assert.equal(again.has(gone), false, "not back after another restart either");
    });
  });

  it("keeps its byte bound while loading, evicting loaded entries before fills made since the start", async () => {
    await withDir(async (dir) => {
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      for (let i = 0; i < 10; i++) await put(first, `old${i}`, Buffer.alloc(4_000, i));
      await first.close();
      const gate = createLoaderGate((step) => step === "read");
      const maxBytes = 30_000;
      const usedAtSteps: number[] = [];
      const disk: DiskTier = await openDiskTier({
        dir,
        maxBytes,
        beforeBatch: (step, files) => {
          usedAtSteps.push(disk.usedBytes);
          return gate.beforeBatch(step, files);
        },
      });
      await gate.reached;
      await put(disk, "new0", Buffer.alloc(4_000, 100));
      await put(disk, "new1", Buffer.alloc(4_000, 101));
      gate.release();
      await disk.loaded;
      usedAtSteps.push(disk.usedBytes);
      assert.ok(usedAtSteps.length > 2 && usedAtSteps.every((used) => used <= maxBytes), `used ${usedAtSteps.join(", ")}`);
      assert.equal(disk.has("new0") && disk.has("new1"), true, "the fills made since the start stay");
      assert.equal(disk.size, 5);
    });
  });

  it("close while loading ends the loader: it resolves as stopped and deletes nothing afterwards", async () => {
    await withDir(async (dir) => {
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      await put(first, "a", "a body");
      await first.close();
      const damaged = join(diskEntryFiles(dir, "a").dir, `${"0".repeat(64)}.meta`);
      await writeFile(damaged, "not a metadata file");
      const gate = createLoaderGate((step) => step === "read");
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 30, beforeBatch: gate.beforeBatch });
      await gate.reached;
      await disk.close(); // the gate is never released: close must not wait for it
      const report = await disk.loaded;
      assert.equal(report.outcome, "stopped");
      assert.equal(disk.size, 0);
      assert.ok((await readdir(diskEntryFiles(dir, "a").dir)).includes(`${"0".repeat(64)}.meta`), "the loader deleted nothing after stop");
    });
  });
});

describe("cache store: Vary records while the disk index loads", () => {
  const accept = (lang: string) => ({ "accept-language": lang });

  it("learns Vary records as entries load, and drops an older variant that a newer fill superseded", async () => {
    await withDir(async (dir) => {
      const memory = () => createMemoryTier({ maxBytes: 1, maxObjectBytes: 0 });
      const first = await openDiskTier({ dir, maxBytes: 2 ** 30 });
      const firstStore = createCacheStore({ memory: memory(), disk: first, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 0 });
      for (const [primary, lang] of [["/varied", "fr"], ["/replaced", "fr"]] as const) {
        const key = firstStore.variantKey(primary, ["accept-language"], accept(lang));
        await put(first, key, `${primary} in ${lang}`, { primaryKey: primary, vary: { names: ["accept-language"] } });
      }
      await first.close();
      const gate = createLoaderGate((step) => step === "read");
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 30, beforeBatch: gate.beforeBatch });
      const store = createCacheStore({ memory: memory(), disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 0 });
      await gate.reached;
      assert.equal(await store.lookup("/varied", accept("fr")), null, "not loaded yet");
      // While loading, /replaced is filled again without Vary: the older variant must not shadow it.
      const writer = store.openWriter(null);
      assert.ok(writer);
      await writer.write(Buffer.from("/replaced, no Vary"));
      await writer.commit((facts) => meta("/replaced", facts));
      gate.release();
      await disk.loaded;
      assert.equal(await bodyOf(await store.lookup("/varied", accept("fr"))), "/varied in fr", "the loaded Vary record was learned");
      assert.equal(await store.lookup("/varied", accept("de")), null);
      assert.equal(await bodyOf(await store.lookup("/replaced", accept("fr"))), "/replaced, no Vary");
      assert.equal(disk.has(store.variantKey("/replaced", ["accept-language"], accept("fr"))), false, "the superseded variant was dropped");
    });
  });
});
