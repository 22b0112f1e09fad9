// Keeps the edge in step with "rotate now" requests (<dataDir>/certs/rotation-requests.json, written by the admin API): a change rebuilds, and the store re-issues what it names.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { watchFiles } from "../../file-watch.ts";
import type { Logger } from "../../observe/index.ts";
import { ROTATION_REQUESTS_FILE, readRotationRequests } from "../../pki/index.ts";

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
  const file = join(deps.dataDir, "certs", ROTATION_REQUESTS_FILE);
  try {
    // An edge with only imported certificates has issued nothing yet: the directory is made (0700, as the store makes it).
    mkdirSync(join(deps.dataDir, "certs"), { recursive: true, mode: 0o700 });
  } catch (error) {
    deps.log.error({ error: { message: (error as Error).message } }, "cannot make the certificate directory; a rotation asked through the admin API happens at the next rebuild");
  }
  return watchFiles({
    files: [file],
    debounceMs: 50,
    onChange() {
      deps.log.info({ file }, "certificate rotation requested: re-issuing");
      deps.onRequest();
    },
    onWatchError: (directory, error) =>
      deps.log.error({ directory, error: { message: error.message } }, "cannot watch the certificate directory; a rotation request is seen by polling, within 2 s"),
  });
}
