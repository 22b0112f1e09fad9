// The memory tier keeps a body's bytes, not the larger read buffers a socket delivered them in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMemoryTier } from "../../src/cache/memory-tier.ts";
import { entryMeta } from "./entry-meta.ts";

/** Bytes of memory the stored chunks keep alive: each distinct backing buffer once. */
function retainedBytes(chunks: readonly Buffer[]): number {
  return [...new Set(chunks.map((chunk) => chunk.buffer))].reduce((sum, buffer) => sum + buffer.byteLength, 0);
}

/** The chunks the tier hands out for a body kept as Buffers (no room for text: see below for text). */
function storedChunks(body: readonly Buffer[]): readonly Buffer[] {
  const memory = createMemoryTier({ maxBytes: 2 ** 30, maxObjectBytes: 2 ** 30, textBytesMax: 0 });
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

describe("memory tier: small bodies kept as text", () => {
  const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));

  it("keeps a small body as latin1 text, every byte value as it was, and hands out the same bytes as chunks and ranges", () => {
    const memory = createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20 });
    assert.ok(memory.put(entryMeta("shop\n/bin", { bytes: everyByte.length, sha256: "" }), [everyByte.subarray(0, 100), everyByte.subarray(100)]));
    const body = memory.get("shop\n/bin")!.body;
    assert.equal(typeof body.text, "string");
    assert.deepEqual(Buffer.from(body.text as string, "latin1"), everyByte);
    assert.deepEqual(Buffer.concat(body.chunks!()), everyByte);
    assert.deepEqual(Buffer.concat(body.chunks!({ start: 250, end: 260 })), everyByte.subarray(250, 261));
  });

  it("keeps larger bodies as Buffers, and small ones too once text would pass its share of the heap; a removed entry gives its share back", () => {
    const memory = createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20, textBytesMax: 1000 });
    const put = (key: string, bytes: number) => memory.put(entryMeta(key, { bytes, sha256: "" }), [Buffer.alloc(bytes, 1)]);
    put("large", 64 * 1024);
    put("a", 600);
    put("b", 600);
    assert.equal(memory.get("large")!.body.text, undefined, "a large body");
    assert.equal(typeof memory.get("a")!.body.text, "string");
    assert.equal(memory.get("b")!.body.text, undefined, "600 more would pass the 1,000 bytes for text");
    assert.equal(memory.get("b")!.body.chunks!()[0]?.length, 600);
    memory.delete("a");
    put("c", 600);
    assert.equal(typeof memory.get("c")!.body.text, "string", "a's share was given back");
  });

  it("keeps the text through a metadata update (a 304)", () => {
    const memory = createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20 });
    memory.put(entryMeta("shop\n/a", { bytes: 5, sha256: "" }), [Buffer.from("hello")]);
    memory.updateMeta(entryMeta("shop\n/a", { bytes: 5, sha256: "" }, { headers: { etag: '"b"' } }));
    const entry = memory.get("shop\n/a")!;
    assert.equal(entry.meta.headers.etag, '"b"');
    assert.equal(entry.body.text, "hello");
  });
});
