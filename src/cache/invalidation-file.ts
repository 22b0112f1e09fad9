// The invalidation request file: `moat cache invalidate` appends to it, the edge reads it and compacts it once everything in it is applied.
//
// Each line is one request; its sequence number is its `seq` field when it has one (a compacted line), else the
// previous line's plus one (an appended line). Compaction keeps, for each (distribution, path), only the newest
// request naming it, with its number: stored entries remember numbers (their marks), so numbers never change
// and the rules rebuilt from a compacted file at the next start invalidate exactly what the whole file did.
//
// Appends and compaction take one lock (an O_EXCL lock file holding the owner's pid): a compaction replaces the
// file by a rename, and an append made meanwhile to the replaced file would be lost without it.

import { randomBytes } from "node:crypto";
import { open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidationLockTimeoutError } from "../errors.ts";

export interface InvalidationRequest {
  readonly id: string;
  readonly distribution: string;
  /** "/exact/path" or "/prefix*" ("*" alone or "/*": everything). */
  readonly paths: readonly string[];
  readonly at: string;
}

/** A request with its sequence number. */
export interface NumberedInvalidation extends InvalidationRequest {
  readonly seq: number;
}

export const INVALIDATION_FILES = { dir: "invalidations", requests: "requests.jsonl", applied: "applied.json", lock: "requests.lock" } as const;

// A lock is held for one append or one compaction (milliseconds); one older than this was left by a crash.
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

/** Every complete request in the file, numbered, in order (a torn last line is left for later). */
export async function readInvalidations(dataDir: string): Promise<NumberedInvalidation[]> {
  const text = await readFile(join(dataDir, INVALIDATION_FILES.dir, INVALIDATION_FILES.requests), "utf8").catch(() => "");
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  const requests: NumberedInvalidation[] = [];
  let seq = 0;
  for (const line of complete.split("\n")) {
    if (!line) continue;
    let parsed: Partial<NumberedInvalidation>;
    try {
      parsed = JSON.parse(line) as Partial<NumberedInvalidation>;
    } catch {
      // A line that is not JSON still counts, so that the numbers stay as they were.
      parsed = {};
    }
    seq = typeof parsed.seq === "number" && parsed.seq > seq ? parsed.seq : seq + 1;
    const paths = Array.isArray(parsed.paths) ? parsed.paths.filter((path): path is string => typeof path === "string") : [];
    requests.push({ id: String(parsed.id ?? ""), distribution: String(parsed.distribution ?? ""), paths, at: String(parsed.at ?? ""), seq });
  }
  return requests;
}

/** Appends one line under the lock and returns its number. */
export async function appendInvalidationLine(dir: string, request: InvalidationRequest): Promise<number> {
  return withLock(dir, async () => {
    const handle = await open(join(dir, INVALIDATION_FILES.requests), "a", 0o600);
    try {
      await handle.write(`${JSON.stringify(request)}\n`);
    } finally {
      await handle.close();
    }
    const all = await readInvalidations(join(dir, ".."));
    return all.find((entry) => entry.id === request.id)?.seq ?? 0;
  });
}

/**
 * Rewrites the file with only the newest request for each (distribution, path), once every request in it is
 * applied (its last number is `appliedMark`). Returns how many lines it removed (0: nothing to gain, or not all applied).
 */
export async function compactInvalidations(dataDir: string, appliedMark: number): Promise<number> {
  const dir = join(dataDir, INVALIDATION_FILES.dir);
  return withLock(dir, async () => {
    const all = await readInvalidations(dataDir);
    // Read under the lock: a request appended since the edge applied the others waits for the next compaction.
    if (all.length === 0 || all.at(-1)?.seq !== appliedMark) return 0;
    const newest = new Map<string, number>();
    for (const request of all) for (const path of request.paths) newest.set(`${request.distribution}\n${path}`, request.seq);
    const kept: NumberedInvalidation[] = [];
    for (const request of all) {
      const paths = request.paths.filter((path) => newest.get(`${request.distribution}\n${path}`) === request.seq);
      // The last request always stays: the next appended line is numbered from it.
      if (paths.length > 0 || request.seq === appliedMark) kept.push({ ...request, paths });
    }
    if (kept.length === all.length) return 0;
    const tmp = join(dir, `.requests-${randomBytes(6).toString("hex")}`);
    await writeFile(tmp, kept.map((request) => `${JSON.stringify(request)}\n`).join(""), { mode: 0o600 });
    await rename(tmp, join(dir, INVALIDATION_FILES.requests));
    return all.length - kept.length;
  });
}

/** Runs `work` holding `<dir>/requests.lock`; a lock whose owner is gone (or older than 30 s) is taken over. */
async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lockFile = join(dir, INVALIDATION_FILES.lock);
  const startedAt = Date.now();
  for (let delayMs = 2; ; delayMs = Math.min(delayMs * 2, 50)) {
    try {
      const handle = await open(lockFile, "wx", 0o600);
      await handle.write(JSON.stringify({ pid: process.pid, at: Date.now() }));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = await lockHolder(lockFile);
      if (holder.isStale) {
        await unlink(lockFile).catch(() => {});
        continue;
      }
      const waitedMs = Date.now() - startedAt;
      if (waitedMs > LOCK_WAIT_MS) throw new InvalidationLockTimeoutError(lockFile, holder.description, waitedMs);
      await sleep(delayMs);
    }
  }
  try {
    return await work();
  } finally {
    await unlink(lockFile).catch(() => {});
  }
}

async function lockHolder(lockFile: string): Promise<{ isStale: boolean; description: string }> {
  const text = await readFile(lockFile, "utf8").catch(() => null);
  // Gone meanwhile (released): not stale, just try again.
  if (text === null) return { isStale: false, description: "another process" };
  // Empty: its owner is between open and write, or crashed there (then the file grows old).
  if (text === "") {
    const modifiedMs = (await stat(lockFile).catch(() => null))?.mtimeMs ?? Date.now();
    return { isStale: Date.now() - modifiedMs > STALE_LOCK_MS, description: "another process" };
  }
  try {
    const { pid, at } = JSON.parse(text) as { pid: number; at: number };
    if (Date.now() - at > STALE_LOCK_MS) return { isStale: true, description: `process ${pid}` };
    try {
      process.kill(pid, 0);
      return { isStale: false, description: `process ${pid}` };
    } catch (error) {
      return { isStale: (error as NodeJS.ErrnoException).code === "ESRCH", description: `process ${pid}` };
    }
  } catch {
    return { isStale: true, description: "a torn lock file" };
  }
}
