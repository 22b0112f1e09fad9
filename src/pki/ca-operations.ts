// What an operator does to the CA by hand (revoke, a rotation step, read its status), once for `moat ca` and the admin API alike.
import { X509Certificate } from "node:crypto";
import { openCaFiles } from "./ca-files.ts";
import { readCaGenerations } from "./ca-layout.ts";
import type { RolloverState } from "./ca-layout.ts";
import {
  activateRootRollover,
  DEFAULT_CA_ROTATION_POLICY,
  finishRootRollover,
  planCaRotation,
  prepareRootRollover,
  renewIntermediate,
} from "./ca-rotation.ts";
import type { CaRotationPolicy, CaRotationResult, CaRotationStep, FleetGate } from "./ca-rotation.ts";
import { ensureFreshCrl, publishCrl, readCaCertificates } from "./crl.ts";
import type { PublishedCrl } from "./crl.ts";
import type { MasterKey } from "./master-key.ts";
import { readCaPublication } from "./publication.ts";
import { revokeCertificate } from "./revocation.ts";
import type { RevokeResult } from "./revocation.ts";
import type { CertificateAuthority, Clock, KeyAlgorithm, RevocationReason } from "./types.ts";

const systemClock: Clock = () => new Date();

/**
 * Records a revocation and publishes a CRL that lists it; revoking again changes nothing and keeps
 * the published CRL while it is fresh. A running edge on the data directory sees the registry change.
 */
export async function revokeAndPublishCrl(options: {
  dataDir: string;
  serialHex: string;
  reason: RevocationReason;
  ca: CertificateAuthority;
  masterKey: MasterKey;
  crlValidityMs?: number;
}): Promise<RevokeResult & { crl: PublishedCrl; isNewCrl: boolean }> {
  const { dataDir, serialHex, reason, ca, masterKey } = options;
  const result = await revokeCertificate({ dataDir, serialHex, reason, ca });
  const crlOptions = { ca, dataDir, masterKey, ...(options.crlValidityMs === undefined ? {} : { validityMs: options.crlValidityMs }) };
  const { crl, isNew } = result.wasAlreadyRevoked ? await ensureFreshCrl(crlOptions) : { crl: await publishCrl(crlOptions), isNew: true };
  return { ...result, crl, isNewCrl: isNew };
}

/** The rotation steps an operator may take by hand (pruning is the edge's own housekeeping). */
export type ManualCaRotationStep = Exclude<CaRotationStep, "prune-retired">;
export const MANUAL_CA_ROTATION_STEPS: readonly ManualCaRotationStep[] = ["renew-intermediate", "prepare-root-rollover", "activate-root-rollover", "finish-root-rollover"];

/**
 * Takes one rotation step, then publishes a CRL for the CA as it is now (a new intermediate needs its own).
 * A running edge on the data directory picks the change up by itself (ca-rotation-watch).
 */
export async function runCaRotationStep(
  step: ManualCaRotationStep,
  options: { dataDir: string; masterKey: MasterKey; clock?: Clock; policy?: CaRotationPolicy; keyAlgorithm?: KeyAlgorithm; fleetGate?: FleetGate },
): Promise<{ result: CaRotationResult; crl: PublishedCrl; reissuesLeaves: boolean }> {
  const stepOptions = { dataDir: options.dataDir, masterKey: options.masterKey, clock: options.clock ?? systemClock, policy: options.policy ?? DEFAULT_CA_ROTATION_POLICY, ...(options.fleetGate ? { fleetGate: options.fleetGate } : {}) };
  const result =
    step === "renew-intermediate"
      ? await renewIntermediate(stepOptions)
      : step === "prepare-root-rollover"
        ? await prepareRootRollover({ ...stepOptions, ...(options.keyAlgorithm ? { keyAlgorithm: options.keyAlgorithm } : {}) })
        : step === "activate-root-rollover"
          ? await activateRootRollover(stepOptions)
          : await finishRootRollover(stepOptions);
  const { ca } = await openCaFiles({ dataDir: options.dataDir, clock: stepOptions.clock, masterKey: options.masterKey });
  const crl = await publishCrl({ ca, dataDir: options.dataDir, masterKey: options.masterKey });
  // Only a new issuing intermediate replaces leaves; prepare and finish change the trusted roots alone.
  return { result, crl, reissuesLeaves: step === "renew-intermediate" || step === "activate-root-rollover" };
}

export interface CaStatusEntry {
  role: "active root" | "active intermediate" | "pending root" | "pending intermediate" | "retired root (still trusted)" | "retired intermediate (CRL still published)";
  subject: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaStatus {
  /** How many roots bundle.pem holds (two during a rollover). */
  bundleRoots: number;
  rollover: RolloverState | null;
  certificates: CaStatusEntry[];
  /** The steps due next under `policy`, and when. */
  next: { step: CaRotationStep; at: Date }[];
  /** publication.json: the base URL certificates' CRL Distribution Points start with, or null (none). */
  crlBaseUrl: string | null;
}

function statusEntry(role: CaStatusEntry["role"], pem: string): CaStatusEntry {
  const cert = new X509Certificate(pem);
  return { role, subject: cert.subject.replaceAll("\n", ", "), serialHex: cert.serialNumber.toLowerCase(), notBefore: cert.validFromDate, notAfter: cert.validToDate };
}

/** The CA's generations and rotation state, from its certificates alone: needs no master key. Throws CaNotFoundError. */
export async function readCaStatus(dataDir: string, policy: CaRotationPolicy = DEFAULT_CA_ROTATION_POLICY): Promise<CaStatus> {
  const certificates = await readCaCertificates(dataDir);
  const generations = await readCaGenerations(dataDir);
  const entries = [
    statusEntry("active root", certificates.rootPem),
    statusEntry("active intermediate", certificates.intermediatePem),
    ...(generations.pending ? [statusEntry("pending root", generations.pending.rootPem), statusEntry("pending intermediate", generations.pending.intermediatePem)] : []),
    ...generations.retiredRoots.map((root) => statusEntry("retired root (still trusted)", root.pem)),
    ...generations.retiredIntermediates.map((intermediate) => statusEntry("retired intermediate (CRL still published)", intermediate.pem)),
  ];
  return {
    bundleRoots: certificates.bundlePem.match(/BEGIN CERTIFICATE/g)?.length ?? 0,
    rollover: generations.rollover,
    certificates: entries,
    next: planCaRotation({ rootPem: certificates.rootPem, intermediatePem: certificates.intermediatePem, generations }, policy),
    crlBaseUrl: (await readCaPublication(dataDir)).crlBaseUrl,
  };
}
