// Certificate records for an edge's data directory: its inventory synced into the store, and its own certificate events (renewals, CA steps, CRLs, expiry warnings) in the audit trail.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { MoatError } from "../errors.ts";
import { listCertificateRecords } from "../pki/index.ts";
import type { CaRotationResult, ExpiryWarning, PublishedCrl, RecordedInventoryEntry } from "../pki/index.ts";
import type { AuditEvent, AuditOnce, CertificateChange, CertificateEntry, Store, StoredCertificate, SyncContext } from "../store/index.ts";
import { caRotationEvent, certificateEvent, crlPublishedEvent } from "./audit-events.ts";

/** How long one store operation may take before the edge gives up on it for now (it retries at the next event). */
export const CERTIFICATE_RECORDS_DEADLINE_MS = 10_000;
/** While the store fails, a retry this often (besides every certificate event). */
const RETRY_MS = 60_000;
/** Direct events kept for a retry while the store is out; beyond that the oldest go (and the log says so). */
const MAX_PENDING = 200;
/** Serials and records a sync's log line names (ten thousand distributions' first sync is counted, not listed). */
const LISTED_IN_LOG = 20;

/** The actor an edge's own certificate events are recorded under. */
export function edgeActor(edge: string): string {
  return `edge:${edge}`;
}

/** The inventory's entries as the store keeps them: public parts and recorded state (never a path or a key). */
export function toCertificateEntries(entries: readonly RecordedInventoryEntry[]): CertificateEntry[] {
  return entries.map((entry) => ({
    fingerprint256: entry.fingerprint256,
    serialHex: entry.serialHex,
    use: entry.use,
    name: entry.name,
    source: entry.source,
    recordedState: entry.recordedState,
    subject: entry.subject,
    issuer: entry.issuer,
    sans: entry.sans,
    certificatePem: entry.certificatePem,
    notBefore: entry.notBefore,
    notAfter: entry.notAfter,
    ...(entry.revokedAt ? { revokedAt: entry.revokedAt } : {}),
    ...(entry.revocationReason ? { revocationReason: entry.revocationReason } : {}),
  }));
}

/** The distribution an issued leaf serves, read from the name the data directory keeps it under (`viewer-<id>`, `<id>/<origin>`). */
function distributionOf(certificate: StoredCertificate): string | undefined {
  if (certificate.use === "origin-client") return certificate.name.split("/")[0];
  if (certificate.use === "viewer-server" && certificate.name.startsWith("viewer-")) return certificate.name.slice("viewer-".length);
  return undefined;
}

const isIssuedLeaf = (certificate: StoredCertificate | undefined): certificate is StoredCertificate =>
  certificate !== undefined && certificate.source === "issued" && (certificate.use === "viewer-server" || certificate.use === "origin-client");

/**
 * The records of what a sync found the edge did to the leaves it issues: a new one is `certificate.issue` (a renewal
 * kept as `next` too), one that became active in place of another is `certificate.rotate` with the one it replaced.
 * Revocations, imports and CA changes are recorded by whoever made them (the API, `moat ca …`, the CA step's own
 * record), and an edge's first sync is a baseline: none of these.
 */
export function edgeCertificateEvents(edge: string, changes: readonly CertificateChange[], context: SyncContext): AuditEvent[] {
  if (context.isFirstSync) return [];
  const actor = edgeActor(edge);
  const events: AuditEvent[] = [];
  // The active leaf each slot had before this sync, and no longer has.
  const replaced = new Map<string, StoredCertificate>();
  for (const { before, after } of changes) {
    if (isIssuedLeaf(before) && before.recordedState === "active" && after?.recordedState !== "active") replaced.set(`${before.use}/${before.name}`, before);
  }
  for (const { before, after } of changes) {
    if (!isIssuedLeaf(after)) continue;
    const slot = `${after.use}/${after.name}`;
    const options = { use: after.use, ...(distributionOf(after) === undefined ? {} : { distribution: distributionOf(after) as string }) };
    const isNowActive = after.recordedState === "active" && before?.recordedState !== "active";
    const predecessor = replaced.get(slot);
    if (isNowActive && (predecessor || before)) {
      events.push({ ...certificateEvent(actor, "certificate.rotate", after, { ...options, ...(predecessor ? { replaced: predecessor } : {}) }), once: rotationOnce(after.serialHex, predecessor?.serialHex) });
    } else if (!before && (after.recordedState === "active" || after.recordedState === "next")) {
      events.push({ ...certificateEvent(actor, "certificate.issue", after, options), once: issueOnce(after.serialHex) });
    }
  }
  return events;
}

/**
 * A certificate is rotated in once, and replaces another once: two syncs that both find the rotation (two processes, or
 * one that read the data directory before the rotation and commits after another that read it after) record it once.
 * A certificate already replaced is never rotated in again: only an inventory read before its replacement says so.
 */
