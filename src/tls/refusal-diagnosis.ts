// Names the reason of a certificate OpenSSL already refused. Node lets the handshake finish and reports only OpenSSL's last error (a stranger's chain ends in "no CRL" rather than "untrusted"), so the cause is found again here, most fundamental first.
import type { X509Certificate } from "node:crypto";
import type { ClientCertRefusalReason } from "./refusal-reasons.ts";
import { reasonForVerifyError } from "./refusal-reasons.ts";
import type { LoadedTrustStore } from "./trust-store.ts";

const MAX_CHAIN = 8;

/**
 * Only names the reason: the refusal itself is OpenSSL's verdict, and nothing here can turn it into an acceptance.
 * @example
 * diagnoseRefusal({ peer, sent, store, now, opensslCode: "UNABLE_TO_GET_CRL" }); // { reason: "client-cert-untrusted", … }
 */
export function diagnoseRefusal(facts: { peer: X509Certificate; sent: readonly X509Certificate[]; store: LoadedTrustStore; now: Date; opensslCode: string }): {
  reason: ClientCertRefusalReason;
  detail: string;
} {
  const openssl = `OpenSSL's last error: ${facts.opensslCode}`;
  const path = pathToStore(facts.peer, facts.sent, facts.store.cas);
  if (!path) return { reason: "client-cert-untrusted", detail: `no chain from the certificate to a CA of trust store ${facts.store.name} (${openssl})` };
  for (const [index, cert] of path.entries()) {
    const what = index === 0 ? "the certificate" : `its issuer ${cert.subject.replaceAll("\n", ", ")}`;
    if (cert.validToDate.getTime() <= facts.now.getTime()) return { reason: "client-cert-expired", detail: `${what} expired at ${cert.validToDate.toISOString()} (${openssl})` };
    if (cert.validFromDate.getTime() > facts.now.getTime()) return { reason: "client-cert-not-yet-valid", detail: `${what} is not valid before ${cert.validFromDate.toISOString()} (${openssl})` };
    if (facts.store.isRevoked(cert)) return { reason: "client-cert-revoked", detail: `${what} is listed on a CRL of trust store ${facts.store.name} (${openssl})` };
  }
  return { reason: reasonForVerifyError(facts.opensslCode), detail: openssl };
}

/** The certificates from the leaf up to (not including) a CA of the store, or null when no such chain exists. */
function pathToStore(leaf: X509Certificate, sent: readonly X509Certificate[], cas: readonly X509Certificate[]): X509Certificate[] | null {
  const path = [leaf];
  let current = leaf;
  while (path.length <= MAX_CHAIN) {
    if (cas.some((ca) => issued(ca, current))) return path;
    const parent = sent.find((candidate) => !path.includes(candidate) && issued(candidate, current));
    if (!parent) return null;
    path.push(parent);
    current = parent;
  }
  return null;
}

function issued(issuer: X509Certificate, cert: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}
