// The disk tier: one metadata file and one body file per entry, written via a temporary file and a rename, checked by SHA-256, bounded in bytes.

import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { EntryMeta, StoredEntry } from "./stored-entry.ts";

/** Kept in memory per disk entry: what the index costs (see README, "Cache"). */
interface DiskRecord {
  bodyId: string;
  bytes: number;
  /** Set once the body's digest was checked in this process (or it was written by it). */
  isVerified: boolean;
}

export interface DiskWriter {
  write(chunk: Buffer): Promise<void>;
  /** Finishes the body; `toMeta` gets its size and digest. Resolves null if the entry could not be written. */
  commit(toMeta: (body: { bytes: number; sha256: string }) => EntryMeta): Promise<EntryMeta | null>;
  abort(): void;
  /** The temporary file the body is written to (renamed at commit), and when it exists: collapsed requests read it as it grows. */
  readonly file: string;
  readonly opened: Promise<void>;
}

export interface DiskTier {
  /** Reads the metadata and checks the entry; a corrupt or truncated one is deleted and null returned. */
  get(key: string): Promise<StoredEntry | null>;
  /** `onFlushed` is told the bytes written to the temporary file so far, after each write reaches it. */
  createWriter(onFlushed?: (bytes: number) => void): DiskWriter;
  updateMeta(meta: EntryMeta): Promise<void>;
  delete(key: string): Promise<void>;
  has(key: string): boolean;
  /** Every key loaded at start, with the metadata needed to rebuild Vary records. */
  readonly loaded: readonly EntryMeta[];
  readonly usedBytes: number;
  readonly size: number;
}

export interface DiskTierOptions {
  dir: string;
  maxBytes: number;
  onEvict?(key: string): void;
  /** Told about each entry dropped at load or read, with why. */
  onDrop?(file: string, reason: string): void;
}

/**
 * Opens (creating it if needed) a cache directory and loads its index. Entries whose metadata does
 * not match its digest, or whose body is missing or of the wrong size, are deleted.
 * @example
 * const disk = await openDiskTier({ dir: "/var/lib/moat/cache", maxBytes: 10 * 2 ** 30 });
 */
export async function openDiskTier(options: DiskTierOptions): Promise<DiskTier> {
  const entriesDir = join(options.dir, "entries");
  const tmpDir = join(options.dir, "tmp");
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  await mkdir(entriesDir, { recursive: true, mode: 0o700 });
  const records = new Map<string, DiskRecord>();
  let usedBytes = 0;
  const loaded = await loadIndex(entriesDir, options);
  for (const { meta, bodyId, bytes } of loaded) {
    records.set(meta.key, { bodyId, bytes, isVerified: false });
    usedBytes += bytes;
  }
  let commits: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const result = commits.then(work);
    commits = result.catch(() => {});
    return result;
  };

  const paths = (key: string, bodyId: string) => {
    const hash = createHash("sha256").update(key).digest("hex");
    const dir = join(entriesDir, hash.slice(0, 2));
    return { dir, meta: join(dir, `${hash}.meta`), body: join(dir, `${hash}.${bodyId}.body`) };
  };

  const drop = async (key: string, reason?: string) => {
    const record = records.get(key);
    if (!record) return;
    records.delete(key);
    usedBytes -= record.bytes;
    const files = paths(key, record.bodyId);
    if (reason) options.onDrop?.(files.meta, reason);
    await unlink(files.meta).catch(() => {});
    await unlink(files.body).catch(() => {});
  };

  const evictUntilFits = async () => {
    for (const key of records.keys()) {
      if (usedBytes <= options.maxBytes) return;
      await drop(key);
      options.onEvict?.(key);
    }
  };

  async function get(key: string): Promise<StoredEntry | null> {
    const record = records.get(key);
    if (!record) return null;
    const files = paths(key, record.bodyId);
    const meta = await readMetaFile(files.meta);
    if (typeof meta === "string" || meta.meta.key !== key || meta.bodyId !== record.bodyId) {
      await drop(key, typeof meta === "string" ? meta : "metadata names another entry");
      return null;
    }
    if (!record.isVerified) {
      const problem = await checkBody(files.body, meta.meta);
      if (problem) {
        await drop(key, problem);
        return null;
      }
      record.isVerified = true;
    }
    records.delete(key);
    records.set(key, record);
    return {
      meta: meta.meta,
      tier: "disk",
      body: { stream: (range) => createReadStream(files.body, range ? { start: range.start, end: range.end } : {}) },
    };
  }

  function createWriter(onFlushed?: (bytes: number) => void): DiskWriter {
    const tmpBody = join(tmpDir, randomBytes(12).toString("hex"));
    const hash = createHash("sha256");
    let bytes = 0;
    let flushedBytes = 0;
    const created = createWriteStream(tmpBody, { mode: 0o600 });
    let stream: WriteStream | null = created;
    let failure: Error | null = null;
    created.on("error", (error) => (failure = error));
    const opened = new Promise<void>((resolve, reject) => {
      created.once("open", () => resolve());
      created.once("error", reject);
    });
    opened.catch(() => {});
    const abort = () => {
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
          onFlushed?.(flushedBytes);
        };
        if (stream.write(chunk, onWritten)) return Promise.resolve();
        const current = stream;
        // Both listeners go once either fires: a long body waits for drain thousands of times.
        return new Promise((resolve, reject) => {
          const onDrain = () => {
            current.off("error", onError);
            resolve();
          };
          const onError = (error: Error) => {
            current.off("drain", onDrain);
            reject(error);
          };
          current.once("drain", onDrain);
          current.once("error", onError);
        });
      },
      async commit(toMeta) {
        const current = stream;
        if (!current || failure) return (abort(), null);
        await new Promise<void>((resolve, reject) => current.end((error?: Error | null) => (error ? reject(error) : resolve())));
        stream = null;
        const meta = toMeta({ bytes, sha256: hash.digest("hex") });
        const bodyId = randomBytes(6).toString("hex");
        const files = paths(meta.key, bodyId);
        try {
          return await serially(async () => {
            await mkdir(files.dir, { recursive: true, mode: 0o700 });
            await rename(tmpBody, files.body);
            await writeMetaFile(files.meta, meta, bodyId, tmpDir);
            const previous = records.get(meta.key);
            if (previous) {
              usedBytes -= previous.bytes;
              records.delete(meta.key);
              if (previous.bodyId !== bodyId) await unlink(paths(meta.key, previous.bodyId).body).catch(() => {});
            }
            records.set(meta.key, { bodyId, bytes: bytes + 1024, isVerified: true });
            usedBytes += bytes + 1024;
            await evictUntilFits();
            return meta;
          });
        } catch {
          await unlink(tmpBody).catch(() => {});
          return null;
        }
      },
      abort,
      file: tmpBody,
      opened,
    };
  }

  return {
    get,
    createWriter,
    async updateMeta(meta) {
      await serially(async () => {
        const record = records.get(meta.key);
        if (record) await writeMetaFile(paths(meta.key, record.bodyId).meta, meta, record.bodyId, tmpDir);
      });
    },
    delete: (key) => serially(() => drop(key)),
    has: (key) => records.has(key),
    loaded: loaded.map((entry) => entry.meta),
    get usedBytes() {
      return usedBytes;
    },
    get size() {
      return records.size;
    },
  };
}

