// Certificate, CA and CRL events as audit records: only the facts that identify them, picked field by field so that no key or PEM can slip in.
import type { CaRotationResult, PublishedCrl, RevokeResult } from "../pki/index.ts";
import type { AuditEvent } from "../store/index.ts";

/** What identifies a certificate: an `IssuedCertificate`, an `ImportedCertificate` or a `CertificateDescription` all have it. */
export interface CertificateFacts {
  serialHex: string;
  fingerprint256: string;
  subject: string;
  sans: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/** Copies the identifying fields only: whatever else the object holds (`keyPem`, `chainPem`) stays out of the trail. */
export function certificateFacts(certificate: CertificateFacts): Record<string, unknown> {
  return {
    serialHex: certificate.serialHex,
    fingerprint256: certificate.fingerprint256,
    subject: certificate.subject,
    sans: [...certificate.sans],
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
  };
}

/**
 * A certificate issued, renewed (`certificate.rotate`, with the one it replaced) or imported.
 *
 * @example
 * await store.audit.record(certificateEvent(actorOf(identity), "certificate.issue", issued, { distribution: "shop", use: "origin-client" }));
 */
export function certificateEvent(
  actor: string,
  action: "certificate.issue" | "certificate.rotate" | "certificate.import",
  certificate: CertificateFacts,
  options: { distribution?: string; use?: string; replaced?: CertificateFacts } = {},
): AuditEvent {
  return {
    actor,
    action,
    resource: `certificate/${certificate.serialHex}`,
    distribution: options.distribution ?? null,
    before: options.replaced ? certificateFacts(options.replaced) : null,
    after: { ...certificateFacts(certificate), ...(options.use ? { use: options.use } : {}) },
  };
}

/**
 * A revocation, or undefined when the serial was already revoked (no change, no record).
 *
 * @example
 * const event = revocationEvent(actorOf(identity), await revokeCertificate({ dataDir, serialHex, reason, ca }));
 * if (event) await store.audit.record(event);
 */
export function revocationEvent(actor: string, result: RevokeResult, options: { distribution?: string } = {}): AuditEvent | undefined {
  if (result.wasAlreadyRevoked) return undefined;
  const { serialHex, reason, revokedAt } = result.revocation;
  return {
    actor,
    action: "certificate.revoke",
    resource: `certificate/${serialHex}`,
    distribution: options.distribution ?? null,
    before: { serialHex, revoked: false },
    after: { serialHex, revoked: true, reason, revokedAt: revokedAt.toISOString() },
  };
}

/** A CRL published: its number, window and the serials it lists (never the CRL itself: it is public, but large and not a change). */
export function crlPublishedEvent(actor: string, crl: PublishedCrl): AuditEvent {
  return {
    actor,
    action: "crl.publish",
    resource: "crl/intermediate",
    after: { crlNumber: crl.crlNumber, thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString(), revokedSerials: [...crl.revokedSerials] },
  };
}

/** The CA's CRL base URL set or cleared (`PUT /ca/publication`): what it was and what it is now. */
export function caPublicationEvent(actor: string, before: string | null, after: string | null): AuditEvent {
  return { actor, action: "ca.publication", resource: "ca/publication", before: { crlBaseUrl: before }, after: { crlBaseUrl: after } };
}

/** A CA rotation step (`moat ca rotate`): what it replaced and what replaced it, by serial. */
export function caRotationEvent(actor: string, result: CaRotationResult): AuditEvent {
  return {
    actor,
    action: "ca.rotate",
    resource: `ca/${result.step}`,
    before: result.from === undefined ? null : { serialHex: result.from },
    after: { step: result.step, summary: result.summary, ...(result.to === undefined ? {} : { serialHex: result.to }) },
  };
}
