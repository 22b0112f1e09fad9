// The CA as a joined edge sees it: it makes each key itself, sends only a CSR through a signing channel (to the CA node), and holds no CA key.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { CertificateRequestInvalidError, JoinedEdgeCannotSignError } from "../errors.ts";
import { createKeyAndCsr } from "./csr.ts";
import { describeNode, splitPemCertificates } from "./describe.ts";
import { joinPem } from "./issue.ts";
import { normalizeDnsName, originSpiffeId } from "./names.ts";
import type { CertificateAuthority, IssuedCertificate, KeyAlgorithm } from "./types.ts";

/** What a joined edge asks to be named: a viewer server certificate's names, or an origin client identity. */
export type CsrSubject =
  | { use: "viewer-server"; dnsNames: string[]; ipAddresses: string[] }
  | { use: "origin-client"; trustDomain: string; distributionId: string; originId: string };

/** How a CSR reaches the CA that holds the key, and its answer comes back (the store, for a fleet: see src/control/certificate-requests.ts). */
export interface CertificateSigningChannel {
  /** Resolves to the chain the CA signed (leaf + intermediate); rejects with the CA's refusal, or when no answer came in time. */
  sign(request: { subject: CsrSubject; validityMs: number; csrPem: string }): Promise<string>;
}

/** The CA's public certificates: all a joined edge knows of its CA. */
export interface PublicCaCertificates {
  bundlePem: string;
  intermediatePem: string;
  previousIntermediatePems: readonly string[];
  keyAlgorithm: KeyAlgorithm;
  crlBaseUrl: string | null;
}

/** The root in the bundle that issued the intermediate (the bundle holds two during a root rollover). */
function issuingRoot(ca: PublicCaCertificates): string {
  const intermediate = new X509Certificate(ca.intermediatePem);
  const roots = splitPemCertificates(ca.bundlePem);
  return joinPem(roots.find((pem) => intermediate.checkIssued(new X509Certificate(pem))) ?? roots[0] ?? "");
}

/**
 * A CertificateAuthority whose issuing methods make a fresh key here, send a CSR for it through `channel`, and
 * return the certificate the CA signed with that key: the certificate store (cert-store.ts) issues, renews and
 * seals keys exactly as with a local CA. What needs a CA key (a CRL, an admin certificate, signing for someone
 * else's key) throws JoinedEdgeCannotSignError.
 *
 * @example
 * const ca = createCsrCertificateAuthority(published, { sign: (request) => submitAndWait(store, "edge-1", request) });
 * const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
 */
export function createCsrCertificateAuthority(ca: PublicCaCertificates, channel: CertificateSigningChannel): CertificateAuthority {
  const obtain = async (subject: CsrSubject, validityMs: number, keyAlgorithm: KeyAlgorithm, commonName: string): Promise<IssuedCertificate> => {
    const { keyPem, csrPem } = await createKeyAndCsr(keyAlgorithm, commonName);
    const chainPem = await channel.sign({ subject, validityMs, csrPem });
    return answered(chainPem, keyPem, subject);
  };
  return Object.freeze({
    rootPem: issuingRoot(ca),
    intermediatePem: ca.intermediatePem,
    bundlePem: ca.bundlePem,
    previousIntermediatePems: Object.freeze([...ca.previousIntermediatePems]),
    keyAlgorithm: ca.keyAlgorithm,
    crlBaseUrl: ca.crlBaseUrl,
    // The CA sets the validity window; the store's notBefore/notAfter (a local CA's) are not asked for.
    issueServerCertificate: (request) =>
      obtain({ use: "viewer-server", dnsNames: [...request.dnsNames], ipAddresses: [...(request.ipAddresses ?? [])] }, request.validityMs, request.keyAlgorithm ?? ca.keyAlgorithm, request.dnsNames[0] ?? "moat-edge"),
    issueOriginClientCertificate: (request) =>
      obtain({ use: "origin-client", trustDomain: request.trustDomain, distributionId: request.distributionId, originId: request.originId }, request.validityMs, request.keyAlgorithm ?? ca.keyAlgorithm, `${request.distributionId}/${request.originId}`),
    signServerCertificate: async () => { throw new JoinedEdgeCannotSignError("a server certificate for another key"); },
    signOriginClientCertificate: async () => { throw new JoinedEdgeCannotSignError("an origin client certificate for another key"); },
    issueAdminClientCertificate: async () => { throw new JoinedEdgeCannotSignError("an admin client certificate"); },
    signAuditSignerCertificate: async () => { throw new JoinedEdgeCannotSignError("an audit checkpoint signer's certificate"); },
    signCrl: async () => { throw new JoinedEdgeCannotSignError("a CRL"); },
  } satisfies CertificateAuthority);
}

/**
 * The CA's answer, checked before the edge uses it: the leaf is for the key made here and names what was asked.
 * A chain that fails either is refused: it would never serve (wrong key), or serve as something else.
 */
function answered(chainPem: string, keyPem: string, subject: CsrSubject): IssuedCertificate {
  const [leafPem] = splitPemCertificates(chainPem);
  if (!leafPem) throw new CertificateRequestInvalidError("the CA's answer holds no certificate");
  const leaf = new X509Certificate(leafPem);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new CertificateRequestInvalidError("the CA's answer is a certificate for another key than the one this edge made");
  const certPem = joinPem(leafPem);
  const description = describeNode(leaf, certPem);
  const expected = subject.use === "viewer-server" ? subject.dnsNames.map((name) => `DNS:${normalizeDnsName(name)}`) : [`URI:${originSpiffeId(subject.trustDomain, subject.distributionId, subject.originId)}`];
  const missing = expected.filter((san) => !description.sans.includes(san));
  if (missing.length > 0) throw new CertificateRequestInvalidError(`the CA's answer does not name ${missing.join(", ")}`);
  return {
    certPem,
    chainPem: joinPem(...splitPemCertificates(chainPem)),
    keyPem,
    serialHex: description.serialHex,
    fingerprint256: description.fingerprint256,
    notBefore: description.notBefore,
    notAfter: description.notAfter,
    subject: description.subject,
    sans: description.sans,
  };
}
