// Whether the disk tier may write: a write error (read-only, full, I/O error) degrades it; it retries one fill after a back-off and recovers on success.

/** What an operator is told when the disk tier degrades or recovers (logged once per change). */
export type DiskHealthEvent =
  | { state: "degraded"; dir: string; path: string; errno: string; message: string; fix: string; retryInMs: number }
  | { state: "recovered"; dir: string; degradedForMs: number };

export interface DiskHealth {
  /** False while degraded and the back-off has not passed: fills skip the disk (memory or the origin serve). */
  mayWrite(): boolean;
  /** A write failed: degraded (told once), and the next try waits for the back-off. */
  failed(error: Error, path: string): void;
  /** A fill was committed to disk: a degraded tier recovers (told once). */
  succeeded(): void;
  readonly isDegraded: boolean;
}

// nginx keeps trying on every fill; a full or read-only disk would then fail every request's fill. One try per
// back-off keeps the cost of a dead disk to one failed write per interval.
export const DISK_RETRY_MS = 30_000;

const FIXES: Record<string, string> = {
  EROFS: "the cache directory is on a read-only file system: remount it read-write, or set cache.disk.dir to a writable directory (cache.disk: off disables the disk tier)",
  ENOSPC: "the cache file system is full: free space, or lower cache.disk.maxSize below the space the file system has",
  EDQUOT: "the disk quota of the edge's user is exhausted: raise it, or lower cache.disk.maxSize",
  EACCES: "the edge's user may not write the cache directory: fix its owner or mode (0700, owned by the edge's user)",
  EPERM: "the edge's user may not write the cache directory: fix its owner or mode (0700, owned by the edge's user)",
  EIO: "the disk reported an I/O error: check the device (dmesg, SMART) before trusting it with the cache",
};

/** @example const health = createDiskHealth({ dir, nowMs: () => clock.now(), onChange: (event) => log.warn(event, "…") }); */
export function createDiskHealth(options: { dir: string; nowMs: () => number; retryMs?: number; onChange?(event: DiskHealthEvent): void }): DiskHealth {
  const retryMs = options.retryMs ?? DISK_RETRY_MS;
  let degradedAt: number | null = null;
  let retryAt = 0;
  return {
    mayWrite() {
      if (degradedAt === null) return true;
      const now = options.nowMs();
      if (now < retryAt) return false;
      // One fill tries; the others keep skipping the disk until it has succeeded or failed.
      retryAt = now + retryMs;
      return true;
    },
    failed(error, path) {
      const now = options.nowMs();
      retryAt = now + retryMs;
      if (degradedAt !== null) return;
      degradedAt = now;
      const errno = (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
      const fix = FIXES[errno] ?? "check the cache directory's file system; the tier retries by itself";
      options.onChange?.({ state: "degraded", dir: options.dir, path, errno, message: error.message, fix, retryInMs: retryMs });
    },
    succeeded() {
      if (degradedAt === null) return;
      const degradedForMs = options.nowMs() - degradedAt;
      degradedAt = null;
      retryAt = 0;
      options.onChange?.({ state: "recovered", dir: options.dir, degradedForMs });
    },
    get isDegraded() {
      return degradedAt !== null;
    },
  };
}
