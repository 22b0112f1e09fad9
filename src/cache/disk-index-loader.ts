// The disk tier's background index loader: reads every entry's metadata in batches while the edge serves, as nginx's cache loader does.

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { readMetaFile } from "./disk-files.ts";
import type { MetaRead } from "./disk-files.ts";

export interface MetaFileRead {
  file: string;
  read: MetaRead;
}

/** Where the loader pauses: before it reads a batch of metadata files, and before the tier applies what it read. */
export type LoadStep = "read" | "apply";
export type BeforeBatch = (step: LoadStep, metaFiles: readonly string[]) => Promise<void> | void;

export interface IndexLoaderSteps {
  entriesDir: string;
  /** Awaited before each step with the batch's metadata files (tests pause the loader here); a stop does not wait for it. */
  beforeBatch?: BeforeBatch;
  /** Resolves when the tier stops: the loader then ends at its next step and applies nothing more. */
  stopped: Promise<void>;
  isStopped(): boolean;
  /** Adds a batch to the index (serially with fills and deletes); resolves with the body files of the entries it kept. */
  apply(batch: readonly MetaFileRead[]): Promise<ReadonlySet<string>>;
  /** Removes, after a re-check, body files listed before they were loaded that no entry kept. */
  sweep(bodyFiles: readonly string[]): Promise<void>;
}

// Metadata reads in flight at once: enough to keep libuv's threads and the disk busy.
const READ_CONCURRENCY = 64;
// Entries applied at once: a batch is applied in one step of the tier's serial queue, so it stays short.
const BATCH_SIZE = 256;

/**
 * Loads the index one subdirectory at a time, in batches, then sweeps that subdirectory's orphan
 * bodies. Resolves true once everything was loaded, false when the tier stopped first.
 */
export async function runIndexLoader(steps: IndexLoaderSteps): Promise<boolean> {
  for (const sub of (await readdir(steps.entriesDir)).sort()) {
    const dir = join(steps.entriesDir, sub);
    const names = await readdir(dir).catch(() => [] as string[]);
    const metas = names.filter((name) => name.endsWith(".meta")).map((name) => join(dir, name));
    const bodies = names.filter((name) => name.endsWith(".body")).map((name) => join(dir, name));
    const kept = new Set<string>();
    for (let start = 0; start < metas.length; start += BATCH_SIZE) {
      const files = metas.slice(start, start + BATCH_SIZE);
      if (!(await pause(steps, "read", files))) return false;
      const batch = await readConcurrently(files);
      if (!(await pause(steps, "apply", files))) return false;
      for (const body of await steps.apply(batch)) kept.add(body);
    }
    if (steps.isStopped()) return false;
    await steps.sweep(bodies.filter((body) => !kept.has(body)));
  }
  return !steps.isStopped();
}

/** false when the tier stopped (during the pause or before it). */
async function pause(steps: IndexLoaderSteps, step: LoadStep, files: readonly string[]): Promise<boolean> {
  if (steps.isStopped()) return false;
  if (steps.beforeBatch) await Promise.race([steps.beforeBatch(step, files), steps.stopped]);
  return !steps.isStopped();
}

async function readConcurrently(files: readonly string[]): Promise<MetaFileRead[]> {
  const results: MetaFileRead[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as string;
      results.push({ file, read: await readMetaFile(file) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  return results;
}
