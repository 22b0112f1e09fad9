// Whether one certificate issued another, and the issuer path from a leaf through a pool of certificates.
import type { ParsedCert } from "./parsed-cert.ts";

/** Why `parent` is not the issuer of `child`. */
export type LinkProblem = "not-issuer" | "bad-signature" | "issuer-not-ca";

function verifiesWith(child: ParsedCert, parent: ParsedCert): boolean {
  try {
    return child.node.verify(parent.node.publicKey);
  } catch {
    // A key type that cannot verify this signature algorithm at all: not the signer either.
    return false;
  }
}

/** undefined when `parent` issued `child`; otherwise what fails, checked as a TLS verifier would. */
export function linkProblem(child: ParsedCert, parent: ParsedCert): LinkProblem | undefined {
  // OpenSSL's X509_check_issued: issuer name = parent's subject, key identifiers agree, and the parent may sign certificates.
  if (!child.node.checkIssued(parent.node)) return "not-issuer";
  if (!verifiesWith(child, parent)) return "bad-signature";
  // X509_check_issued does not look at basicConstraints; path validation (RFC 5280 §6.1.4 (k)) does.
  if (!parent.node.ca) return "issuer-not-ca";
  return undefined;
}

/**
 * A certificate that names itself as issuer and whose signature verifies with its own key: a root,
 * or a self-signed leaf. Not X509_check_issued: a leaf's key usage rightly lacks keyCertSign.
 */
export function isSelfSigned(cert: ParsedCert): boolean {
  return cert.peculiar.subject === cert.peculiar.issuer && verifiesWith(cert, cert);
}

/** The certificate of `pool` that issued `child`, if any. */
export function findIssuer(child: ParsedCert, pool: readonly ParsedCert[]): ParsedCert | undefined {
  return pool.find((candidate) => candidate !== child && linkProblem(child, candidate) === undefined);
}

/** The leaf, then its issuer, then that one's issuer… as far as `pool` goes, stopping at a self-signed root. */
export function buildPath(leaf: ParsedCert, pool: readonly ParsedCert[]): ParsedCert[] {
  const path = [leaf];
  for (let current = leaf; !isSelfSigned(current); ) {
    const issuer = findIssuer(current, pool.filter((cert) => !path.includes(cert)));
    if (!issuer) break;
    path.push(issuer);
    current = issuer;
  }
  return path;
}

/**
 * What peers get: the path without a self-signed root at its end. RFC 8446 §4.4.2 lets the
 * trust anchor be omitted; a peer never uses a root it receives as an anchor, it must already
 * hold it, so sending it only adds bytes to every handshake. A self-signed leaf stays.
 */
export function withoutRoot(path: readonly ParsedCert[]): ParsedCert[] {
  const last = path.at(-1);
  return path.length > 1 && last && isSelfSigned(last) ? path.slice(0, -1) : [...path];
}
