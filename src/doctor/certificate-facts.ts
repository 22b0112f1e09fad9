// Reads the certificates a peer sent or a file holds, and says why a chain does not verify against a set of CAs: the explanations behind OpenSSL's verdict.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { readPemBlocks } from "../pki/index.ts";
import { pathToStore } from "../tls/index.ts";

/** The certificates of a PEM text, in order; `where` names the text in errors. */
export function certificatesOfPem(pem: string, where: string): X509Certificate[] {
  return readPemBlocks(pem, where)
    .filter((block) => block.label === "CERTIFICATE")
    .map((block) => new X509Certificate(block.text));
}

/** A certificate in one line: subject, issuer, serial and validity. Never the PEM. */
export function describeInLine(cert: X509Certificate): string {
  return `subject ${oneLineName(cert.subject)}; issuer ${oneLineName(cert.issuer)}; serial ${cert.serialNumber.toLowerCase()}; valid ${cert.validFromDate.toISOString()} to ${cert.validToDate.toISOString()}`;
}

/** Node writes a distinguished name one attribute per line; a report wants it on one. */
export function oneLineName(name: string): string {
  return name.split("\n").join(", ");
}

/** The names a certificate is valid for (its SANs), as "DNS:a, IP Address:b". */
export function namesOf(cert: X509Certificate): string {
  return cert.subjectAltName ?? "(no subjectAltName)";
}

export interface ChainProblem {
  code: "untrusted" | "self-signed" | "expired" | "not-yet-valid" | "name-mismatch";
  cause: string;
}

/**
 * What is wrong with a server's chain for a client that trusts `cas` and expects `serverName`,
 * most fundamental first; empty when nothing is (the verdict itself stays OpenSSL's).
 */
export function chainProblems(sent: readonly X509Certificate[], cas: readonly X509Certificate[], serverName: string, now: Date): ChainProblem[] {
  const leaf = sent[0];
  if (!leaf) return [{ code: "untrusted", cause: "the origin sent no certificate" }];
  const problems: ChainProblem[] = [];
  const path = pathToStore(leaf, sent.slice(1), cas);
  if (!path) {
    const top = topOf(leaf, sent.slice(1));
    const trusted = cas.length > 0 ? cas.map((ca) => oneLineName(ca.subject)).join("; ") : "none";
    if (top === leaf && isSelfIssued(leaf)) {
      problems.push({ code: "self-signed", cause: `the certificate is self-signed (${oneLineName(leaf.subject)}) and is not one of the trusted CAs (${trusted})` });
    } else if (isSelfIssued(top)) {
      problems.push({ code: "untrusted", cause: `the chain ends at the root ${oneLineName(top.subject)}, which is not one of the trusted CAs (${trusted})` });
    } else {
      problems.push({ code: "untrusted", cause: `unknown issuer: the chain ends at a certificate issued by ${oneLineName(top.issuer)}, which is not one of the trusted CAs (${trusted}) and was not sent by the origin` });
    }
  }
  for (const [index, cert] of (path ?? [leaf]).entries()) {
    const what = index === 0 ? "the certificate" : `its issuer ${oneLineName(cert.subject)}`;
    if (cert.validToDate.getTime() <= now.getTime()) problems.push({ code: "expired", cause: `${what} expired at ${cert.validToDate.toISOString()} (now ${now.toISOString()})` });
    else if (cert.validFromDate.getTime() > now.getTime()) problems.push({ code: "not-yet-valid", cause: `${what} is not valid before ${cert.validFromDate.toISOString()} (now ${now.toISOString()})` });
  }
  const matches = isIP(serverName) ? leaf.checkIP(serverName) !== undefined : leaf.checkHost(serverName, { subject: "never" }) !== undefined;
  if (!matches) problems.push({ code: "name-mismatch", cause: `the certificate names ${namesOf(leaf)}; the edge expects ${serverName}` });
  return problems;
}

function topOf(leaf: X509Certificate, sent: readonly X509Certificate[]): X509Certificate {
  let current = leaf;
  const seen = new Set([leaf]);
  for (;;) {
    const parent = sent.find((candidate) => !seen.has(candidate) && isIssuedBy(current, candidate));
    if (!parent) return current;
    seen.add(parent);
    current = parent;
  }
}

function isSelfIssued(cert: X509Certificate): boolean {
  return isIssuedBy(cert, cert);
}

function isIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/** Distinguished names compared as sets of attribute=value, whatever the separators (Node's lines, OpenSSL's ", " and " = "). */
export function nameKey(name: string): string {
  return name
    .split(/\n|,\s*(?=[A-Za-z.0-9]+\s*=)/)
    .map((part) => part.trim().replace(/\s*=\s*/, "=").toLowerCase())
    .filter((part) => part !== "")
    .sort()
    .join("/");
}
