// One writer at a time for the revocation registry and the CRL files: `moat ca revoke` and a running edge's CRL refresh may overlap.
import { open, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { CaBusyError, CaNotFoundError } from "../errors.ts";

/**
 * Holders keep the lock for milliseconds (read a small JSON file, sign a CRL,
 * write three files), so a lock file this old was left by a process that died
 * holding it. Taking it over is safe unless that process is merely frozen.
 */
const STALE_AFTER_MS = 30_000;
const WAIT_AT_MOST_MS = 10_000;
const POLL_EVERY_MS = 20;

const LOCK_FILE = "revocation.lock";

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx", 0o600);
    // Who holds it, for an operator who finds a stale lock.
    await handle.writeFile(`${process.pid}@${hostname()}\n`).finally(() => handle.close());
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

async function removeIfStale(path: string, now: number): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info && now - info.mtimeMs > STALE_AFTER_MS) await unlink(path).catch(() => undefined);
}

/**
 * Runs `work` while holding `<dataDir>/ca/revocation.lock` (created with O_EXCL): every
 * read-modify-write of `revoked.json`, `crl-number` and the CRL files happens inside it,
 * so two revocations never lose one another, and a CRL never overwrites a newer one.
 * Throws CaNotFoundError when there is no `<dataDir>/ca`, CaBusyError after 10 s of waiting.
 */
export async function withRevocationLock<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  const caDir = join(dataDir, "ca");
  const path = join(caDir, LOCK_FILE);
  const deadline = Date.now() + WAIT_AT_MOST_MS;
  for (;;) {
    try {
      if (await tryAcquire(path)) break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new CaNotFoundError(caDir);
      throw error;
    }
    await removeIfStale(path, Date.now());
    if (Date.now() > deadline) throw new CaBusyError(path);
    await delay(POLL_EVERY_MS);
  }
  try {
    return await work();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
