// Writes one body to the disk tier's temporary directory as it streams, hashing it; a write error degrades the tier, never hangs the fill.

import { createHash, randomBytes } from "node:crypto";
import type { WriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import type { DiskFs } from "./disk-files.ts";
import type { DiskHealth } from "./disk-health.ts";
import type { EntryMeta } from "./stored-entry.ts";

export interface DiskWriter {
  write(chunk: Buffer): Promise<void>;
  /** Finishes the body; `toMeta` gets its size and digest. Resolves null if the entry could not be written. */
  commit(toMeta: (body: { bytes: number; sha256: string }) => EntryMeta): Promise<EntryMeta | null>;
  abort(): void;
  /** The temporary file the body is written to (renamed at commit), and when it exists: collapsed requests read it as it grows. */
  readonly file: string;
  readonly opened: Promise<void>;
}

export interface DiskWriterDeps {
  tmpDir: string;
  fs: DiskFs;
  health: DiskHealth;
  /** Told the bytes written to the temporary file so far, after each write reaches it. */
  onFlushed?: (bytes: number) => void;
  /** Makes the finished temporary file the entry `meta` (the tier's index and files); throws if the disk fails. */
  install(tmpBody: string, meta: EntryMeta, bytes: number): Promise<void>;
}

/** @example const writer = createDiskWriter({ tmpDir, fs: NODE_DISK_FS, health, install }); await writer.write(chunk); await writer.commit(toMeta); */
export function createDiskWriter(deps: DiskWriterDeps): DiskWriter {
  const { health } = deps;
  const tmpBody = join(deps.tmpDir, randomBytes(12).toString("hex"));
  const hash = createHash("sha256");
  let bytes = 0;
  let flushedBytes = 0;
  const created = deps.fs.createWriteStream(tmpBody, { mode: 0o600 });
  let stream: WriteStream | null = created;
  let failure: Error | null = null;
  let isAborted = false;
  created.on("error", (error) => {
    failure ??= error;
    // A write cut by our own abort (the fill was dropped) is not the disk's fault.
    if (!isAborted) health.failed(error, tmpBody);
  });
  const opened = new Promise<void>((resolve, reject) => {
    created.once("open", () => resolve());
    created.once("error", reject);
  });
  opened.catch(() => {});
  const abort = () => {
    isAborted = true;
    stream?.destroy();
    stream = null;
    void unlink(tmpBody).catch(() => {});
  };
  return {
    write(chunk) {
      if (!stream || failure) return Promise.reject(failure ?? new Error("disk writer closed"));
      hash.update(chunk);
      bytes += chunk.length;
      const onWritten = (error?: Error | null) => {
        if (error) return;
        flushedBytes += chunk.length;
        deps.onFlushed?.(flushedBytes);
      };
      if (stream.write(chunk, onWritten)) return Promise.resolve();
      return drained(stream, () => failure);
    },
    async commit(toMeta) {
      const current = stream;
      if (!current || failure) return (abort(), null);
      try {
        await new Promise<void>((resolve, reject) => current.end((error?: Error | null) => (error ? reject(error) : resolve())));
      } catch (error) {
        health.failed(error as Error, tmpBody);
        return (abort(), null);
      }
      stream = null;
      const meta = toMeta({ bytes, sha256: hash.digest("hex") });
      try {
        await deps.install(tmpBody, meta, bytes);
        health.succeeded();
        return meta;
      } catch (error) {
        health.failed(error as Error, tmpBody);
        await unlink(tmpBody).catch(() => {});
        return null;
      }
    },
    abort,
    file: tmpBody,
    opened,
  };
}

// The listeners go once one fires: a long body waits for drain thousands of times. A stream destroyed
// meanwhile (an abort) only closes: the wait ends then too, never hangs.
function drained(stream: WriteStream, failure: () => Error | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off("drain", onDrain);
      stream.off("error", onError);
      stream.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onError = (error: Error) => settle(error);
    const onClose = () => settle(failure() ?? new Error("disk writer closed"));
    stream.once("drain", onDrain);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}
