// Where a running edge's config comes from, a file or a store: both give a MoatConfig through the one validation path, and say when to look again.
import { watchFiles } from "../../file-watch.ts";
import type { MoatConfig } from "../../config/index.ts";
import type { Logger } from "../../observe/index.ts";

export interface ConfigSource {
  /** Log fields naming what was (or was last tried to be) loaded: `{ file }`, or `{ store, revision }`. */
  describe(): Record<string, unknown>;
  /** Reads and validates the config as it is now; throws ConfigInvalidError (naming the file or the revision) or StoreUnavailableError. */
  load(): Promise<MoatConfig>;
  /**
   * Calls `changed` whenever the source may hold a new config; a store waits for each reload to finish before it
   * looks again. What goes wrong while watching (a store outage) goes to `log`. Returns the function that stops watching.
   */
  watch(changed: (why: string) => Promise<void>, log: Logger): () => void;
  /** The edge now serves what load() returned last (called at start and after each reload it applied): a store records it, and keeps a local copy. */
  served?(): void;
  /** True for an error the source has logged already: a store outage is logged once, not at every reload it fails. */
  isReported(error: unknown): boolean;
  /** A clean stop has begun (SIGTERM drain): a store records that this edge stopped, within a deadline, so that nobody waits for it. Never rejects. */
  farewell?(): Promise<void>;
  /** Stops what watch started and lets go of the source (a store's connections). */
  close(): Promise<void>;
}

/**
 * A config file: reloaded when it changes (editors replace it: the directory is watched, not the inode).
 * @example
 * await serveEdge({ edge, source: createFileConfigSource("/etc/moat/moat.yaml"), log });
 */
export function createFileConfigSource(configFile: string): ConfigSource {
  return {
    describe: () => ({ file: configFile }),
    async load() {
      // In a thread of its own, which ends once it has answered: the serving process never loads the validator (zod, yaml).
      // Imported here, not at the top: a cluster worker imports serve-edge.ts (DRAIN_LIMIT_MS), which imports this file, and never loads a config.
      const { loadConfigInThread } = await import("./config-thread.ts");
      return loadConfigInThread(configFile);
    },
    watch(changed, log) {
      const watcher = watchFiles({
        files: [configFile],
        debounceMs: 150,
        onChange: () => void changed("file changed"),
        onWatchError: (directory, error) =>
          log.error({ directory, error: { message: error.message } }, "cannot watch the config file's directory; a change is seen by polling, within 2 s (or send SIGHUP)"),
      });
      return () => watcher.stop();
    },
    isReported: () => false,
    close: async () => {},
  };
}
