// Certification path validation of an edge's client certificate against the guard's trust (RFC 5280 §6, the parts a two-tier private CA uses): chain building and signatures by OpenSSL (node:crypto), then validity, CA constraints, usage and revocation.
import { X509Certificate } from "node:crypto";
import type { GuardTrust, TrustCrl } from "./guard-trust.ts";
import { normaliseSerialHex } from "./guard-trust.ts";
import { refuse, type GuardRefusal } from "./refusal.ts";
import { x509 } from "./x509-lib.ts";

/** Moat's chains are leaf → intermediate → root; a little room for a cross-signed intermediate during a rollover. */
const MAX_PATH_LENGTH = 5;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";
/** What this file and the identity check process: basicConstraints, keyUsage, extKeyUsage, subjectAltName, and the key identifiers chain building reads. */
const PROCESSED_EXTENSIONS = new Set(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35"]);

/** A validated path, leaf first and trust anchor last, and when its verdict must be looked at again. */
export interface ValidPath {
  ok: true;
  path: readonly X509Certificate[];
  /** The earliest notAfter in the path or nextUpdate of a CRL used: past it, the verdict is stale. */
  recheckAt: Date;
}

function name(cert: X509Certificate): string {
  return cert.subject.replaceAll("\n", ", ");
}

function describeLeaf(cert: X509Certificate): string {
  return `certificate ${cert.serialNumber.toLowerCase()} (${name(cert)})`;
}

/** `child` names `issuer` as its issuer (name, key identifiers) and `issuer`'s key verifies its signature: both checks are OpenSSL's. */
function isIssuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Builds leaf → … → anchor from the certificates the peer sent and the trust anchors. A trust anchor
 * is tried first at every step, so a root the peer sends itself is never what makes it trusted.
 */
export function buildPath(leaf: X509Certificate, presented: readonly X509Certificate[], anchors: readonly X509Certificate[]): X509Certificate[] | undefined {
  const path = [leaf];
  if (anchors.some((anchor) => anchor.fingerprint256 === leaf.fingerprint256)) return undefined; // a root is no client
  for (let current = leaf; path.length < MAX_PATH_LENGTH; ) {
    const anchor = anchors.find((candidate) => isIssuedBy(current, candidate));
    if (anchor) return [...path, anchor];
    const next = presented.find((candidate) => !path.includes(candidate) && candidate.ca && isIssuedBy(current, candidate));
    if (!next) return undefined;
    path.push(next);
    current = next;
  }
  return undefined;
}

function checkValidity(path: readonly X509Certificate[], now: Date): GuardRefusal | undefined {
  for (const [index, cert] of path.entries()) {
    const what = index === 0 ? describeLeaf(cert) : `its issuer ${name(cert)}`;
    if (now < cert.validFromDate) return refuse("not-yet-valid", `${what} is not valid before ${cert.validFromDate.toISOString()} (now ${now.toISOString()})`);
    if (now > cert.validToDate) return refuse("expired", `${what} expired at ${cert.validToDate.toISOString()} (now ${now.toISOString()})`);
  }
  return undefined;
}

/** RFC 5280 §6.1.4 (k), (l), (n): every issuer is a CA, may sign certificates, and keeps its path length. */
function checkIssuers(path: readonly X509Certificate[]): GuardRefusal | undefined {
  for (let index = 1; index < path.length; index += 1) {
    const cert = new x509.X509Certificate((path[index] as X509Certificate).raw);
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    if (!constraints?.ca) return refuse("untrusted-chain", `${cert.subject} is not a CA (basicConstraints) yet issued a certificate in the chain`);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    if (keyUsage && !(keyUsage.usages & x509.KeyUsageFlags.keyCertSign)) return refuse("untrusted-chain", `${cert.subject} may not sign certificates (keyUsage lacks keyCertSign)`);
    // Intermediates between this CA and the leaf: path[1 .. index-1].
    const below = index - 1;
    if (constraints.pathLength !== undefined && below > constraints.pathLength) {
      return refuse("untrusted-chain", `${cert.subject} allows ${constraints.pathLength} CA(s) below it; the chain has ${below}`);
    }
  }
  return undefined;
}

/**
 * RFC 5280 §4.2: a certificate with a critical extension the verifier does not process is refused
 * (a name constraint, a policy constraint would otherwise be ignored), as OpenSSL does.
 */
function checkCriticalExtensions(path: readonly X509Certificate[]): GuardRefusal | undefined {
  for (const [index, node] of path.entries()) {
    const unprocessed = new x509.X509Certificate(node.raw).extensions.find((extension) => extension.critical && !PROCESSED_EXTENSIONS.has(extension.type));
    if (unprocessed) return refuse("untrusted-chain", `${index === 0 ? describeLeaf(node) : `its issuer ${name(node)}`} has a critical extension ${unprocessed.type} that this verifier does not process`);
  }
  return undefined;
}

/** OpenSSL's TLS client purpose on CAs: an issuer that limits its extendedKeyUsage must allow clientAuth. */
function checkIssuerPurposes(path: readonly X509Certificate[]): GuardRefusal | undefined {
  for (const issuer of path.slice(1)) {
    const usages = new x509.X509Certificate(issuer.raw).getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String);
    if (usages && !usages.includes(CLIENT_AUTH) && !usages.includes(ANY_EXTENDED_KEY_USAGE)) {
      return refuse("missing-client-auth", `its issuer ${name(issuer)} is limited to extendedKeyUsage ${usages.join(", ")}, without clientAuth`);
    }
  }
  return undefined;
}

