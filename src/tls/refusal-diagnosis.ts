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
  if (!path) {
    const hint = facts.sent.length === 0 ? "; if the viewer's CA is an intermediate, add it to the trust store's caBundle" : "";
    return { reason: "client-cert-untrusted", detail: `no chain from the certificate to a CA of trust store ${facts.store.name} (${openssl})${hint}` };
  }
  for (const [index, cert] of path.entries()) {
    const what = index === 0 ? "the certificate" : `its issuer ${cert.subject.replaceAll("\n", ", ")}`;
    if (cert.validToDate.getTime() <= facts.now.getTime()) return { reason: "client-cert-expired", detail: `${what} expired at ${cert.validToDate.toISOString()} (${openssl})` };
    if (cert.validFromDate.getTime() > facts.now.getTime()) return { reason: "client-cert-not-yet-valid", detail: `${what} is not valid before ${cert.validFromDate.toISOString()} (${openssl})` };
    if (facts.store.isRevoked(cert)) return { reason: "client-cert-revoked", detail: `${what} is listed on a CRL of trust store ${facts.store.name} (${openssl})` };
  }
  return { reason: reasonForVerifyError(facts.opensslCode), detail: openssl };
}

/**
 * The issuers of a verified certificate, up to and including the trust store's CA: RFC 9440's
 * Client-Cert-Chain. Node gives no peer chain on a connection whose context SNI chose, so it is
 * rebuilt from what the viewer sent (when known) and the store.
 */
export function issuerChain(peer: X509Certificate, sent: readonly X509Certificate[], store: LoadedTrustStore): X509Certificate[] {
  const path = pathToStore(peer, sent, store.cas);
  const top = path?.at(-1);
  const anchor = top ? store.cas.find((ca) => issued(ca, top)) : undefined;
  return path && anchor ? [...path.slice(1), anchor] : [];
}

/**
 * The certificates from the leaf up to (not including) a CA of the store, or null when no such chain exists.
 * @example
 * const path = pathToStore(leaf, sentIntermediates, trustStoreCas); // [leaf, intermediate] or null
 */
export function pathToStore(leaf: X509Certificate, sent: readonly X509Certificate[], cas: readonly X509Certificate[]): X509Certificate[] | null {
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
