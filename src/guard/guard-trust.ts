// What an origin trusts: Moat's CA bundle (one or more roots, e.g. old and new during a root rollover) and its CRLs, parsed once into an immutable snapshot.
import { createHash, X509Certificate } from "node:crypto";
import { GuardTrustInvalidError } from "../errors.ts";
import { x509 } from "./x509-lib.ts";

/** One CRL of the trust material, parsed. */
export interface TrustCrl {
  /** Issuer as @peculiar/x509 prints names; compared with the issuing certificate's subject. */
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Lower-case hex serials (no leading zero octets) → when and why. */
  revoked: ReadonlyMap<string, { revokedAt: Date; reason: string | undefined }>;
}

/** An immutable snapshot of the trust bundle and CRLs; a reload makes a new one. */
export interface GuardTrust {
  /** The trust anchors: the self-signed CA certificates of the bundle (Moat's root, two during a rollover). */
  readonly anchors: readonly X509Certificate[];
  /**
   * CA certificates that are not anchors (Moat's intermediate): used to complete a path, never trusted
   * on their own. Needed because Node 24.21's server-side getPeerCertificate(true) loses the
   * intermediate the peer sent (nodejs/node#65579), so the peer's own chain is often the leaf alone.
   */
  readonly intermediates: readonly X509Certificate[];
  readonly crls: readonly TrustCrl[];
  /** The bundle as given: Node's tls `ca`. */
  readonly bundlePem: string;
  /** One PEM per CRL: Node's tls `crl` reads only the first CRL of each string. */
  readonly crlPems: readonly string[];
  /** False when no CRL was given: then nothing is checked for revocation (say so loudly). */
  readonly isRevocationChecked: boolean;
  /** SHA-256 of the bundle and CRLs: changes exactly when the material does. */
  readonly version: string;
  /** The CRLs `issuer` signed (by name, then by signature); memoised per snapshot. */
  crlsIssuedBy(issuer: X509Certificate): Promise<readonly TrustCrl[]>;
}

/**
 * The CA certificates of the bundle that no CRL of the trust speaks for, when CRLs are checked at all.
 * OpenSSL checks a CRL for every certificate of the chain, so each of these makes every edge whose
 * chain runs through it fail the handshake ("unable to get certificate CRL").
 * @example
 * for (const ca of await authoritiesWithoutCrl(trust)) log.error({ ca: ca.subject }, "no CRL for this CA");
 */
export async function authoritiesWithoutCrl(trust: GuardTrust): Promise<X509Certificate[]> {
  if (!trust.isRevocationChecked) return [];
  const cas = [...trust.anchors, ...trust.intermediates];
  const covered = await Promise.all(cas.map(async (ca) => (await trust.crlsIssuedBy(ca)).length > 0));
  return cas.filter((_, index) => !covered[index]);
}

export interface GuardTrustInput {
  /**
   * PEM: one or more CA certificates (`moat ca bundle --with-intermediate`). Self-signed ones are the
   * trust anchors; the others (the intermediate) only help build paths.
   */
  bundlePem: string;
  /** PEM: one or more CRLs (`<dataDir>/ca/crl-bundle.pem`, `moat ca crl`); omit only to accept without revocation checks. */
  crlPem?: string | undefined;
  /** Named in errors: where the bundle and CRL came from (file paths). */
  source?: { bundle?: string; crl?: string };
}

/**
 * The DER of every `type` block. A block without its END line throws: the PEM decoder skips it
 * silently, and a file read while it is being written (cp, scp, a full disk) would pass for a
 * shorter bundle: without its last CRL, every edge is refused; without a root, those of a rollover.
 */
function pemBlocks(pem: string, type: string, where: string): ArrayBuffer[] {
  let blocks: ReturnType<typeof x509.PemConverter.decodeWithHeaders>;
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (cause) {
    throw new GuardTrustInvalidError(where, "it is not PEM", { cause });
  }
  const begun = pem.match(/-----BEGIN [^-\r\n]+-----/g)?.length ?? 0;
  if (blocks.length !== begun) {
    throw new GuardTrustInvalidError(where, `PEM block ${blocks.length + 1} is cut short (a BEGIN line without its END): the file may be half-written; the next change reloads it`);
  }
  return blocks.filter((block) => block.type === type).map((block) => block.rawData);
}

