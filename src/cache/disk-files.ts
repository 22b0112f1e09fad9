// The disk tier's files: where an entry's metadata and body live, and how the metadata file is written, read and checked.

import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { EntryMeta } from "./stored-entry.ts";

/** The file-system calls through which the disk tier writes and reads bodies: tests inject faults (EIO) here. */
export interface DiskFs {
  createWriteStream: typeof createWriteStream;
  createReadStream: typeof createReadStream;
  rename: typeof rename;
}

export const NODE_DISK_FS: DiskFs = { createWriteStream, createReadStream, rename };

/** A metadata file as read: the entry, a reason it is unusable, or null when there is no file (deleted meanwhile). */
export type MetaRead = { meta: EntryMeta; bodyId: string } | string | null;

/** The files of an entry: `<entries>/<2 hex>/<sha256(key)>.meta` and `.<bodyId>.body` (a new id per fill). */
export function entryPaths(entriesDir: string, key: string, bodyId: string): { dir: string; meta: string; body: string } {
  const hash = createHash("sha256").update(key).digest("hex");
  const dir = join(entriesDir, hash.slice(0, 2));
  return { dir, meta: join(dir, `${hash}.meta`), body: join(dir, `${hash}.${bodyId}.body`) };
}

/** The metadata file that a body file belongs to, and the body id it must name. */
export function metaOfBodyFile(bodyFile: string): { meta: string; bodyId: string } {
  const [hash = "", bodyId = ""] = basename(bodyFile).split(".");
  return { meta: join(dirname(bodyFile), `${hash}.meta`), bodyId };
}

// The metadata file is its JSON and, on the next line, the SHA-256 of that JSON: a torn or
// edited file fails the check. The rename makes the metadata file the entry's commit point.
export async function writeMetaFile(file: string, meta: EntryMeta, bodyId: string, tmpDir: string, fs: DiskFs = NODE_DISK_FS): Promise<void> {
  const json = JSON.stringify({ v: 1, bodyId, meta });
  const tmp = join(tmpDir, `${randomBytes(12).toString("hex")}.meta`);
  await writeFile(tmp, `${json}\n${createHash("sha256").update(json).digest("hex")}\n`, { mode: 0o600 });
  await fs.rename(tmp, file);
}

export async function readMetaFile(file: string): Promise<MetaRead> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? null : "metadata file unreadable";
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
export async function checkBody(file: string, meta: EntryMeta, fs: DiskFs = NODE_DISK_FS): Promise<string | null> {
  try {
    const hash = createHash("sha256");
    let bytes = 0;
    await pipeline(fs.createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      yield* [];
    });
    if (bytes !== meta.bodyBytes) return `body is ${bytes} bytes, metadata says ${meta.bodyBytes} (truncated)`;
    if (hash.digest("hex") !== meta.bodySha256) return "body digest mismatch (corrupt)";
    return null;
  } catch (error) {
    return `body file unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}