export function rotationOnce(serialHex: string, replacedSerialHex: string | undefined): AuditOnce {
  return { keys: [`certificate.rotate/${serialHex}`, ...(replacedSerialHex === undefined ? [] : [`certificate.replaced/${replacedSerialHex}`])], unless: [`certificate.replaced/${serialHex}`] };
}

/** A certificate is issued once, and not after it was rotated in or replaced (an inventory read before it was deleted says it is new). */
export function issueOnce(serialHex: string): AuditOnce {
  return { keys: [`certificate.issue/${serialHex}`], unless: [`certificate.rotate/${serialHex}`, `certificate.replaced/${serialHex}`] };
}

/**
 * One sync of a data directory's inventory into the store for `edge`, with the edge's own events (see
 * edgeCertificateEvents) in the same transaction; `events` are those recorded (one another sync recorded already is
 * not recorded again). Throws what the store throws.
 *
 * @example
 * await syncCertificateRecords({ store, edge: "edge-1", dataDir: "/var/lib/moat", now: new Date() });
 */
export async function syncCertificateRecords(options: { store: Store; edge: string; dataDir: string; now: Date; entries?: CertificateEntry[] }): Promise<{ changes: CertificateChange[]; events: AuditEvent[] }> {
  const entries = options.entries ?? toCertificateEntries(await listCertificateRecords({ dataDir: options.dataDir, now: options.now }));
  let recorded: readonly AuditEvent[] = [];
  const changes = await options.store.certificates.sync(options.edge, entries, {
    now: options.now,
    events: (found, context) => edgeCertificateEvents(options.edge, found, context),
    recorded: (written) => (recorded = written),
  });
  return { changes, events: [...recorded] };
}

/**
 * The CA's own certificates of a data directory, synced alone (edge ''): what a `moat ca …` step run with --store
 * writes at once, before the running edges sync their own. Nothing when the directory has no CA.
 */
export async function syncCaRecords(options: { store: Store; dataDir: string; now: Date }): Promise<CertificateChange[]> {
  const entries = toCertificateEntries(await listCertificateRecords({ dataDir: options.dataDir, now: options.now })).filter((entry) => entry.use === "root-ca" || entry.use === "intermediate-ca");
  if (entries.length === 0) return [];
  return options.store.certificates.sync("", entries, { now: options.now });
}

/** An imported certificate the edge warned about: what the record names (never its key). */
export interface ExpiryWarned {
  serialHex: string;
  fingerprint256: string;
  notAfter: Date;
  use: string;
  /** Where the config imports it. */
  path: string;
  warning: ExpiryWarning;
  isExpired: boolean;
}

/**
 * What an edge run from a store tells it: each call returns once done or given up on (never throws, never waits past
 * its deadline), one at a time and in order. While the store is out the edge keeps serving; the outage is logged once,
 * and its end once; a sync is retried at the next call (or within a minute) and events not yet written are kept for then.
 */
