// Keeps a running edge on its CA's current generation: runs due rotation steps itself, and picks up rotations made by `moat ca` in another process.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CaRotationConfig } from "../../config/index.ts";
import { watchFiles } from "../../file-watch.ts";
import { edgeMetrics } from "../../observe/index.ts";
import type { Logger } from "../../observe/index.ts";
import { createCsrCertificateAuthority, describeCertificate, maintainCertificateAuthority, openCertificateAuthority, readJoinedEdge } from "../../pki/index.ts";
import type { CaRotationResult, CertificateAuthority, FleetGate, MasterKey } from "../../pki/index.ts";
import { CaRolloverHeldBackError, JoinedEdgeCannotSignError } from "../../errors.ts";

// setTimeout holds at most ~24.8 days; a step years away is re-planned daily instead.
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;
const RETRY_AFTER_FAILURE_MS = 60_000;
// Files whose change means another generation (a rotation renames them into place), or another
// CRL Distribution Point for the certificates issued from now on (`moat ca publication`).
const WATCHED = ["intermediate.pem", "bundle.pem", "root.pem", "rollover.json", "publication.json"];

export interface CaRotationWatch {
  /** Stops watching; resolves once a check under way (and the rebuild it started) has finished. */
  stop(): Promise<void>;
}

export interface CaRotationWatchDeps {
  dataDir: string;
  masterKey: MasterKey;
  rotation: CaRotationConfig;
  renewAtFraction: number;
  log: Logger;
  current(): CertificateAuthority;
  /** Called with the CA as it is on disk now, when it differs from `current()`; the edge rebuilds on it. */
  onChange(ca: CertificateAuthority): Promise<void>;
  /**
   * Run from a store: asked before this edge activates a root rollover by itself (autoRotate), so that the new root issues
   * only once every live edge of the fleet trusts it (store/ca-trust-gate.ts). Absent (an edge run from a file): no gate.
   */
  fleetGate?: FleetGate;
  /** Called with the rotation steps this edge ran itself (not those `moat ca` ran), for the audit trail; not awaited. */
  onStepsPerformed?(results: readonly CaRotationResult[]): void;
}

/** True when the CA lives in the data directory (not only in memory, as in tests that embed the edge). */
export function hasCaFiles(dataDir: string): boolean {
  return existsSync(join(dataDir, "ca", "root.pem"));
}

function isSameGeneration(a: CertificateAuthority, b: CertificateAuthority): boolean {
  return a.intermediatePem === b.intermediatePem && a.bundlePem === b.bundlePem && a.previousIntermediatePems.join("") === b.previousIntermediatePems.join("") && a.crlBaseUrl === b.crlBaseUrl;
}

/**
 * A joined edge's CA as its data directory holds it (the CA node's public certificates), for a worker, which never
 * issues; undefined when the directory is no joined edge's.
 * @example
 * const ca = (await openJoinedCaOnDisk(config.dataDir)) ?? (await openCertificateAuthority({ dataDir, masterKey }));
 */
export async function openJoinedCaOnDisk(dataDir: string): Promise<CertificateAuthority | undefined> {
  const joined = await readJoinedEdge(dataDir);
  return joined && createCsrCertificateAuthority(joined.ca, { sign: async () => { throw new JoinedEdgeCannotSignError("a certificate in a worker (its primary issues)"); } });
}

/** How often a joined edge asks for the CA the CA node published: a rotation's overlap is days, a minute is plenty. */
export const PUBLISHED_CA_POLL_MS = 60_000;

/**
 * A joined edge follows the CA the CA node publishes in the store: every minute `next` is asked for a newer one, and
 * `onChange` rebuilds on it (the store re-issues, through the CA node, what a retired intermediate signed).
 * @example
 * const watch = watchPublishedCa({ next: follow, current: () => ca, log, onChange: rebuild });
 */
