// The disk tier under injected faults at its file-system boundary (EIO cannot be produced for real): a failed write degrades it and is not stored; a read error is a miss and drops the entry.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { createCacheStore } from "../../src/cache/cache-store.ts";
import type { DiskFs } from "../../src/cache/disk-files.ts";
import { DISK_RETRY_MS } from "../../src/cache/disk-health.ts";
import type { DiskHealthEvent } from "../../src/cache/disk-health.ts";
import { openDiskTier } from "../../src/cache/disk-tier.ts";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { entryMeta } from "./entry-meta.ts";

const eio = () => Object.assign(new Error("EIO: i/o error, write"), { code: "EIO", errno: -5 });

/** Node's calls, with writes or reads failing with EIO while the switch is on. */
function faultyFs(faults: { isWriteFailing: boolean; isReadFailing: boolean }): DiskFs {
  return {
    rename,
    // Node's stream underneath, whose writes fail whenever the switch is on (also after it was opened).
    createWriteStream: ((path: string, options: object) => {
      const real = createWriteStream(path, options);
      const stream = new Writable({
        write: (chunk: Buffer, _encoding, callback) => (faults.isWriteFailing ? callback(eio()) : real.write(chunk, callback)),
        final: (callback) => real.end(callback),
        destroy: (error, callback) => (real.destroy(), callback(error)),
      });
      real.once("open", () => stream.emit("open"));
      return stream;
    }) as unknown as DiskFs["createWriteStream"],
    createReadStream: ((path: string, options: object) => {
      if (!faults.isReadFailing) return createReadStream(path, options);
      const stream = new PassThrough();
      queueMicrotask(() => stream.destroy(eio()));
      return stream;
    }) as unknown as DiskFs["createReadStream"],
  };
}

describe("disk tier faults (injected EIO)", () => {
  it("a write error is not stored, degrades the tier once (with errno and fix), skips the disk during the back-off, and recovers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-eio-"));
    const faults = { isWriteFailing: true, isReadFailing: false };
    const events: DiskHealthEvent[] = [];
    let now = 0;
    try {
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 20, fs: faultyFs(faults), nowMs: () => now, onHealth: (event) => events.push(event) });
      const store = createCacheStore({ memory: createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 10 }), disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 10 });
      const writer = store.openWriter(2000);
      assert.ok(writer);
      await writer.write(Buffer.alloc(1000));
      await writer.write(Buffer.alloc(1000));
      assert.equal(await writer.commit((body) => entryMeta("k", body)), null, "not stored");
      assert.equal(await store.lookup("k", {}), null);
      assert.equal(disk.isDegraded, true);
      assert.deepEqual(events.map((event) => event.state), ["degraded"]);
      const degraded = events[0] as Extract<DiskHealthEvent, { state: "degraded" }>;
      assert.equal(degraded.errno, "EIO");
      assert.match(degraded.fix, /I\/O error/);
      faults.isWriteFailing = false;
      assert.equal(store.openWriter(2000), null, "within the back-off the disk is not tried: a body only the disk could hold is not stored");
      now += DISK_RETRY_MS;
      const retry = store.openWriter(2000);
      assert.ok(retry);
      await retry.write(Buffer.alloc(2000, 1));
      assert.ok(await retry.commit((body) => entryMeta("k", body)));
      assert.deepEqual(events.map((event) => event.state), ["degraded", "recovered"]);
      assert.equal((await store.lookup("k", {}))?.meta.bodyBytes, 2000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a write error mid-fill: the requests reading the fill as it is written still get the whole body; nothing is stored", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-eio-"));
    const faults = { isWriteFailing: false, isReadFailing: false };
    try {
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 20, fs: faultyFs(faults) });
      const store = createCacheStore({ memory: createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 10 }), disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 10 });
      const writer = store.openWriter(3000);
      assert.ok(writer?.filling);
      const joined = writer.filling.join();
      assert.ok(joined);
      const read = (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of joined) chunks.push(chunk);
        return Buffer.concat(chunks);
      })();
      await writer.write(Buffer.alloc(1000, 1));
      faults.isWriteFailing = true;
      await writer.write(Buffer.alloc(1000, 2));
      await writer.write(Buffer.alloc(1000, 3));
      assert.equal(await writer.commit((body) => entryMeta("k", body)), null);
      assert.deepEqual(await read, Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(1000, 3)]));
      assert.equal(await store.lookup("k", {}), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a read error on a stored entry is a miss, and the entry is dropped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-disk-eio-"));
    const faults = { isWriteFailing: false, isReadFailing: false };
    const dropped: string[] = [];
    try {
      const disk = await openDiskTier({ dir, maxBytes: 2 ** 20, fs: faultyFs(faults), onDrop: (_file, reason) => dropped.push(reason) });
      // The memory tier takes nothing: every lookup reads the disk.
      const store = createCacheStore({ memory: createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 0 }), disk, maxObjectBytes: 2 ** 20, memoryMaxObjectBytes: 4096 });
      const writer = store.openWriter(100);
      assert.ok(writer);
      await writer.write(Buffer.alloc(100, 7));
      assert.ok(await writer.commit((body) => entryMeta("k", body)));
      faults.isReadFailing = true;
      assert.equal(await store.lookup("k", {}), null, "a miss, not an error");
      assert.equal(disk.has("k"), false, "dropped");
      assert.match(dropped.join(), /EIO/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
