// The memory tier keeps a body's bytes, not the larger read buffers a socket delivered them in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { entryMeta } from "./entry-meta.ts";

/** Bytes of memory the stored chunks keep alive: each distinct backing buffer once. */
function retainedBytes(chunks: readonly Buffer[]): number {
  return [...new Set(chunks.map((chunk) => chunk.buffer))].reduce((sum, buffer) => sum + buffer.byteLength, 0);
}

function storedChunks(body: readonly Buffer[]): readonly Buffer[] {
  const memory = createMemoryTier({ maxBytes: 2 ** 30, maxObjectBytes: 2 ** 30 });
  const bytes = body.reduce((sum, chunk) => sum + chunk.length, 0);
  assert.ok(memory.put(entryMeta("shop\n/a", { bytes, sha256: "" }), body));
  return memory.get("shop\n/a")!.body.chunks!();
}

describe("memory tier: what a stored body holds", () => {
  it("a small body that is a view on a large read buffer is copied out of it", () => {
    const readBuffer = Buffer.alloc(64 * 1024, 7);
    readBuffer.write("hello, cached world", 1000);
    const stored = storedChunks([readBuffer.subarray(1000, 1019), readBuffer.subarray(5000, 5100)]);
    assert.equal(Buffer.concat(stored).toString("latin1", 0, 19), "hello, cached world");
    assert.equal(Buffer.concat(stored).length, 119);
    assert.equal(retainedBytes(stored), 119, "a buffer of its own, of the body's size");
  });

  it("a large body's wasteful views are copied chunk by chunk, whole buffers kept as they are", () => {
    const views = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i).subarray(0, 16 * 1024));
    const whole = Buffer.alloc(32 * 1024, 200);
    const stored = storedChunks([...views, whole]);
    assert.equal(stored.length, 65);
    assert.equal(retainedBytes(stored), 64 * 16 * 1024 + 32 * 1024, "1 MiB + 32 KiB held for 1 MiB + 32 KiB");
    assert.equal(stored[64], whole, "a chunk that is its whole buffer is not copied");
    assert.deepEqual(stored[3], views[3]);
  });

  it("chunks that waste nothing are stored as given", () => {
    const body = [Buffer.alloc(3, 97), Buffer.alloc(10_000, 1)];
    const stored = storedChunks(body);
    assert.equal(stored[0], body[0]);
    assert.equal(stored[1], body[1]);
  });
});