export function watchPublishedCa(deps: { next(current: CertificateAuthority): Promise<CertificateAuthority | undefined>; current(): CertificateAuthority; log: Logger; onChange(ca: CertificateAuthority): Promise<void>; intervalMs?: number }): CaRotationWatch {
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let checking: Promise<unknown> = Promise.resolve();
  const plan = () => {
    if (isStopped) return;
    timer = setTimeout(() => void check(), deps.intervalMs ?? PUBLISHED_CA_POLL_MS).unref();
  };
  const check = () => {
    checking = checking.then(async () => {
      try {
        const next = isStopped ? undefined : await deps.next(deps.current());
        if (next && !isSameGeneration(next, deps.current())) {
          logChange(deps.log, deps.current(), next);
          await deps.onChange(next);
        }
      } catch (error) {
        deps.log.error({ error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "reading the CA the CA node published failed; the current CA stays in use; retrying in 60 s");
      }
      plan();
    });
    return checking;
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

/**
 * The CA on disk when it is another generation than `current`, else `current`: a worker follows the CA its
 * primary maintains this way, and never rotates (nor watches) itself.
 * @example
 * ca = await followCaOnDisk({ dataDir, masterKey, current: ca });
 */
export async function followCaOnDisk(deps: { dataDir: string; masterKey: MasterKey; current: CertificateAuthority }): Promise<CertificateAuthority> {
  if (!hasCaFiles(deps.dataDir)) {
    // A joined edge's worker: the CA node's public certificates, as its primary wrote them.
    const joined = await openJoinedCaOnDisk(deps.dataDir);
    return joined && !isSameGeneration(joined, deps.current) ? joined : deps.current;
  }
  const onDisk = await openCertificateAuthority({ dataDir: deps.dataDir, masterKey: deps.masterKey });
  return isSameGeneration(onDisk, deps.current) ? deps.current : onDisk;
}

/**
 * Says what a new generation changes. Only a new issuing intermediate (a renewal, a rollover's
 * activate) replaces certificates: the store re-issues what the old one signed. A rollover's
 * prepare and finish change the roots in bundle.pem only: the rebuild takes the new bundle
 * (origin verification, published bundle) and every certificate stays.
 */
function logChange(log: Logger, before: CertificateAuthority, after: CertificateAuthority): void {
  const isIssuerChanged = before.intermediatePem !== after.intermediatePem;
  const fields = { intermediate: describeCertificate(after.intermediatePem).subject, roots: after.bundlePem.match(/BEGIN CERTIFICATE/g)?.length ?? 0, isIssuerChanged };
  const effect = isIssuerChanged
    ? "a new intermediate issues: certificates are re-issued from it"
    : before.bundlePem !== after.bundlePem
      ? "the trusted roots changed: the new bundle is in use, no certificate is re-issued"
      : `certificates issued from now on carry the CRL base URL ${after.crlBaseUrl ?? "(none)"}; those in use keep theirs until they renew`;
  log.warn({ ...fields, effect }, "the CA changed");
}

/**
 * Runs the rotation steps that are due now (before the edge first builds, so an overdue
 * intermediate never issues again), then keeps watching. Returns the CA to start with.
 *
 * @example
 * const { ca, watch } = await startCaRotation({ dataDir, masterKey, rotation: config.pki.ca, renewAtFraction, log, current: () => ca, onChange });
 */
export async function startCaRotation(deps: CaRotationWatchDeps): Promise<{ ca: CertificateAuthority; watch: CaRotationWatch }> {
  if (!hasCaFiles(deps.dataDir)) return { ca: deps.current(), watch: { stop: async () => {} } };
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let checking: Promise<unknown> = Promise.resolve();
  const policy = { ...deps.rotation, renewAtFraction: deps.renewAtFraction };
  // The edges last named as holding a rollover back: logged when the list changes, not every minute.
  let lastHeldBack: string | undefined;

  const openFromDisk = () => openCertificateAuthority({ dataDir: deps.dataDir, masterKey: deps.masterKey });

  /** Runs due steps (when this edge rotates), and says when to look again. */
  async function maintain(): Promise<Date | null> {
    if (!deps.rotation.autoRotate) return null;
    let maintained: Awaited<ReturnType<typeof maintainCertificateAuthority>>;
    try {
      maintained = await maintainCertificateAuthority({ dataDir: deps.dataDir, masterKey: deps.masterKey, clock: () => new Date(), policy, ...(deps.fleetGate ? { fleetGate: deps.fleetGate } : {}) });
    } catch (error) {
      if (!(error instanceof CaRolloverHeldBackError)) throw error;
      // Not a failure: the fleet is still taking the new bundle. The edge keeps following the CA on disk and asks again.
      const holdingBack = error.holdingBack.map((edge) => edge.name);
      if (holdingBack.join() !== lastHeldBack) deps.log.warn({ holdingBack, error: { code: error.code, message: error.message } }, "the root rollover's activation is due but waits for edges that do not trust the new root yet");
      lastHeldBack = holdingBack.join();
      return new Date(Date.now() + RETRY_AFTER_FAILURE_MS);
    }
    lastHeldBack = undefined;
    const { performed, nextAt } = maintained;
    for (const result of performed) {
      deps.log.warn({ step: result.step, from: result.from, to: result.to }, result.summary);
      edgeMetrics?.rotation("ca", "succeeded");
    }
    if (performed.length > 0) deps.onStepsPerformed?.(performed);
    return nextAt;
  }

  function plan(at: Date | null): void {
    clearTimeout(timer);
    if (isStopped || at === null) return;
    const delay = Math.min(Math.max(at.getTime() - Date.now(), 1000), MAX_TIMER_MS);
    timer = setTimeout(() => void check(), delay).unref();
  }

  /** One check at a time: maintenance, then a reload if the CA on disk is another generation. */
  function check(): Promise<unknown> {
    checking = checking.then(async () => {
      if (isStopped) return;
      try {
        plan(await maintain());
        const onDisk = await openFromDisk();
        if (!isSameGeneration(onDisk, deps.current())) {
          logChange(deps.log, deps.current(), onDisk);
          await deps.onChange(onDisk);
        }
      } catch (error) {
        deps.log.error({ error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "CA rotation check failed; the current CA stays in use; retrying in 60 s");
        edgeMetrics?.rotation("ca", "failed");
        plan(new Date(Date.now() + RETRY_AFTER_FAILURE_MS));
      }
    });
    return checking;
  }

  // Due steps run before the first snapshot is built.
  let ca = deps.current();
  try {
    plan(await maintain());
    ca = await openFromDisk();
  } catch (error) {
    deps.log.error({ error: { code: (error as { code?: string }).code, message: (error as Error).message } }, "CA rotation at start failed; the current CA stays in use; retrying in 60 s");
    edgeMetrics?.rotation("ca", "failed");
    plan(new Date(Date.now() + RETRY_AFTER_FAILURE_MS));
  }

  const watcher = watchFiles({
    files: WATCHED.map((name) => join(deps.dataDir, "ca", name)),
    onChange: () => void check(),
    onWatchError: (directory, error) =>
      deps.log.error({ directory, error: { message: error.message } }, "cannot watch the CA directory; a rotation made by `moat ca` is seen by polling, within 2 s"),
  });

  return {
    ca,
    watch: {
      async stop() {
        isStopped = true;
        clearTimeout(timer);
        watcher.stop();
        await checking;
      },
    },
  };
}
