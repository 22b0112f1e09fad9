// For commands that change certificates in the data directory: the store named by --store, where they record what they did in its audit trail.
import { userInfo } from "node:os";
import { MoatError } from "../../errors.ts";
import type { FleetGate } from "../../pki/index.ts";
import type { AuditEvent } from "../../store/index.ts";

export interface CommandAudit {
  /** Records the events in order; a failure is told on stderr (the change is done) and gives exit code 1. */
  record(events: readonly (AuditEvent | undefined)[]): Promise<number>;
  /**
   * The store's certificate records follow the change at once: a revocation marks its serial revoked, a CA step
   * syncs the CA's own certificates (the running edges sync theirs when they pick the change up). A failure is told
   * on stderr and gives exit code 1, as for `record`.
   */
  certificatesChanged(change: { dataDir: string; revoked?: { serialHex: string; revokedAt: Date; reason: string } }): Promise<number>;
  /** A root rollover's activation waits for the store's fleet: every live edge must trust the new root (store/ca-trust-gate.ts). */
  fleetGate: FleetGate;
  close(): Promise<void>;
}

/**
 * Runs `change` with the store named by --store open, so that a wrong address is refused before anything changes;
 * without --store, `audit` is undefined. Only the flag names it (not MOAT_STORE): a revocation must not come to
 * depend on a store nobody asked for.
 * @example
 * return withCommandAudit("ca revoke", values.store, async (audit) => { …; return audit ? audit.record([event]) : 0; });
 */
export async function withCommandAudit(command: string, flag: string | undefined, change: (audit: CommandAudit | undefined) => Promise<number>): Promise<number> {
  if (flag === undefined || flag === "") return change(undefined);
  // Loaded only when asked for: without --store the command loads neither Kysely nor pg.
  const { openCommandStore } = await import("../store-flags.ts");
  const store = await openCommandStore(command, flag);
  const told = (what: string, error: unknown) => {
    const message = error instanceof MoatError ? error.message : String((error as Error)?.message ?? error);
    process.stderr.write(`moat: ${command}: the change is done, but it is not recorded in ${what} of ${store.label}: ${message}\n`);
    return 1;
  };
  const { requireFleetTrusts } = await import("../../store/index.ts");
  const audit: CommandAudit = {
    fleetGate: (newRoot) => requireFleetTrusts(store.edges, newRoot, new Date()),
    async record(events) {
      try {
        for (const event of events) if (event) await store.audit.record(event);
        return 0;
      } catch (error) {
        return told("the audit trail", error);
      }
    },
    async certificatesChanged(change) {
      try {
        const now = new Date();
        if (change.revoked) await store.certificates.markRevoked(change.revoked.serialHex, { ...change.revoked, now });
        else await (await import("../../control/certificate-records.ts")).syncCaRecords({ store, dataDir: change.dataDir, now });
        return 0;
      } catch (error) {
        return told("the certificate records", error);
      }
    },
    close: () => store.close(),
  };
  try {
    return await change(audit);
  } finally {
    await audit.close();
  }
}

/** Who runs the command, as `moat apply` names its revisions' actor; a user with no passwd entry (a container) is named by uid. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:${process.env.USER ?? `uid ${process.getuid?.() ?? "unknown"}`}`;
  }
}
