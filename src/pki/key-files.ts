// Writes PKI files safely: private directories (0700), key files (0600, checked), every write atomic (temp file, fsync, rename).
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { KeyFileInsecureError } from "../errors.ts";

export const PRIVATE_DIR_MODE = 0o700;
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;

// POSIX modes mean nothing on Windows (ACLs do), so there we neither set nor check them.
const hasPosixModes = process.platform !== "win32";

/**
 * Creates `base/...segments` as needed and sets each directory below `base` to
 * 0700 explicitly: mkdir's mode is filtered by the umask, and a directory
 * someone created earlier keeps whatever mode it had. `base` (the data
 * directory) is created 0700 if missing but otherwise left as the operator set it.
 */
export async function ensurePrivateDir(base: string, ...segments: string[]): Promise<string> {
  await mkdir(base, { recursive: true, mode: PRIVATE_DIR_MODE });
  let path = base;
  for (const segment of segments) {
    path = join(path, segment);
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
    if (hasPosixModes) await chmod(path, PRIVATE_DIR_MODE);
  }
  return path;
}

/** Flushes a directory so that a rename or create inside it survives a power cut. */
export async function fsyncDir(path: string): Promise<void> {
  if (!hasPosixModes) return; // Windows cannot open a directory for fsync
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path`, failing if it exists, with `mode` set explicitly (not left to
 * the umask) and its contents on disk before returning.
 */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    if (hasPosixModes) await handle.chmod(mode);
    await handle.writeFile(data, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically: readers see the old file or the new one, never
 * half of one. The temp file lives in the same directory (rename is atomic only
 * within a filesystem) and already has its final mode, so a key is never
 * readable by others, not even for a moment.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeNewFile(temp, data, mode);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dirname(path));
}

/** Writes a private key atomically with mode 0600, then checks that the mode really is 0600. */
export async function writeKeyFileAtomic(path: string, pem: string): Promise<void> {
  await writeFileAtomic(path, pem, KEY_FILE_MODE);
  await checkKeyFileMode(path);
}

/** Throws KeyFileInsecureError if group or others may read or write a key file (as ssh refuses such keys). */
export async function checkKeyFileMode(path: string): Promise<void> {
  if (!hasPosixModes) return;
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) throw new KeyFileInsecureError(path, mode);
}
