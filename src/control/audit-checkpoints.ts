// Signed audit checkpoints where the CA and the store meet: one now (`moat audit checkpoint`), one per interval while the trail grows and at a clean stop (the CA node, the admin API beside an edge), and verify against the CA bundle.
import type { Logger } from "pino";
import { AuditCheckpointFailedError, MoatError } from "../errors.ts";
import { createAuditCheckpointCheck, openAuditSigner, readAuditAnchor, readCaBundle, readRevocationTimes, writeAuditAnchor } from "../pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../pki/index.ts";
import type { AuditCheckpoint, AuditLog, AuditVerification, AuditVerifyOptions } from "../store/index.ts";

/** How often a checkpoint is made while the trail grows (none while it does not), unless MOAT_AUDIT_CHECKPOINT_MS says otherwise. */
export const AUDIT_CHECKPOINT_INTERVAL_MS = 300_000;
/** The variable that sets that interval, in ms (at least 1000). */
export const AUDIT_CHECKPOINT_ENV = "MOAT_AUDIT_CHECKPOINT_MS";
/** How long one checkpoint may take (the walk since the last one, under the write lock, and the signature). */
export const AUDIT_CHECKPOINT_DEADLINE_MS = 10_000;
/** At a clean stop: shorter, as the stop waits for it (it is well inside the edge's drain limit). */
export const AUDIT_CHECKPOINT_STOP_DEADLINE_MS = 5_000;

/** What making a checkpoint needs: the store's trail, the data directory holding the signer and the master key it is sealed under, the CA that certifies it. */
export interface AuditCheckpointSource {
  audit: AuditLog;
  label: string;
  dataDir: string;
  masterKey: MasterKey;
  ca: CertificateAuthority;
  /** Names the signer in its certificate's subject: the edge's name, or `cli`. */
  name: string;
}

/**
 * Signs the trail's head as the next checkpoint if a record came since the last one, and records it in the data
 * directory. Refused (AuditCheckpointRefusedError) when the chain since the last checkpoint is broken, the last
 * checkpoint is not validly signed under the CA, or the store lost a checkpoint this data directory signed.
 */
export async function makeAuditCheckpoint(source: AuditCheckpointSource, at = new Date()): Promise<{ made: boolean; checkpoint: AuditCheckpoint | undefined }> {
  const anchor = await readAuditAnchor(source.dataDir);
  // Read once for both: a revoked signer is replaced, and the last checkpoint must not be one signed after its signer's revocation.
  const revoked = await readRevocationTimes(source.dataDir);
  const signer = await openAuditSigner({ dataDir: source.dataDir, masterKey: source.masterKey, ca: source.ca, name: source.name, now: at, revoked });
  // The last checkpoint is checked against the CA's bundle and revocations before a new one links to it.
  const result = await source.audit.checkpoint(signer, { at, checkSignature: createAuditCheckpointCheck(source.ca.bundlePem, revoked), ...(anchor ? { anchor } : {}) });
  const made = result.checkpoint;
  if (result.made && made) await writeAuditAnchor(source.dataDir, { storeId: made.storeId, number: made.number, seq: made.seq, hash: made.hash });
  return result;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface AuditCheckpointer {
  /** Makes one now (waiting for one under way first); never throws: a failure is logged. */
  checkpoint(): Promise<void>;
  /** Stops the interval and makes the last checkpoint (within the deadline). */
  close(): Promise<void>;
}

/**
 * Makes a checkpoint every `intervalMs` while the trail grows, and one at close. Each has `deadlineMs`; a failure is
 * logged with its code (audit-checkpoint-refused, audit-checkpoint-failed, audit-signer-unavailable…) and never
 * stops serving. `ca` is read at each checkpoint: a CA rotation gives the signer a certificate from the new intermediate.
 */
export function startAuditCheckpoints(options: Omit<AuditCheckpointSource, "ca"> & { ca: () => CertificateAuthority; log: Logger; intervalMs?: number; deadlineMs?: number }): AuditCheckpointer {
  const deadlineMs = options.deadlineMs ?? AUDIT_CHECKPOINT_DEADLINE_MS;
  let running: Promise<void> | undefined;
  async function once(ms: number): Promise<void> {
    try {
      const { made, checkpoint } = await withDeadline(makeAuditCheckpoint({ ...options, ca: options.ca() }), ms, "the audit checkpoint");
      if (made && checkpoint) options.log.info({ checkpoint: checkpoint.number, seq: checkpoint.seq }, "audit checkpoint signed");
    } catch (error) {
      const failure = error instanceof MoatError ? error : new AuditCheckpointFailedError(options.label, (error as Error).message, { cause: error });
      options.log.error({ error: { code: failure.code, message: failure.message } }, "audit checkpoint not made");
    }
  }
  const checkpoint = async (ms = deadlineMs) => {
    while (running) await running;
    running = once(ms).finally(() => (running = undefined));
    await running;
  };
  const timer = setInterval(() => void (running ?? checkpoint()), options.intervalMs ?? AUDIT_CHECKPOINT_INTERVAL_MS);
  // Not kept alive by it: a stopping process makes its last checkpoint in close().
  timer.unref();
  return {
    checkpoint,
    async close() {
      clearInterval(timer);
      await checkpoint(Math.min(deadlineMs, AUDIT_CHECKPOINT_STOP_DEADLINE_MS));
    },
  };
}

/**
 * Verifies the trail and its checkpoints: signatures against `bundlePem`, or the CA bundle of `dataDir`; with
 * `dataDir`, also against its revocations (a checkpoint signed at or after its signer's revocation fails), and that
 * the store still holds the last checkpoint that directory signed. Neither: signatures are not
 * checked, and the report warns so.
 */
export async function verifyAuditTrail(audit: AuditLog, options: { dataDir?: string; bundlePem?: string } = {}): Promise<AuditVerification> {
  const verifyOptions: AuditVerifyOptions = {};
  const bundlePem = options.bundlePem ?? (options.dataDir === undefined ? undefined : await readCaBundle(options.dataDir));
  if (bundlePem !== undefined) verifyOptions.checkSignature = createAuditCheckpointCheck(bundlePem, options.dataDir === undefined ? new Map() : await readRevocationTimes(options.dataDir));
  const anchor = options.dataDir === undefined ? undefined : await readAuditAnchor(options.dataDir);
  if (anchor) verifyOptions.anchor = anchor;
  return audit.verify(verifyOptions);
}

/** The sentence a person reads: what the signed checkpoints cover, who signed the last one, and what is only hash-chained. */
export function describeCoverage(result: AuditVerification): string {
  const { checkpoints, head } = result;
  if (checkpoints.count === 0) return head.seq === 0 ? "the trail is empty" : `no signed checkpoint: records 1..${head.seq} are only hash-chained`;
  const covered = `records 1..${checkpoints.coveredThrough} are covered by ${checkpoints.count} signed checkpoint${checkpoints.count === 1 ? "" : "s"}${checkpoints.signatures === "not-checked" ? " (signatures not checked)" : ""}`;
  // The signer's name carries its serial: what `moat ca revoke` takes if its key is compromised.
  const signedBy = checkpoints.signatures === "verified" && checkpoints.last ? `, the last signed by ${checkpoints.last.signer}` : "";
  return checkpoints.coveredThrough < head.seq ? `${covered}${signedBy}; records after the last checkpoint (${checkpoints.coveredThrough + 1}..${head.seq}) are only hash-chained` : `${covered}${signedBy}`;
}
