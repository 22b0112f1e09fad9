// The shapes of a certificate import: what the user brings, and what Moat keeps once it has passed every check.

import type { CertificateDescription } from "../types.ts";

/** What the imported certificate is for: the edge's client certificate towards an origin, or a viewer-facing server certificate. */
export type CertificateUse = "viewer-server" | "origin-client";

export type ImportSource =
  | { kind: "pem"; chainPem: string; keyPem: string }
  | { kind: "pkcs12"; data: Buffer };

export interface ImportRequest {
  use: CertificateUse;
  source: ImportSource;
  /** For an encrypted key (encrypted PKCS#8, legacy `Proc-Type: 4,ENCRYPTED` PEM) or the PKCS#12. Ignored for an unencrypted key. */
  passphrase?: string;
  /** Each must be covered by a DNS (or IP) SAN: exactly, or by a one-label wildcard; a wildcard alias needs the same wildcard SAN. */
  expectedNames?: readonly string[];
  /** Trust anchors (PEM): when given, the chain must verify to one of these. */
  trustedCaPem?: string;
  now: Date;
}

/** The leaf's log-safe facts (as describeCertificate gives them), with the material to serve it. */
export interface ImportedCertificate extends Omit<CertificateDescription, "isCa" | "extendedKeyUsage"> {
  /** Leaf first, then its intermediates in order, each block ending with "\n"; a self-signed root at the end is dropped (peers already hold it). */
  chainPem: string;
  /** Unencrypted PKCS#8 PEM; the caller encrypts it at rest. Never log it. */
  keyPem: string;
}

/** An import that passed every check but the names: one certificate's checks, asked about for each place that serves it. */
export interface CheckedImport {
  certificate: ImportedCertificate;
  /** Throws import-names-not-covered (CertificateImportError) unless the SANs cover every name. */
  checkNames(expectedNames: readonly string[]): void;
}

/** The tightest expiry warning a certificate has reached: 30, 7 and 1 days before its notAfter. */
export interface ExpiryWarning {
  thresholdDays: 30 | 7 | 1;
  /** Whole days left, rounded down: 0 in its last day, negative once expired. */
  daysLeft: number;
}