/** RFC 5280 §4.2.1.3 and §4.2.1.12: the leaf must be meant for TLS client authentication (its key may sign), and not be a CA. */
function checkLeafUsage(leaf: X509Certificate): GuardRefusal | undefined {
  const cert = new x509.X509Certificate(leaf.raw);
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) return refuse("missing-client-auth", `${describeLeaf(leaf)} is a CA certificate, not a client certificate`);
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  // As OpenSSL's ssl_client purpose: digitalSignature (or keyAgreement, for static ECDH) if keyUsage is present.
  if (keyUsage && !(keyUsage.usages & (x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement))) {
    return refuse("missing-client-auth", `${describeLeaf(leaf)} may not sign with its key (keyUsage lacks digitalSignature)`);
  }
  const usages = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  if (!usages.map(String).includes(CLIENT_AUTH)) {
    return refuse("missing-client-auth", `${describeLeaf(leaf)} is not a TLS client certificate (extendedKeyUsage ${usages.length ? usages.join(", ") : "absent"}; clientAuth required)`);
  }
  return undefined;
}

/** The CRL to judge `cert` by: the newest its issuer signed that is current; else the refusal that says why there is none. */
async function currentCrl(trust: GuardTrust, issuer: X509Certificate, now: Date): Promise<TrustCrl | GuardRefusal> {
  const crls = await trust.crlsIssuedBy(issuer);
  if (crls.length === 0) return refuse("crl-unavailable", `no CRL signed by ${name(issuer)} is loaded; load Moat's crl-bundle.pem (\`moat ca crl\`), which covers every CA of the chain`);
  const newest = [...crls].sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime())[0] as TrustCrl;
  if (newest.thisUpdate > now) return refuse("crl-unavailable", `the CRL of ${name(issuer)} is not valid before ${newest.thisUpdate.toISOString()} (check this host's clock)`);
  if (newest.nextUpdate && newest.nextUpdate < now) {
    return refuse("crl-expired", `the CRL of ${name(issuer)} expired at ${newest.nextUpdate.toISOString()}; fetch a fresh one (\`moat ca crl\`, or the edge's /.well-known/moat/crl-bundle.pem)`);
  }
  return newest;
}

/** RFC 5280 §6.3: every certificate below the anchor is looked up in its issuer's CRL (as OpenSSL's crl_check_all). */
async function checkRevocation(path: readonly X509Certificate[], trust: GuardTrust, now: Date): Promise<GuardRefusal | Date | undefined> {
  if (!trust.isRevocationChecked) return undefined;
  let recheckAt: Date | undefined;
  for (let index = 0; index < path.length - 1; index += 1) {
    const cert = path[index] as X509Certificate;
    const crl = await currentCrl(trust, path[index + 1] as X509Certificate, now);
    if ("ok" in crl) return crl;
    const entry = crl.revoked.get(normaliseSerialHex(cert.serialNumber));
    if (entry) {
      const why = entry.reason === undefined ? "" : ` (reason ${entry.reason})`;
      return refuse("revoked", `${index === 0 ? describeLeaf(cert) : `its issuer ${name(cert)}`} was revoked at ${entry.revokedAt.toISOString()}${why}`);
    }
    if (crl.nextUpdate && (!recheckAt || crl.nextUpdate < recheckAt)) recheckAt = crl.nextUpdate;
  }
  return recheckAt;
}

/**
 * Validates the peer's chain (leaf first, as sent) against the trust: a path to an anchor whose
 * every signature verifies, every certificate in its validity window, issuers that are CAs, a leaf
 * for clientAuth, and nothing revoked. The identity is checked elsewhere.
 */
export async function validatePath(chain: readonly Buffer[], trust: GuardTrust, now: Date): Promise<ValidPath | GuardRefusal> {
  if (chain.length === 0) return refuse("no-client-certificate", "the peer presented no certificate");
  let certs: X509Certificate[];
  try {
    certs = chain.map((der) => new X509Certificate(der));
  } catch {
    return refuse("malformed-certificate", "a certificate the peer presented does not parse as X.509");
  }
  const [leaf, ...presented] = certs as [X509Certificate, ...X509Certificate[]];
  const path = buildPath(leaf, [...presented, ...trust.intermediates], trust.anchors);
  if (!path) return refuse("untrusted-chain", `${describeLeaf(leaf)}, issued by ${leaf.issuer.replaceAll("\n", ", ")}, does not chain to a root of the trust bundle${presented.length === 0 && trust.intermediates.length === 0 ? " (the peer's chain holds the leaf alone and the trust bundle no intermediate: load `moat ca bundle --with-intermediate`)" : ""}`);
  const refusal = checkValidity(path, now) ?? checkIssuers(path) ?? checkCriticalExtensions(path) ?? checkLeafUsage(leaf) ?? checkIssuerPurposes(path);
  if (refusal) return refusal;
  const revocation = await checkRevocation(path, trust, now);
  if (revocation && "ok" in revocation) return revocation;
  const notAfters = path.map((cert) => cert.validToDate.getTime());
  const recheckAt = new Date(Math.min(...notAfters, revocation?.getTime() ?? Number.POSITIVE_INFINITY));
  return { ok: true, path, recheckAt };
}