export interface CertificateRecorder {
  readonly edge: string;
  /** Syncs the data directory's inventory (after a start, a rebuild, a revocation or an import); true once written. */
  sync(): Promise<boolean>;
  caStepsPerformed(results: readonly CaRotationResult[]): Promise<void>;
  crlPublished(crl: PublishedCrl): Promise<void>;
  /** Recorded once per certificate and threshold (this process remembers, the trail tells a restarted one). */
  expiryWarned(warned: ExpiryWarned): Promise<void>;
  stop(): void;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * @example
 * const recorder = createCertificateRecorder({ store, edge: "edge-1", dataDir: config.dataDir, log });
 * await recorder.sync(); // at start, then after each certificate event
 */
export function createCertificateRecorder(options: { store: Store; edge: string; dataDir: string; log: Logger; deadlineMs?: number; now?: () => Date }): CertificateRecorder {
  const { store, edge, log } = options;
  const deadlineMs = options.deadlineMs ?? CERTIFICATE_RECORDS_DEADLINE_MS;
  const now = options.now ?? (() => new Date());
  const actor = edgeActor(edge);
  let queue: Promise<unknown> = Promise.resolve();
  let pending: AuditEvent[] = [];
  let isSyncDue = false;
  /** The digest of the inventory the store last took whole; undefined until the first sync succeeds. */
  let lastSynced: string | undefined;
  let isFailing = false;
  let retry: NodeJS.Timeout | undefined;
  let isStopped = false;
  const warned = new Set<string>();

  function failed(error: unknown, what: string): void {
    if (!isFailing) {
      const message = error instanceof MoatError ? error.message : String((error as Error)?.message ?? error);
      log.error({ store: store.label, error: { code: (error as { code?: string }).code, message } }, `certificate records: ${what} failed; the edge keeps serving and retries at its next certificate event (or within a minute)`);
    }
    isFailing = true;
    clearTimeout(retry);
    if (!isStopped) retry = setTimeout(() => void enqueue(async () => {}), RETRY_MS).unref();
  }

  /** One step at a time, after whatever is owed: a sync due and events kept from an outage go first. */
  function enqueue(step: () => Promise<void>): Promise<void> {
    const run = queue.then(async () => {
      if (isStopped) return;
      try {
        while (pending.length > 0) {
          await withDeadline(store.audit.record(pending[0] as AuditEvent), deadlineMs, "an audit record");
          pending = pending.slice(1);
        }
        if (isSyncDue) {
          const at = now();
          const entries = toCertificateEntries(await listCertificateRecords({ dataDir: options.dataDir, now: at }));
          // Most rebuilds change no certificate (a config change, a reload): what the store got last time still
          // stands, so the sync, which reads every row of this edge under the store's write lock, is skipped.
          const digest = inventoryDigest(entries);
          const { changes, events } = digest === lastSynced ? { changes: [], events: [] } : await withDeadline(syncCertificateRecords({ store, edge, dataDir: options.dataDir, now: at, entries }), deadlineMs, "a certificate sync");
          lastSynced = digest;
          isSyncDue = false;
          if (changes.length > 0) {
            const serials = (state: string) => changes.filter((change) => change.after?.recordedState === state && change.before?.recordedState !== state).map((change) => change.after?.serialHex).slice(0, LISTED_IN_LOG);
            log.info({ changes: changes.length, auditRecords: events.map((event) => `${event.action} ${event.resource}`).slice(0, LISTED_IN_LOG), active: serials("active"), retired: serials("retired") }, "certificate records synced to the store");
          }
        }
        await step();
        if (isFailing) log.info({ store: store.label }, "certificate records: the store answers again; records are up to date");
        isFailing = false;
        clearTimeout(retry);
      } catch (error) {
        failed(error, "writing to the store");
      }
    });
    queue = run;
    return run;
  }

  function keep(events: readonly AuditEvent[]): Promise<void> {
    pending.push(...events);
    if (pending.length > MAX_PENDING) {
      log.error({ dropped: pending.length - MAX_PENDING }, "certificate records: the store has been out for long; the oldest certificate events kept for the audit trail are dropped");
      pending = pending.slice(-MAX_PENDING);
    }
    return enqueue(async () => {});
  }

  return {
    edge,
    async sync() {
      isSyncDue = true;
      await enqueue(async () => {});
      return !isSyncDue;
    },
    caStepsPerformed: (results) => keep(results.map((result) => caRotationEvent(actor, result))),
    crlPublished: (crl) => keep([crlPublishedEvent(actor, crl)]),
    expiryWarned(warning) {
      const key = `${warning.fingerprint256}/${warning.isExpired ? "expired" : warning.warning.thresholdDays}`;
      if (warned.has(key)) return Promise.resolve();
      warned.add(key);
      const resource = `certificate/${warning.serialHex}`;
      const after = {
        serialHex: warning.serialHex,
        fingerprint256: warning.fingerprint256,
        notAfter: warning.notAfter.toISOString(),
        use: warning.use,
        certificate: warning.path,
        thresholdDays: warning.warning.thresholdDays,
        daysLeft: warning.warning.daysLeft,
        expired: warning.isExpired,
      };
      return enqueue(async () => {
        // A restarted edge warns again at its first snapshot: the trail says whether this one is recorded already.
        const earlier = await withDeadline(store.audit.list({ limit: 100, resource, action: "certificate.expiry-warning", actor, newestFirst: true }), deadlineMs, "reading the audit trail");
        const isRecorded = earlier.some((record) => {
          const was = record.after as { fingerprint256?: string; thresholdDays?: number; expired?: boolean } | null;
          return was?.fingerprint256 === after.fingerprint256 && was.expired === after.expired && (after.expired || was.thresholdDays === after.thresholdDays);
        });
        if (!isRecorded) await withDeadline(store.audit.record({ actor, action: "certificate.expiry-warning", resource, after }), deadlineMs, "an audit record");
      }).then(() => {
        // Not written (the store is out): the next warning of it tries again.
        if (isFailing) warned.delete(key);
      });
    },
    stop() {
      isStopped = true;
      clearTimeout(retry);
    },
  };
}

/** What a sync would write for an inventory: each certificate (its fingerprint names its content) and its recorded state. */
function inventoryDigest(entries: readonly CertificateEntry[]): string {
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(`${entry.fingerprint256} ${entry.use} ${entry.name} ${entry.source} ${entry.recordedState} ${entry.revokedAt?.toISOString() ?? ""} ${entry.revocationReason ?? ""}\n`);
  return hash.digest("hex");
}
