// The disk tier: one metadata file and one body file per entry, written via a temporary file and a rename, checked by SHA-256, bounded in bytes.

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdir, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { checkBody, entryPaths, metaOfBodyFile, NODE_DISK_FS, readMetaFile, writeMetaFile } from "./disk-files.ts";
import type { DiskFs } from "./disk-files.ts";
import { createDiskHealth } from "./disk-health.ts";
import type { DiskHealthEvent } from "./disk-health.ts";
import { createDiskWriter } from "./disk-writer.ts";
import type { DiskWriter } from "./disk-writer.ts";
import { createDiskIndex } from "./disk-index.ts";
import type { DiskRecord } from "./disk-index.ts";
import { runIndexLoader } from "./disk-index-loader.ts";
import type { BeforeBatch, MetaFileRead } from "./disk-index-loader.ts";
import type { EntryMeta, StoredEntry } from "./stored-entry.ts";

export type { BeforeBatch, LoadStep } from "./disk-index-loader.ts";
export type { DiskHealthEvent } from "./disk-health.ts";
export type { DiskWriter } from "./disk-writer.ts";

// The errors of a disk that cannot be written now (read-only, full, over quota, failing, not ours): they degrade the tier.
const DISK_FAULTS = new Set(["EROFS", "ENOSPC", "EDQUOT", "EIO", "EACCES", "EPERM"]);

/** How the background load of the index ended. */
export interface DiskLoadReport {
  /** "stopped": the tier was closed first; "failed": the entries directory could not be listed (`error`). */
  outcome: "complete" | "stopped" | "failed";
  entries: number;
  bytes: number;
  /** Damaged metadata files deleted, older records superseded by what was stored or deleted meanwhile. */
  dropped: number;
  ms: number;
  error?: string;
}

export interface DiskTier {
  /** Reads the metadata and checks the entry; a corrupt or truncated one is deleted and null returned. */
  get(key: string): Promise<StoredEntry | null>;
  /**
   * `onFlushed` is told the bytes written to the temporary file so far, after each write reaches it.
   * null while the tier is degraded (a write failed) and its back-off has not passed: the fill skips the disk.
   */
  createWriter(onFlushed?: (bytes: number) => void): DiskWriter | null;
  /** True from a failed write until a later fill is committed to disk. */
  readonly isDegraded: boolean;
  updateMeta(meta: EntryMeta): Promise<void>;
  delete(key: string): Promise<void>;
  has(key: string): boolean;
  /**
   * Sees each entry as the background loader adds it (Vary records are rebuilt from these); false drops
   * the entry. Set it right after opening: the loader adds nothing before its first reads complete.
   */
  admitLoaded(admit: (meta: EntryMeta) => boolean): void;
  /** Resolves (never rejects) when the whole index is loaded, or the load ended early. */
  readonly loaded: Promise<DiskLoadReport>;
  readonly isLoading: boolean;
  /** Ends the loader (nothing is written by it afterwards) and waits for writes in progress. */
  close(): Promise<void>;
  readonly usedBytes: number;
  readonly size: number;
}

export interface DiskTierOptions {
  dir: string;
  maxBytes: number;
  onEvict?(key: string): void;
  /** Told about each entry dropped at load or read, with why. */
  onDrop?(file: string, reason: string): void;
  /** Awaited by the background loader before it reads each batch and before it applies it, with the batch's metadata files: tests pause it here. */
  beforeBatch?: BeforeBatch;
  /** Told when a write error degrades the tier and when a later write recovers it. */
  onHealth?(event: DiskHealthEvent): void;
  /** The clock the back-off after a write error is measured on. */
  nowMs?(): number;
  /** The file-system calls for bodies and the metadata rename: tests inject faults here. */
  fs?: DiskFs;
  /**
   * The directory under `dir` that bodies are written to before their rename, emptied at open ("tmp" by default).
   * Workers sharing `dir` each have their own: a restarted worker empties only the one its predecessor used.
   */
  tmpDirName?: string;
  /**
   * How many processes share `dir` (the workers of a `moat start` group; 1 by default). Each keeps to its share of
   * `maxBytes`, so that the directory stays within the bound; looks on disk for an entry it has not indexed (another
   * worker stored it since this one started), and adopts an entry another worker replaced rather than deleting it;
   * and at start leaves alone a body too young to be an orphan (another worker may be between its body's rename and
   * its metadata's).
   */
  sharers?: number;
}

