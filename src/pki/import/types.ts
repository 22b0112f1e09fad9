// The shapes of a certificate import: what the user brings, and what Moat keeps once it has passed every check.

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

export interface ImportedCertificate {
  /** Leaf first, then its intermediates in order, each block ending with "\n"; a self-signed root at the end is dropped (peers already hold it). */
  chainPem: string;
  /** Unencrypted PKCS#8 PEM; the caller encrypts it at rest. Never log it. */
  keyPem: string;
  /** Lower-case hex, no colons. */
  serialHex: string;
  /** As Node's `X509Certificate.fingerprint256` formats it (`AB:CD:…`). */
  fingerprint256: string;
  subject: string;
  issuer: string;
  /** As Node prints them: `DNS:shop.example.test`, `IP Address:127.0.0.1`, `URI:spiffe://…`. */
  sans: string[];
  notBefore: Date;
  notAfter: Date;
}

/** The tightest expiry warning a certificate has reached: 30, 7 and 1 days before its notAfter. */
export interface ExpiryWarning {
  thresholdDays: 30 | 7 | 1;
  /** Whole days left, rounded down: 0 in its last day, negative once expired. */
  daysLeft: number;
}
