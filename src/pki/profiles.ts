// The extensions of each kind of certificate Moat issues: root, intermediate, server leaf, origin client leaf.
import type { KeyAlgorithm } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

/** Root: may sign anything below it (no path length limit, so a later intermediate rotation needs no new root). */
export function rootExtensions(): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

/** Intermediate: signs leaves only (pathLen 0), and CRLs. */
export function intermediateExtensions(): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

/**
 * RFC 5280 §4.2.1.13: where the issuer's CRL is, as one http URI (a full name, no reasons, no
 * CRL issuer: the certificate's own issuer signs it). Non-critical, as the RFC recommends. None
 * when the CA has no publication URL.
 */
export function crlDistributionPoints(url: string | undefined): X509.Extension[] {
  return url === undefined ? [] : [new x509.CRLDistributionPointsExtension([url], false)];
}

/**
 * Leaf key usage. RFC 5280 §4.2.1.3 / RFC 5246 §7.4.2: an RSA key may also be
 * used for TLS 1.2 RSA key exchange, which needs keyEncipherment; an ECDSA key
 * only ever signs.
 */
function leafKeyUsage(keyAlgorithm: KeyAlgorithm): X509.KeyUsagesExtension {
  const isRsa = keyAlgorithm.startsWith("rsa-");
  const flags = x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  return new x509.KeyUsagesExtension(flags, true);
}

/**
 * RFC 5280 §4.2.1.6: when the subject is empty the SAN extension must be
 * critical; we leave the subject empty when a name is too long for a CN.
 */
function sanExtension(names: X509.JsonGeneralNames, hasSubject: boolean): X509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(names, !hasSubject);
}

export function serverLeafExtensions(
  names: X509.JsonGeneralNames,
  keyAlgorithm: KeyAlgorithm,
  hasSubject: boolean,
): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    leafKeyUsage(keyAlgorithm),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    sanExtension(names, hasSubject),
  ];
}

/** clientAuth only: a stolen origin client certificate cannot be used to impersonate a server. */
export function clientLeafExtensions(spiffeId: string, keyAlgorithm: KeyAlgorithm, hasSubject: boolean): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    leafKeyUsage(keyAlgorithm),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    sanExtension([{ type: "url", value: spiffeId }], hasSubject),
  ];
}

/**
 * The Extended Key Usage that marks a certificate as an audit checkpoint signer, and nothing else: a UUID OID
 * (ITU-T X.667, arc 2.25) Moat defines, so no registration is needed and no other software gives it a meaning.
 */
export const AUDIT_CHECKPOINT_SIGNING_EKU = "2.25.8049556133566242124171661510504490216";

/**
 * An audit checkpoint signer: digitalSignature only, and the one EKU above, critical, so that no TLS stack accepts
 * it as a server or client certificate, and a server or client certificate is never accepted as a signer.
 */
export function auditSignerExtensions(keyAlgorithm: KeyAlgorithm): X509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    leafKeyUsage(keyAlgorithm),
    new x509.ExtendedKeyUsageExtension([AUDIT_CHECKPOINT_SIGNING_EKU], true),
  ];
}

// X.520 ub-common-name: a CN longer than 64 characters is invalid, so such a
// name lives in the SAN only (which is all TLS name checks read anyway, RFC 6125 §6.4.4).
const MAX_COMMON_NAME = 64;

/** A subject with just a CN, or an empty subject when the CN would be too long. */
export function leafSubject(commonName: string | undefined): X509.JsonName {
  if (!commonName || commonName.length > MAX_COMMON_NAME) return [];
  return [{ CN: [commonName] }];
}
