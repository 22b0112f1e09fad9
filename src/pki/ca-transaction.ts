// Changes several files of <dataDir>/ca at once, crash-safe: staged in a directory, committed by one rename, then replayed (a redo log).
//
// A rotation replaces the root and intermediate certificates and keys, the bundle and
// the root's CRL together. Each file could be swapped atomically on its own, but a kill -9
// between two swaps would leave an intermediate that its root did not sign. So every new
// file is first written into `.txn-<random>/` with a plan; renaming that directory to
// `.txn-commit` is the commit point; the plan's steps (rename a staged file over its
// target, then delete what the plan deletes) are idempotent, so whoever finds a
// `.txn-commit` (the writer, or the next process to open the CA) finishes it. An
// uncommitted `.txn-*` directory is discarded by the next writer.
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, normalize, sep } from "node:path";
import { fsyncDir, PRIVATE_DIR_MODE } from "./key-files.ts";

const COMMITTED = ".txn-commit";
const PLAN = "plan.json";

/** A file the transaction writes, relative to the CA directory. */
export interface CaFileWrite {
  path: string;
  data: string | Uint8Array;
  mode: number;
}

export interface CaChange {
  writes: readonly CaFileWrite[];
  /** Files or directories (relative to the CA directory) deleted once every write is in place. */
  removals?: readonly string[];
}

interface Plan {
  moves: { staged: string; target: string }[];
  removals: string[];
}

/** A relative path that stays inside the CA directory: plans are data read back from disk. */
function checkRelative(path: string): string {
  const normal = normalize(path);
  if (normal.startsWith("..") || normal.startsWith(sep) || normal === "." || normal.includes(`${sep}..${sep}`)) {
    throw new RangeError(`a CA transaction path must stay inside the CA directory (got ${path})`);
  }
  return normal;
}

/**
 * Applies `change` to `caDir` all or nothing: after a crash at any point, the next
 * `recoverCaTransaction` (which `openCaFiles` runs) leaves either none or all of it.
 * The caller holds the CA lock. `crashAfterSteps` stops the replay early: tests use it
 * to leave the state a kill -9 would.
 */
export async function commitCaTransaction(caDir: string, change: CaChange, options: { crashAfterSteps?: number } = {}): Promise<void> {
  await recoverCaTransaction(caDir);
  // Only the lock holder gets here, so a staging directory nobody committed was left by a crash.
  for (const name of (await readdir(caDir)).filter((n) => n.startsWith(".txn-") && n !== COMMITTED)) {
    await rm(join(caDir, name), { recursive: true, force: true });
  }
  const staging = await mkdtemp(join(caDir, ".txn-"));
  try {
    const plan: Plan = { moves: [], removals: (change.removals ?? []).map(checkRelative) };
    for (const [index, write] of change.writes.entries()) {
      const staged = `f${index}`;
      await writeFile(join(staging, staged), write.data, { mode: write.mode, flag: "wx" });
      plan.moves.push({ staged, target: checkRelative(write.path) });
    }
    await writeFile(join(staging, PLAN), JSON.stringify(plan), { mode: 0o600, flag: "wx" });
    await fsyncFiles(staging, [...plan.moves.map((m) => m.staged), PLAN]);
    await fsyncDir(staging);
    await rename(staging, join(caDir, COMMITTED));
    await fsyncDir(caDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  await replay(caDir, options.crashAfterSteps);
}

/**
 * Finishes a committed transaction (left by a crash, or being replayed by its writer right
 * now); true if there was one. Safe to run by several processes at once, and without the CA
 * lock: every step tolerates finding itself already done, and uncommitted staging is left alone.
 */
export async function recoverCaTransaction(caDir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(caDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  if (!entries.includes(COMMITTED)) return false;
  await replay(caDir);
  return true;
}

async function replay(caDir: string, crashAfterSteps = Number.POSITIVE_INFINITY): Promise<void> {
  const committed = join(caDir, COMMITTED);
  let plan: Plan;
  try {
    plan = JSON.parse(await readFile(join(committed, PLAN), "utf8")) as Plan;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // another process finished it
    throw error;
  }
  let steps = 0;
  const touched = new Set<string>([caDir]);
  for (const move of plan.moves) {
    if (steps++ >= crashAfterSteps) return;
    const target = join(caDir, checkRelative(move.target));
    await mkdir(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    try {
      await rename(join(committed, move.staged), target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // already moved
    }
    touched.add(dirname(target));
  }
  for (const removal of plan.removals) {
    if (steps++ >= crashAfterSteps) return;
    await rm(join(caDir, checkRelative(removal)), { recursive: true, force: true });
  }
  for (const dir of touched) await fsyncDir(dir).catch(() => undefined);
  await rm(committed, { recursive: true, force: true });
  await fsyncDir(caDir);
}

async function fsyncFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const handle = await open(join(dir, name), "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
