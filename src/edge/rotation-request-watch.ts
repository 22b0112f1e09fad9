// Keeps the edge in step with "rotate now" requests (<dataDir>/certs/rotation-requests.json, written by the admin API): a change rebuilds, and the store re-issues what it names.
import { mkdirSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../observe/index.ts";
import { ROTATION_REQUESTS_FILE, readRotationRequests } from "../pki/index.ts";

/** The serials asked to be rotated now: what the store must treat as due. */
export async function rotateSerials(dataDir: string): Promise<ReadonlySet<string>> {
  return new Set((await readRotationRequests(dataDir)).map((request) => request.serialHex));
}

/**
 * Watches `<dataDir>/certs` (the file is replaced by a rename, which a watch on the file itself would miss).
 * @example
 * const watch = watchRotationRequests({ dataDir, log, onRequest: () => void edge.apply(config) });
 */
export function watchRotationRequests(deps: { dataDir: string; log: Logger; onRequest(): void }): { stop(): void } {
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    // An edge with only imported certificates has issued nothing yet: the directory is made (0700, as the store makes it).
    mkdirSync(join(deps.dataDir, "certs"), { recursive: true, mode: 0o700 });
    watcher = watch(join(deps.dataDir, "certs"), (_event, name) => {
      if (name !== ROTATION_REQUESTS_FILE) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        deps.log.info({ file: join(deps.dataDir, "certs", ROTATION_REQUESTS_FILE) }, "certificate rotation requested: re-issuing");
        deps.onRequest();
      }, 50);
    });
  } catch (error) {
    deps.log.error({ error: { message: (error as Error).message } }, "cannot watch the certificate directory; a rotation asked through the admin API happens at the next rebuild");
  }
  return {
    stop() {
      clearTimeout(debounce);
      watcher?.close();
    },
  };
}
