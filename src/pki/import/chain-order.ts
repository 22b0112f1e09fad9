// Checks that a PEM chain is leaf first and each certificate is followed by its issuer; refuses (never reorders) and names the right order.
import type { KeyObject } from "node:crypto";
import { CertificateImportError } from "../../errors.ts";
import { buildPath, findIssuer, isSelfSigned, linkProblem, type LinkProblem } from "./chain-links.ts";
import { keyMismatchError, matchesKey } from "./key-checks.ts";
import { certName, type ParsedCert } from "./parsed-cert.ts";

// Why refuse rather than reorder: the PEM file is what nginx, HAProxy or Envoy would serve as
// is, so a misordered file is a latent outage wherever else it is used; and the fix below names
// the exact order, so it costs the user one edit. A PKCS#12 has no order, so it is built instead.

function broken(message: string, fix: string): CertificateImportError {
  return new CertificateImportError("import-chain-broken", `${message}.`, { fix });
}

/** "put the certificates of chainPem in this order: 1, 3, 2 …", from the leaf through each issuer found. */
function orderFix(leaf: ParsedCert, certs: readonly ParsedCert[]): string {
  const path = buildPath(leaf, certs);
  const extra = certs.filter((cert) => !path.includes(cert));
  const order = path.map((cert) => cert.position).join(", ");
  const drop = extra.length > 0 ? `, and remove ${extra.map(certName).join(", ")}, which is not part of this chain` : "";
  return `put the certificates of chainPem in this order: ${order} (leaf first, then each certificate's issuer)${drop}`;
}

/** Throws unless the private key belongs to the first certificate (import-key-mismatch, or import-chain-broken when it belongs to a later one). */
export function checkLeafFirst(certs: readonly ParsedCert[], key: KeyObject): void {
  const index = certs.findIndex((cert) => matchesKey(cert, key));
  const leaf = certs[index];
  if (index === 0) return;
  if (leaf) throw broken(`the private key belongs to ${certName(leaf)}, but the leaf must come first in chainPem`, orderFix(leaf, certs));
  throw keyMismatchError(certs[0] as ParsedCert, key);
}

function notIssuerMessage(child: ParsedCert, next: ParsedCert): { message: string; fix: string } {
  const issuer = child.peculiar.issuer;
  if (next.peculiar.subject === issuer) {
    return {
      message: `${certName(child)} names "${issuer}" as issuer and the next certificate has that name, but another key (its key identifier differs from the one ${certName(child)} expects)`,
      fix: `use the intermediate that signed it, as the CA sends it with this certificate (a CA that re-keyed its intermediate has two with the same name)`,
    };
  }
  return {
    message: `${certName(child)} was issued by "${issuer}", but the certificate after it is ${certName(next)}: the intermediate "${issuer}" is missing`,
    fix: `insert the certificate of "${issuer}" right after ${certName(child)}: use the CA's full chain (e.g. fullchain.pem), not the certificate alone`,
  };
}

function linkError(certs: readonly ParsedCert[], child: ParsedCert, next: ParsedCert, problem: LinkProblem): CertificateImportError {
  if (problem === "bad-signature") {
    return broken(
      `${certName(child)} names ${certName(next)} as its issuer, but its signature does not verify with that certificate's key`,
      "use the intermediate that actually signed it: download the chain again from the CA",
    );
  }
  if (problem === "issuer-not-ca") {
    return broken(
      `${certName(next)} follows ${certName(child)} as its issuer but is not a CA certificate (no basicConstraints CA:TRUE), so verifiers refuse it as an issuer`,
      "after the leaf, chainPem must hold only the CA's intermediates",
    );
  }
  const elsewhere = findIssuer(child, certs);
  if (elsewhere) {
    return broken(`${certName(child)} was issued by ${certName(elsewhere)}, which must come right after it, not ${certName(next)}`, orderFix(certs[0] as ParsedCert, certs));
  }
  const { message, fix } = notIssuerMessage(child, next);
  return broken(message, fix);
}

/** Throws import-chain-broken unless each certificate of chainPem is followed by the one that issued it, and nothing follows a root. */
export function checkPemChainOrder(certs: readonly ParsedCert[]): void {
  for (let index = 0; index + 1 < certs.length; index += 1) {
    const child = certs[index] as ParsedCert;
    const next = certs[index + 1] as ParsedCert;
    if (isSelfSigned(child)) {
      const rest = certs.slice(index + 1).map(certName).join(", ");
      throw broken(`${certName(child)} is self-signed (a root), yet ${rest} follow it`, `end chainPem at the root, or leave the root out; remove ${rest}`);
    }
    const problem = linkProblem(child, next);
    if (problem) throw linkError(certs, child, next, problem);
  }
}
