// A body being filled into the cache, readable from its first byte by the requests collapsed behind the fill while it is written.

import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

/** What a collapsed request reads: the body from its first byte, at its own pace. */
export interface FillingBodyReader {
  /**
   * The body as it is written; ends once the fill is stored whole, throws if the fill is abandoned
   * (cut short, too large, a disk error). Null once the fill is committing or failed: wait for its outcome.
   * The caller iterates it at once, to its end or a break: that releases the shared file handle.
   */
  join(): AsyncIterable<Buffer> | null;
}

/** The writer's side, driven by the tiered writer (cache-store.ts). */
export interface FillingBody extends FillingBodyReader {
  /** A chunk was written; `isInMemory` false from the first chunk that is no longer kept in memory. */
  append(chunk: Buffer, isInMemory: boolean): void;
  /** The disk writer has flushed this many bytes to the temporary file. */
  flushed(bytes: number): void;
  /**
   * The disk failed: readers that joined go on from the file up to what was flushed, then from the chunks written
   * since (kept in memory until every reader has passed them); no one joins any more. A reader more than
   * TAIL_MAX_BYTES behind is cut, so that a slow viewer can neither hold memory nor slow the fill.
   */
  diskLost(): void;
  /** No more readers may join; resolves once the temporary file is open for those that did (it is renamed next). */
  // succeed(): the body is whole for its readers (stored, or complete in the tail after diskLost).
  seal(): Promise<void>;
  succeed(): void;
  fail(error: Error): void;
}

const READ_BYTES = 64 * 1024;
const TAIL_MAX_BYTES = 8 * 1024 * 1024;

interface ReaderState {
  offset: number;
  failure: Error | null;
}

/**
 * Memory holds the body while it fits the memory tier (the chunks the tier keeps anyway); past that a reader
 * continues from the temporary file on disk, through one file handle shared by every reader of this fill.
 * @example
 * const body = createFillingBody({ file: "/var/cache/moat/tmp/ab12", opened });
 */
export function createFillingBody(disk: { file: string; opened: Promise<void> } | null): FillingBody {
  let chunks: Buffer[] | null = [];
  let writtenBytes = 0;
  let flushedBytes = 0;
  // Chunks written but not yet known flushed, once the memory copy is gone; after diskLost, every chunk since.
  const tail: { offset: number; chunk: Buffer }[] = [];
  let tailBytes = 0;
  let isDiskLost = false;
  const positions = new Set<ReaderState>();
  const trimTail = (upTo: number) => {
    while (tail.length > 0 && (tail[0] as { offset: number; chunk: Buffer }).offset + (tail[0] as { chunk: Buffer }).chunk.length <= upTo) tailBytes -= (tail.shift() as { chunk: Buffer }).chunk.length;
  };
  const slowest = () => {
    let min = writtenBytes;
    for (const position of positions) if (!position.failure && position.offset < min) min = position.offset;
    return min;
  };
  let state: "filling" | "sealed" | "stored" = "filling";
  let failure: Error | null = null;
  let readers = 0;
  let handle: Promise<FileHandle> | null = null;
  let progress = Promise.withResolvers<void>();
  const notify = () => {
    const current = progress;
    progress = Promise.withResolvers<void>();
    current.resolve();
  };
  const isOver = () => state === "stored" || failure !== null;
  const closeWhenUnused = () => {
    if (readers > 0 || !isOver() || !handle) return;
    void handle.then((h) => h.close()).catch(() => {});
    handle = null;
  };
  const openHandle = (): Promise<FileHandle> | null => {
    if (!disk) return null;
    if (!handle) {
      handle = disk.opened.then(() => open(disk.file, "r"));
      handle.catch(() => {});
    }
    return handle;
  };

  async function* read(memoryAtJoin: Buffer[] | null, file: Promise<FileHandle> | null): AsyncGenerator<Buffer> {
    let offset = 0;
    let index = 0;
    let memory = memoryAtJoin;
    const position: ReaderState = { offset: 0, failure: null };
    positions.add(position);
    try {
      for (;;) {
        if (failure) throw failure;
        if (position.failure) throw position.failure;
        position.offset = offset;
        if (isDiskLost) trimTail(slowest());
        if (memory && index < memory.length) {
          const chunk = memory[index++] as Buffer;
          offset += chunk.length;
          yield chunk;
          continue;
        }
        // The memory copy was dropped (the body outgrew the memory tier): the rest is on disk.
        if (memory && chunks === null) memory = null;
        const fromTail = !memory && isDiskLost ? tail.find((entry) => entry.offset <= offset && offset < entry.offset + entry.chunk.length) : undefined;
        if (fromTail) {
          const chunk = fromTail.chunk.subarray(offset - fromTail.offset);
          offset += chunk.length;
          yield chunk;
          continue;
        }
        if (!memory && file && flushedBytes > offset) {
          const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, flushedBytes - offset));
          const { bytesRead } = await (await file).read(buffer, 0, buffer.length, offset);
          if (failure) throw failure;
          if (bytesRead === 0) throw new Error("the filling body's temporary file is shorter than written");
          offset += bytesRead;
          yield buffer.subarray(0, bytesRead);
          continue;
        }
        if (!memory && !file && !isDiskLost) throw new Error("the fill dropped its memory copy and has no disk copy");
        // Nothing more reaches the file after a disk failure: bytes neither flushed nor in the tail never will be.
        if (!memory && isDiskLost && offset < writtenBytes) throw new Error("the fill's disk failed before these bytes reached it");
        if (state === "stored" && offset >= writtenBytes) return;
        await progress.promise;
      }
    } finally {
      positions.delete(position);
      readers--;
      closeWhenUnused();
    }
  }

  return {
    join() {
      if (state !== "filling" || failure || isDiskLost) return null;
      readers++;
      // The file is opened now, before the fill can commit and rename it (seal waits for the open).
      return read(chunks, openHandle());
    },
    append(chunk, isInMemory) {
      if (!isInMemory) chunks = null;
      chunks?.push(chunk);
      if (!chunks && (disk || isDiskLost)) {
        tail.push({ offset: writtenBytes, chunk });
        tailBytes += chunk.length;
      }
      writtenBytes += chunk.length;
      if (isDiskLost) {
        const cut = new Error("a reader of a fill whose disk failed fell too far behind: its response is cut");
        if (tailBytes > TAIL_MAX_BYTES) for (const position of positions) if (position.offset < writtenBytes - TAIL_MAX_BYTES) position.failure ??= cut;
        trimTail(slowest());
      }
      notify();
    },
    flushed(bytes) {
      if (isDiskLost) return;
      flushedBytes = bytes;
      if (!chunks) trimTail(bytes);
      notify();
    },
    diskLost() {
      isDiskLost = true;
      notify();
    },
    async seal() {
      if (state === "filling") state = "sealed";
      await handle?.catch(() => {});
    },
    succeed() {
      if (failure) return;
      state = "stored";
      notify();
      closeWhenUnused();
    },
    fail(error) {
      failure ??= error;
      notify();
      closeWhenUnused();
    },
  };
}
