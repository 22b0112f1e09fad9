// Watches named files for change or replacement: a directory watch for speed, and a periodic stat as the backstop for events the kernel drops or a filesystem never sends.
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";

export interface FileWatchOptions {
  /** The files to watch; their directories are watched, since most tools replace a file by renaming a new one over it. */
  files: readonly string[];
  /** Called once per burst of changes (after `debounceMs`), with the files seen to change, in the order given. */
  onChange(files: string[]): void;
  /** Default 100 ms: one call for the burst of events a replacement makes (a certificate and its key, say). */
  debounceMs?: number;
  /**
   * Default 2 s. inotify drops events when its queue overflows under load, and network or some container
   * filesystems send none: a change the watch missed is still seen within this time.
   */
  pollMs?: number;
  /** A directory that cannot be watched (or whose watch fails later): the poll still covers it. */
  onWatchError?(directory: string, error: Error): void;
  /** As fs.watch's option: false lets the process exit while watching (default true). */
  persistent?: boolean;
}

export interface FileWatch {
  stop(): void;
}

/**
 * @example
 * const files = watchFiles({ files: ["/var/lib/moat/ca/revoked.json"], onChange: () => void edge.rebuild() });
 * files.stop();
 */
export function watchFiles(options: FileWatchOptions): FileWatch {
  // Each file once, however often it is named: 10,000 distributions on one certificate are two files to stat every poll, not 40,000.
  const files = [...new Set(options.files.map((file) => resolve(file)))];
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 2_000;
  const seen = new Map<string, string>();
  const pending = new Set<string>();
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  let isStopped = false;

  const fire = () => {
    if (isStopped || pending.size === 0) return;
    const changed = files.filter((file) => pending.has(file));
    pending.clear();
    // What the callback saw is what the next poll compares with: no second call for the same change.
    void Promise.all(changed.map(async (file) => seen.set(file, await signature(file)))).finally(() => {
      if (!isStopped) options.onChange(changed);
    });
  };
  const mark = (file: string) => {
    pending.add(file);
    clearTimeout(debounce);
    debounce = setTimeout(fire, debounceMs);
  };

  const byDirectory = new Map<string, Map<string, string>>();
  for (const file of files) {
    const names = byDirectory.get(dirname(file)) ?? new Map<string, string>();
    names.set(basename(file), file);
    byDirectory.set(dirname(file), names);
  }
  for (const [directory, names] of byDirectory) {
    try {
      const watcher = watch(directory, { persistent: options.persistent ?? true }, (_event, name) => {
        const file = name === null ? undefined : names.get(name.toString());
        if (file !== undefined) mark(file);
      });
      // An unhandled 'error' (the directory removed, say) would end the process; the poll goes on.
      watcher.on("error", (error) => {
        watcher.close();
        options.onWatchError?.(directory, error);
      });
      watchers.push(watcher);
    } catch (error) {
      options.onWatchError?.(directory, error as Error);
    }
  }

  const schedulePoll = () => {
    if (isStopped) return;
    poll = setTimeout(async () => {
      for (const file of files) {
        const now = await signature(file);
        if (seen.get(file) !== now) {
          seen.set(file, now);
          mark(file);
        }
      }
      schedulePoll();
    }, pollMs);
    poll.unref();
  };
  // The first signatures are taken now, so that only a later change calls back.
  void Promise.all(files.map(async (file) => seen.set(file, await signature(file)))).then(schedulePoll);

  return {
    stop() {
      isStopped = true;
      clearTimeout(debounce);
      clearTimeout(poll);
      for (const watcher of watchers) watcher.close();
    },
  };
}

/** What a change of the file changes: its inode (a rename over it), size and times; "missing" when there is none. */
async function signature(file: string): Promise<string> {
  try {
    const info = await stat(file, { bigint: true });
    return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  } catch {
    return "missing";
  }
}
