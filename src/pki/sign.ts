// Builds and signs one X.509 certificate with @peculiar/x509: serial, validity, key identifiers, and the profile's extensions.
import { randomBytes, webcrypto } from "node:crypto";
import { signingParams } from "./key-algorithms.ts";
import type { KeyAlgorithm } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

/** Backdating notBefore by this much keeps a peer whose clock runs a little slow from seeing "not yet valid" (step-ca and Vault do the same). */
export const CLOCK_SKEW_BACKDATE_MS = 60_000;

/**
 * How far a leaf's notBefore goes back for clock skew: a minute, but never more than a tenth of a
 * short-lived certificate's validity (a 3-second test certificate must not live 63 seconds).
 */
export function backdateMs(validityMs: number): number {
  return Math.min(CLOCK_SKEW_BACKDATE_MS, Math.floor(validityMs / 10));
}

/** Whoever signs: a self-signing root passes its own name and key. */
export interface Signer {
  name: X509.Name;
  key: webcrypto.CryptoKey;
  keyAlgorithm: KeyAlgorithm;
  /** Hex Subject Key Identifier of the signer's certificate; undefined when self-signing. */
  keyId: string | undefined;
}

export interface CertificateToSign {
  subject: X509.JsonName;
  publicKey: webcrypto.CryptoKey;
  notBefore: Date;
  notAfter: Date;
  /** The profile's extensions: basic constraints, key usage, EKU, SANs. */
  extensions: X509.Extension[];
}

/**
 * A random, positive serial of exactly 16 bytes. CA/B Forum BR §7.1 asks for at
 * least 64 random bits; setting the top bits to 01 keeps the DER INTEGER
 * positive without a leading zero byte, leaving 126 random bits.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString("hex");
}

/** Signs a certificate; the Subject and Authority Key Identifiers are added here so every profile gets them. */
export async function signCertificate(request: CertificateToSign, signer: Signer): Promise<X509.X509Certificate> {
  const crypto = webcrypto;
  const subjectKeyId = await x509.SubjectKeyIdentifierExtension.create(request.publicKey, false, crypto);
  // RFC 5280 §4.2.1.1: the AKI of a self-signed certificate may equal its own SKI; OpenSSL writes it, so do we.
  const authorityKeyId = new x509.AuthorityKeyIdentifierExtension(signer.keyId ?? subjectKeyId.keyId);
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: request.subject,
      issuer: signer.name,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      publicKey: request.publicKey,
      signingKey: signer.key,
      signingAlgorithm: signingParams(signer.keyAlgorithm),
      extensions: [...request.extensions, subjectKeyId, authorityKeyId],
    },
    crypto,
  );
}

/** The signer view of a CA certificate and its key. */
export function signerFor(cert: X509.X509Certificate, key: webcrypto.CryptoKey, keyAlgorithm: KeyAlgorithm): Signer {
  const keyId = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return { name: cert.subjectName, key, keyAlgorithm, keyId };
}