export function normaliseSerialHex(hex: string): string {
  return hex.toLowerCase().replace(/^(00)+(?=.)/, "");
}

function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

function parseCaCertificates(pem: string, where: string): X509Certificate[] {
  const blocks = pemBlocks(pem, "CERTIFICATE", where);
  if (blocks.length === 0) throw new GuardTrustInvalidError(where, "it holds no certificate (-----BEGIN CERTIFICATE-----)");
  return blocks.map((der, index) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(der));
    } catch (cause) {
      throw new GuardTrustInvalidError(where, `certificate ${index + 1} does not parse`, { cause });
    }
    if (!cert.ca) throw new GuardTrustInvalidError(where, `certificate ${index + 1} (${cert.subject.replaceAll("\n", ", ")}) is not a CA certificate`);
    return cert;
  });
}

function parseCrls(pem: string, where: string): { parsed: x509.X509Crl[]; pems: string[] } {
  const blocks = pemBlocks(pem, "X509 CRL", where);
  if (blocks.length === 0) throw new GuardTrustInvalidError(where, "it holds no CRL (-----BEGIN X509 CRL-----)");
  const parsed = blocks.map((der, index) => {
    try {
      return new x509.X509Crl(der);
    } catch (cause) {
      throw new GuardTrustInvalidError(where, `CRL ${index + 1} does not parse`, { cause });
    }
  });
  return { parsed, pems: blocks.map((der) => `${x509.PemConverter.encode(der, "X509 CRL")}\n`) };
}

function describeCrl(crl: x509.X509Crl): TrustCrl {
  const revoked = new Map(crl.entries.map((entry) => [normaliseSerialHex(entry.serialNumber), { revokedAt: entry.revocationDate, reason: entry.reason === undefined ? undefined : String(entry.reason) }]));
  return { issuer: crl.issuer, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, revoked };
}

/**
 * Parses and checks the trust material. Throws GuardTrustInvalidError naming the file and what is
 * wrong (not PEM, no certificate, a leaf in the bundle, a CRL that does not parse).
 */
export function createGuardTrust(input: GuardTrustInput): GuardTrust {
  const where = input.source?.bundle ?? "the trust bundle";
  const certificates = parseCaCertificates(input.bundlePem, where);
  const anchors = certificates.filter(isSelfSigned);
  if (anchors.length === 0) throw new GuardTrustInvalidError(where, "it holds no root (self-signed) CA certificate: trust must end at a root");
  const intermediates = certificates.filter((cert) => !anchors.includes(cert));
  const crlInput = input.crlPem === undefined ? undefined : parseCrls(input.crlPem, input.source?.crl ?? "the CRL");
  const parsedCrls = crlInput?.parsed ?? [];
  const crls = parsedCrls.map(describeCrl);
  const memo = new Map<string, Promise<readonly TrustCrl[]>>();
  const crlsIssuedBy = (issuer: X509Certificate): Promise<readonly TrustCrl[]> => {
    const cached = memo.get(issuer.fingerprint256);
    if (cached) return cached;
    const issuerCert = new x509.X509Certificate(issuer.raw);
    const found = Promise.all(
      parsedCrls.map(async (crl, index) => {
        const isIssued = crl.issuer === issuerCert.subject && (await crl.verify({ publicKey: issuerCert }).catch(() => false));
        return isIssued ? crls[index] : undefined;
      }),
    ).then((list) => list.filter((crl): crl is TrustCrl => crl !== undefined));
    memo.set(issuer.fingerprint256, found);
    return found;
  };
  const version = createHash("sha256").update(input.bundlePem).update("\0").update(input.crlPem ?? "").digest("hex");
  return Object.freeze({
    anchors: Object.freeze(anchors),
    intermediates: Object.freeze(intermediates),
    crls: Object.freeze(crls),
    bundlePem: input.bundlePem,
    crlPems: Object.freeze(crlInput?.pems ?? []),
    isRevocationChecked: crlInput !== undefined,
    version,
    crlsIssuedBy,
  });
}
