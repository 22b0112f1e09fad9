// Keeps the edge in step with the revocation registry: republishes the CRL when due, and rebuilds when a revocation lands (a joined edge: when the CA node publishes one).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { watchFiles } from "../../file-watch.ts";
import type { Logger } from "../../observe/index.ts";
import { crlRefreshAt, ensureFreshCrl, readRevocations } from "../../pki/index.ts";
import type { CertificateAuthority, MasterKey, PublishedCrl } from "../../pki/index.ts";

export interface RevocationWatch {
  /** Publishes a new CRL unless the one published is fresh and from the current CA (after a CA rotation, it is not). */
  refreshCrl(): Promise<void>;
  stop(): void;
}

/** The serials in the registry now: what the store must not hand out and the edge must stop using. */
export async function revokedSerials(dataDir: string): Promise<ReadonlySet<string>> {
  return new Set((await readRevocations(dataDir)).map((revocation) => revocation.serialHex));
}

/**
 * Watches `<dataDir>/ca/revoked.json` (written by `moat ca revoke`, atomically, so a rename) and
 * calls `onRevocation` after it changes; keeps the published CRL fresh (republished at half its validity).
 * @example
 * const watch = await watchRevocations({ dataDir, ca: () => currentCa, masterKey, log, onRevocation: () => edge.apply(config) });
 */
export async function watchRevocations(deps: {
  dataDir: string;
  ca: () => CertificateAuthority;
  masterKey: MasterKey;
  log: Logger;
  onRevocation(): void;
  /** Called with each CRL this edge published (not one already fresh), for the audit trail; not awaited. */
  onCrlPublished?(crl: PublishedCrl): void;
}): Promise<RevocationWatch> {
  if (!existsSync(join(deps.dataDir, "ca", "root.pem"))) {
    // A CA that lives only in memory (tests, embedding) has no registry and publishes no CRL.
    deps.log.info({ dataDir: deps.dataDir }, "no CA files in the data directory: no CRL is published and no revocation registry is watched");
    return { async refreshCrl() {}, stop() {} };
  }
  let refreshTimer: NodeJS.Timeout | undefined;
  let isStopped = false;

  const refreshCrl = async () => {
    clearTimeout(refreshTimer);
    if (isStopped) return;
    try {
      const { crl, isNew } = await ensureFreshCrl({ ca: deps.ca(), dataDir: deps.dataDir, masterKey: deps.masterKey });
      if (isNew) {
        deps.log.info({ crlNumber: crl.crlNumber, revoked: crl.revokedSerials.length, nextUpdate: crl.nextUpdate.toISOString() }, "published a CRL");
        deps.onCrlPublished?.(crl);
      }
      refreshTimer = setTimeout(() => void refreshCrl(), Math.max(crlRefreshAt(crl).getTime() - Date.now(), 1000)).unref();
    } catch (error) {
      // Origins refuse every edge once the CRL they hold expires: loud, and soon again.
      deps.log.error({ error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "CRL refresh failed; retrying in 60 s");
      refreshTimer = setTimeout(() => void refreshCrl(), 60_000).unref();
    }
  };
  await refreshCrl();

  const registry = join(deps.dataDir, "ca", "revoked.json");
  const watcher = watchFiles({
    files: [registry],
    debounceMs: 50,
    onChange() {
      deps.log.warn({ registry }, "revocation registry changed: replacing revoked certificates in use");
      deps.onRevocation();
      void refreshCrl();
    },
    onWatchError: (directory, error) =>
      deps.log.error({ directory, error: { message: error.message } }, "cannot watch the revocation registry's directory; a revocation is seen by polling, within 2 s"),
  });

  return {
    refreshCrl,
    stop() {
      isStopped = true;
      clearTimeout(refreshTimer);
      watcher.stop();
    },
  };
}

/**
 * A joined edge's side: asks `next` every `intervalMs` whether the CA node published other revocations (it writes
 * them to the data directory and says whether the revoked serials changed), and calls `onRevocation` when they did:
 * the rebuild replaces a revoked certificate of its own at once, through a new CSR. A failed look is logged and tried again.
 * @example
 * const watch = watchPublishedRevocations({ next: joinedCa.followRevocations, log, onRevocation: () => edge.apply(config), intervalMs: 60_000 });
 */
export function watchPublishedRevocations(deps: { next(): Promise<boolean>; log: Logger; onRevocation(): Promise<unknown>; intervalMs: number }): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let checking: Promise<unknown> = Promise.resolve();
  const plan = () => {
    if (!isStopped) timer = setTimeout(check, deps.intervalMs).unref();
  };
  const check = () => {
    checking = checking.then(async () => {
      try {
        if (!isStopped && (await deps.next())) {
          deps.log.warn({}, "the CA node published revocations: replacing revoked certificates in use");
          await deps.onRevocation();
        }
      } catch (error) {
        deps.log.error({ error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "taking the CA node's revocations failed; trying again at the next look");
      }
      plan();
    });
  };
  plan();
  return {
    async stop() {
      isStopped = true;
      clearTimeout(timer);
      await checking;
    },
  };
}
