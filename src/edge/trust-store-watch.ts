// Watches the files of the trust stores a config names (CA bundles, CRLs) and asks for a rebuild when one changes, so new handshakes use the new store without a restart.
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { MoatConfig } from "../config/index.ts";
import type { Logger } from "../observe/index.ts";

export interface TrustStoreWatch {
  stop(): void;
}

/** Trust store files of the config that some distribution uses, by directory. */
function watchedFiles(config: MoatConfig): Map<string, Set<string>> {
  const used = new Set(config.distributions.map((d) => d.viewerMtls.trustStore));
  const byDir = new Map<string, Set<string>>();
  for (const store of config.trustStores.filter((s) => used.has(s.name))) {
    for (const file of [store.caBundleFile, ...store.crlFiles]) {
      const names = byDir.get(dirname(file)) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dirname(file), names);
    }
  }
  return byDir;
}

/**
 * Directories are watched rather than files: a CA bundle or CRL is usually replaced by a rename
 * (an editor, `mv`, a CRL fetcher writing atomically), which a watch on the old file would miss.
 * @example
 * const watch = watchTrustStores(config, log, () => void edge.apply(config));
 */
export function watchTrustStores(config: MoatConfig, log: Logger, onChange: (file: string) => void): TrustStoreWatch {
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  for (const [dir, names] of watchedFiles(config)) {
    try {
      watchers.push(
        watch(dir, (_event, name) => {
          if (name === null || !names.has(name)) return;
          clearTimeout(debounce);
          // One rebuild for the burst of events a single replacement makes.
          debounce = setTimeout(() => onChange(join(dir, name)), 50);
        }),
      );
    } catch (error) {
      log.error({ dir, error: { message: (error as Error).message } }, "cannot watch a trust store directory; changes to its files take effect at the next reload (SIGHUP)");
    }
  }
  return {
    stop() {
      clearTimeout(debounce);
      for (const watcher of watchers) watcher.close();
    },
  };
}