// The metadata file is its JSON and, on the next line, the SHA-256 of that JSON: a torn or
// edited file fails the check. The rename makes the metadata file the entry's commit point.
async function writeMetaFile(file: string, meta: EntryMeta, bodyId: string, tmpDir: string): Promise<void> {
  const json = JSON.stringify({ v: 1, bodyId, meta });
  const tmp = join(tmpDir, `${randomBytes(12).toString("hex")}.meta`);
  await writeFile(tmp, `${json}\n${createHash("sha256").update(json).digest("hex")}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

async function readMetaFile(file: string): Promise<{ meta: EntryMeta; bodyId: string } | string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return "metadata file unreadable";
  }
  const [json = "", digest = ""] = text.split("\n");
  if (createHash("sha256").update(json).digest("hex") !== digest) return "metadata digest mismatch (torn or corrupt file)";
  try {
    const parsed = JSON.parse(json) as { v: number; bodyId: string; meta: EntryMeta };
    if (parsed.v !== 1 || typeof parsed.bodyId !== "string" || typeof parsed.meta?.key !== "string") return "metadata of an unknown version";
    return { meta: parsed.meta, bodyId: parsed.bodyId };
  } catch {
    return "metadata is not JSON";
  }
}

/** Streams the whole body through SHA-256: the only way to know a disk entry is whole before serving it. */
async function checkBody(file: string, meta: EntryMeta): Promise<string | null> {
  try {
    const hash = createHash("sha256");
    let bytes = 0;
    await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      yield* [];
    });
    if (bytes !== meta.bodyBytes) return `body is ${bytes} bytes, metadata says ${meta.bodyBytes} (truncated)`;
    if (hash.digest("hex") !== meta.bodySha256) return "body digest mismatch (corrupt)";
    return null;
  } catch {
    return "body file unreadable";
  }
}

interface LoadedEntry {
  meta: EntryMeta;
  bodyId: string;
  bytes: number;
  usedAtMs: number;
}

// Metadata reads in flight at once while loading: enough to keep libuv's threads and the disk busy.
const LOAD_CONCURRENCY = 64;

/**
 * Reads every metadata file, many at a time, and orders the index by when each response was stored
 * (oldest first: LRU order). Only the metadata is read: a body is checked against its size and
 * digest before it is first served (checkBody), so a truncated or damaged one is still never served,
 * and a restart costs one small read per entry rather than three file operations.
 */
async function loadIndex(entriesDir: string, options: DiskTierOptions): Promise<LoadedEntry[]> {
  const found: LoadedEntry[] = [];
  const referenced = new Set<string>();
  const bodies: string[] = [];
  const metas: string[] = [];
  for (const sub of await readdir(entriesDir)) {
    const dir = join(entriesDir, sub);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.endsWith(".meta")) metas.push(join(dir, name));
      else if (name.endsWith(".body")) bodies.push(join(dir, name));
    }
  }
  await forEachConcurrently(metas, LOAD_CONCURRENCY, async (file) => {
    const meta = await readMetaFile(file);
    if (typeof meta === "string") {
      options.onDrop?.(file, meta);
      await unlink(file).catch(() => {});
      return;
    }
    referenced.add(`${file.slice(0, -".meta".length)}.${meta.bodyId}.body`);
    found.push({ meta: meta.meta, bodyId: meta.bodyId, bytes: meta.meta.bodyBytes + 1024, usedAtMs: meta.meta.age.responseTimeMs });
  });
  // Bodies without metadata are what a crash between the two renames leaves: never served, so removed.
  await forEachConcurrently(bodies.filter((file) => !referenced.has(file)), LOAD_CONCURRENCY, (file) => unlink(file).catch(() => {}));
  return found.sort((a, b) => a.usedAtMs - b.usedAtMs);
}

async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Exposed for tests that damage an entry on purpose. */
export function diskEntryFiles(dir: string, key: string): { dir: string; metaPrefix: string } {
  const hash = createHash("sha256").update(key).digest("hex");
  return { dir: join(dir, "entries", hash.slice(0, 2)), metaPrefix: hash };
}

