// Checks on the private key itself: a kind every TLS peer accepts, and that it belongs to the leaf certificate.
import type { KeyObject } from "node:crypto";
import { CertificateImportError } from "../../errors.ts";
import { certName, type ParsedCert } from "./parsed-cert.ts";

const CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
const MIN_RSA_BITS = 2048;

/** A log-safe summary of a key's kind, e.g. `ECDSA P-256` or `RSA 2048-bit`; says nothing of the key's value. */
export function keyShape(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return `RSA ${details.modulusLength ?? "?"}-bit`;
  if (key.asymmetricKeyType === "ec") return `ECDSA ${CURVE_NAMES[details.namedCurve ?? ""] ?? details.namedCurve ?? "?"}`;
  return key.asymmetricKeyType ?? "unknown";
}

/** Throws import-key-unsupported unless the key is RSA ≥ 2048 bits or ECDSA on P-256, P-384 or P-521. */
export function checkKeySupported(key: KeyObject): void {
  const details = key.asymmetricKeyDetails ?? {};
  const isRsa = key.asymmetricKeyType === "rsa" && (details.modulusLength ?? 0) >= MIN_RSA_BITS;
  const isEc = key.asymmetricKeyType === "ec" && CURVE_NAMES[details.namedCurve ?? ""] !== undefined;
  if (isRsa || isEc) return;
  // NIST SP 800-131A and the CA/Browser Forum stopped RSA below 2048 bits; other key types (DSA, Ed25519…) are not accepted by every TLS client.
  throw new CertificateImportError(
    "import-key-unsupported",
    `the private key is ${keyShape(key)}; Moat imports RSA keys of ${MIN_RSA_BITS} bits or more and ECDSA keys on P-256, P-384 or P-521, which every TLS peer accepts.`,
    { fix: "have the CA issue a certificate for a new ECDSA P-256 (or RSA 2048+) key, and import that" },
  );
}

/** Whether `key` is the private half of the certificate's public key. */
export function matchesKey(cert: ParsedCert, key: KeyObject): boolean {
  try {
    return cert.node.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** import-key-mismatch: the key and the certificate are of different key pairs (kinds named, never values). */
export function keyMismatchError(leaf: ParsedCert, key: KeyObject): CertificateImportError {
  const certKey = keyShape(leaf.node.publicKey);
  const keyKind = keyShape(key);
  const detail = certKey === keyKind ? `both are ${keyKind}, but of different key pairs` : `its key is ${certKey}, the private key ${keyKind}`;
  return new CertificateImportError("import-key-mismatch", `the private key does not belong to ${certName(leaf)}: ${detail}.`, {
    fix: "give the key that was generated with this certificate's request (CSR), or the certificate the CA issued for this key",
  });
}