// Under sharers, a body without metadata naming it is swept only once it is this old: an install renames the body,
// then writes the metadata, within milliseconds; anything older was left by a crash or a replaced fill.
const SHARED_ORPHAN_AGE_MS = 60_000;

/**
 * Opens (creating it if needed) a cache directory and returns at once; the index loads in the
 * background (`loaded`). Until an entry is loaded, a lookup for it is a miss. Entries whose metadata
 * does not match its digest, or whose body is missing or of the wrong size, are deleted.
 * @example
 * const disk = await openDiskTier({ dir: "/var/lib/moat/cache", maxBytes: 10 * 2 ** 30 });
 * const report = await disk.loaded; // only where the whole index is needed (tests, the bench)
 */
export async function openDiskTier(options: DiskTierOptions): Promise<DiskTier> {
  const entriesDir = join(options.dir, "entries");
  const tmpDir = join(options.dir, options.tmpDirName ?? "tmp");
  const index = createDiskIndex();
  const fs = options.fs ?? NODE_DISK_FS;
  const sharers = Math.max(1, Math.floor(options.sharers ?? 1));
  const isShared = sharers > 1;
  const maxBytes = Math.floor(options.maxBytes / sharers);
  const health = createDiskHealth({ dir: options.dir, nowMs: options.nowMs ?? Date.now, onChange: options.onHealth });
  try {
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(entriesDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // A read-only or full disk at start: the edge still starts, serves what the tier holds, and degrades.
    if (!DISK_FAULTS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
    health.failed(error as Error, options.dir);
  }
  // Keys stored or deleted since loading started: the loader's older record of them is never added.
  const loading = { isRunning: true, isStopped: false, touched: new Set<string>(), admit: null as ((meta: EntryMeta) => boolean) | null, entries: 0, bytes: 0, dropped: 0 };
  let signalStopped = () => {};
  const stopped = new Promise<void>((resolve) => (signalStopped = resolve));
  let commits: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const result = commits.then(work);
    commits = result.catch(() => {});
    return result;
  };

  const paths = (key: string, bodyId: string) => entryPaths(entriesDir, key, bodyId);

  const drop = async (key: string, reason?: string) => {
    if (loading.isRunning) loading.touched.add(key);
    const record = index.remove(key);
    const files = paths(key, record?.bodyId ?? "");
    // Under sharers, what is on disk for the key may be another worker's (stored, or replaced, since this one indexed
    // it, or never indexed here): deleting a key deletes whatever is stored for it, or a peer would go on finding it.
    const shared = isShared ? await readMetaFile(files.meta) : null;
    const sharedBodyId = shared !== null && typeof shared !== "string" && shared.meta.key === key ? shared.bodyId : null;
    if (!record && sharedBodyId === null) {
      // Not loaded yet: its metadata goes now, so that neither the loader nor a restart brings it back; its body is swept.
      if (loading.isRunning) await unlink(files.meta).catch(() => {});
      return;
    }
    if (reason) options.onDrop?.(files.meta, reason);
    await unlink(files.meta).catch(() => {});
    if (record) await unlink(files.body).catch(() => {});
    if (sharedBodyId !== null && sharedBodyId !== record?.bodyId) await unlink(paths(key, sharedBodyId).body).catch(() => {});
  };

  const evictUntilFits = async () => {
    for (const key of index.evictionOrder()) {
      if (index.usedBytes <= maxBytes) return;
      await drop(key);
      options.onEvict?.(key);
    }
  };

  async function get(key: string, isAdopted = false): Promise<StoredEntry | null> {
    let record = index.get(key);
    if (!record) {
      if (!isShared || loading.isStopped) return null;
      record = (await adopt(key)) ?? undefined;
      if (!record) return null;
    }
    const files = paths(key, record.bodyId);
    const meta = await readMetaFile(files.meta);
    if (isShared && !isAdopted && meta !== null && typeof meta !== "string" && meta.meta.key === key && meta.bodyId !== record.bodyId) {
      // Another worker stored a newer response: its entry replaces this worker's record.
      return (await adopt(key)) ? get(key, true) : null;
    }
    if (meta === null && isShared && index.get(key) === record) {
      // Another worker evicted or deleted it: its files are gone already; this worker only forgets it.
      index.remove(key);
      return null;
    }
    if (meta === null || typeof meta === "string" || meta.meta.key !== key || meta.bodyId !== record.bodyId) {
      await drop(key, meta === null ? "metadata file missing" : typeof meta === "string" ? meta : "metadata names another entry");
      return null;
    }
    if (!record.isVerified) {
      const problem = await checkBody(files.body, meta.meta, fs);
      if (problem) {
        await drop(key, problem);
        return null;
      }
      record.isVerified = true;
    }
    if (index.get(key) === record) index.setUsed(key, record);
    return {
      meta: meta.meta,
      tier: "disk",
      body: {
        stream(range) {
          const stream = fs.createReadStream(files.body, range ? { start: range.start, end: range.end } : {});
          // An I/O error on a stored body: this response is cut, and the entry goes (the next request is a miss).
          stream.once("error", (error: NodeJS.ErrnoException) => void serially(() => (index.get(key) === record ? drop(key, `body file unreadable (${error.code ?? error.message})`) : Promise.resolve())));
          return stream;
        },
      },
    };
  }

  /**
   * Indexes the entry on disk for `key` that another worker stored (under sharers): its body checked first, unverified
   * bodies are never served. Null when there is none, or it is damaged (left for its writer, which deletes it).
   */
  function adopt(key: string): Promise<DiskRecord | null> {
    return serially(async () => {
      const read = await readMetaFile(paths(key, "").meta);
      if (read === null || typeof read === "string" || read.meta.key !== key) return null;
      const files = paths(key, read.bodyId);
      const problem = await checkBody(files.body, read.meta, fs);
      if (problem) {
        // Whole bodies are renamed in before their metadata names them: this one is damaged, and goes for every worker.
        const again = await readMetaFile(files.meta);
        if (again !== null && typeof again !== "string" && again.bodyId === read.bodyId) {
          options.onDrop?.(files.meta, problem);
          await unlink(files.meta).catch(() => {});
          await unlink(files.body).catch(() => {});
        }
        return null;
      }
      const previous = index.get(key);
      if (previous && previous.bodyId === read.bodyId) return previous;
      // The body this worker had indexed was replaced by the other worker's rename of the metadata: nothing names it.
      if (previous) await unlink(paths(key, previous.bodyId).body).catch(() => {});
      index.remove(key);
      const record = { bodyId: read.bodyId, bytes: read.meta.bodyBytes + 1024, isVerified: true };
      index.setUsed(key, record);
      await evictUntilFits();
      return index.get(key) === record ? record : null;
    });
  }

  function createWriter(onFlushed?: (bytes: number) => void): DiskWriter | null {
    if (!health.mayWrite()) return null;
    if (health.isDegraded) {
      // A retry: the temporary directory may never have been made (the disk failed at start).
      try {
        mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
      } catch (error) {
        health.failed(error as Error, tmpDir);
        return null;
      }
    }
    return createDiskWriter({ tmpDir, fs, health, onFlushed, install });
  }

  /** Makes a written body an entry: renames it in, writes its metadata (the commit point), updates the index. */
  async function install(tmpBody: string, meta: EntryMeta, bytes: number): Promise<void> {
    const bodyId = randomBytes(6).toString("hex");
    const files = paths(meta.key, bodyId);
    try {
      await serially(async () => {
        await mkdir(files.dir, { recursive: true, mode: 0o700 });
        await fs.rename(tmpBody, files.body);
        await writeMetaFile(files.meta, meta, bodyId, tmpDir, fs);
        // While loading, the loader never replaces this record; an older body it has not listed yet is swept.
        if (loading.isRunning) loading.touched.add(meta.key);
        const previous = index.remove(meta.key);
        if (previous && previous.bodyId !== bodyId) await unlink(paths(meta.key, previous.bodyId).body).catch(() => {});
        index.setUsed(meta.key, { bodyId, bytes: bytes + 1024, isVerified: true });
        await evictUntilFits();
      });
    } catch (error) {
      await unlink(files.body).catch(() => {});
      throw error;
    }
  }

  /** Adds what the loader read, unless the tier stored, deleted or already has that key; damaged files go. */
  const applyBatch = (batch: readonly MetaFileRead[]) =>
    serially(async () => {
      const kept = new Set<string>();
      const found: { meta: EntryMeta; bodyId: string }[] = [];
      for (const { file, read } of batch) {
        if (loading.isStopped || read === null) continue;
        if (typeof read !== "string") found.push(read);
        // Re-read under the queue: a fill may have replaced the damaged file since.
        else if (typeof (await readMetaFile(file)) === "string") {
          options.onDrop?.(file, read);
          loading.dropped++;
          await unlink(file).catch(() => {});
        }
      }
      // Oldest first, so that within a batch the least recently stored is evicted first.
      found.sort((a, b) => a.meta.age.responseTimeMs - b.meta.age.responseTimeMs);
      for (const { meta, bodyId } of found) {
        if (loading.isStopped || loading.touched.has(meta.key) || index.get(meta.key)) continue;
        const files = paths(meta.key, bodyId);
        if (loading.admit && !loading.admit(meta)) {
          loading.dropped++;
          await unlink(files.meta).catch(() => {});
          await unlink(files.body).catch(() => {});
          continue;
        }
        const bytes = meta.bodyBytes + 1024;
        index.setLoaded(meta.key, { bodyId, bytes, isVerified: false });
        loading.entries++;
        loading.bytes += bytes;
        kept.add(files.body);
      }
      if (!loading.isStopped) await evictUntilFits();
      return kept;
    });

  // Bodies without metadata naming them are what a crash between the two renames leaves, or what a
  // fill or a delete during loading replaced: never served, so removed. Re-checked under the queue, a
  // fill's body always has its metadata (renamed before the queue moves on), so it is never removed.
  const sweep = async (bodyFiles: readonly string[]) => {
    for (let start = 0; start < bodyFiles.length; start += 64) {
      await serially(async () => {
        for (const body of bodyFiles.slice(start, start + 64)) {
          if (loading.isStopped) return;
          if (isShared && (await isYoungerThan(body, SHARED_ORPHAN_AGE_MS))) continue;
          const owner = metaOfBodyFile(body);
          const read = await readMetaFile(owner.meta);
          if (read === null || typeof read === "string" || read.bodyId !== owner.bodyId) await unlink(body).catch(() => {});
        }
      });
    }
  };

  const startedAt = performance.now();
  const report = (outcome: DiskLoadReport["outcome"], error?: string): DiskLoadReport => ({
    outcome,
    entries: loading.entries,
    bytes: loading.bytes,
    dropped: loading.dropped,
    ms: Math.round(performance.now() - startedAt),
    ...(error ? { error } : {}),
  });
  const loaded = runIndexLoader({ entriesDir, beforeBatch: options.beforeBatch, stopped, isStopped: () => loading.isStopped, apply: applyBatch, sweep })
    .then(
      (isComplete) => report(isComplete ? "complete" : "stopped"),
      (error: Error) => report(loading.isStopped ? "stopped" : "failed", error.message),
    )
    .finally(() => {
      loading.isRunning = false;
      loading.touched.clear();
    });

  return {
    get,
    createWriter,
    async updateMeta(meta) {
      await serially(async () => {
        const record = index.get(meta.key);
        if (!record) return;
        try {
          await writeMetaFile(paths(meta.key, record.bodyId).meta, meta, record.bodyId, tmpDir, fs);
        } catch (error) {
          // The memory tier has the new headers; the disk keeps its older ones, which only make it revalidate sooner.
          health.failed(error as Error, paths(meta.key, record.bodyId).meta);
        }
      });
    },
    delete: (key) => serially(() => drop(key)),
    has: (key) => index.get(key) !== undefined,
    get isDegraded() {
      return health.isDegraded;
    },
    admitLoaded(admit) {
      if (loading.entries > 0) throw new Error("admitLoaded was set after entries were loaded: set it right after openDiskTier");
      loading.admit = admit;
    },
    loaded,
    get isLoading() {
      return loading.isRunning;
    },
    async close() {
      loading.isStopped = true;
      signalStopped();
      await loaded;
      await commits;
    },
    get usedBytes() {
      return index.usedBytes;
    },
    get size() {
      return index.size;
    },
  };
}

/** True when the file was modified less than `ageMs` ago, or is gone (nothing to sweep then). */
async function isYoungerThan(file: string, ageMs: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs < ageMs;
  } catch {
    return true;
  }
}

/** Exposed for tests that damage an entry on purpose. */
export function diskEntryFiles(dir: string, key: string): { dir: string; metaPrefix: string } {
  const files = entryPaths(join(dir, "entries"), key, "");
  return { dir: files.dir, metaPrefix: createHash("sha256").update(key).digest("hex") };
}

