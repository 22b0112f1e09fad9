// A two-tier CA (root → intermediate → leaves): generating one, and the in-memory CertificateAuthority that issues with it.
import { signCrlWith } from "./crl-sign.ts";
import { exportPrivateKeyPem, generateKeyPair } from "./key-algorithms.ts";
import { issueAdminClientLeaf, issueOriginClientLeaf, issueServerLeaf, joinPem, signAuditSignerLeafForKey, signOriginClientLeafForKey, signServerLeafForKey, type LeafIssuer } from "./issue.ts";
import { crlDistributionPoints, intermediateExtensions, rootExtensions } from "./profiles.ts";
import { crlDistributionUrl } from "./publication.ts";
import { CLOCK_SKEW_BACKDATE_MS, signCertificate, signerFor, type Signer } from "./sign.ts";
import type { CertificateAuthority, Clock, KeyAlgorithm } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";
import { X509Certificate, type webcrypto } from "node:crypto";

const YEAR_MS = 365.25 * 24 * 60 * 60 * 1000;
/** The root is the long-lived trust anchor every peer installs; 10 years, like step-ca's default root. */
export const ROOT_VALIDITY_MS = 10 * YEAR_MS;
/**
 * The intermediate's key is online (it signs every leaf), so it should live
 * much shorter than the root; 5 years keeps it well inside the root's life.
 * A running edge renews it at pki.renewAtFraction of its life (ca-rotation.ts).
 * Leaves are hours to days, so this is not what limits exposure.
 */
export const INTERMEDIATE_VALIDITY_MS = 5 * YEAR_MS;

export const DEFAULT_CA_NAME = "Moat";

/** What a running CA needs: its certificates, and the intermediate's signing key (never the root's). */
export interface CaMaterial {
  rootPem: string;
  intermediatePem: string;
  bundlePem: string;
  intermediateKey: webcrypto.CryptoKey;
  keyAlgorithm: KeyAlgorithm;
  /** Earlier intermediates, still valid, whose leaves may still be in use (see ca-layout.ts). */
  previousIntermediatePems: readonly string[];
  /** publication.json's base URL (ending in `/`): leaves carry `<base>crl/<intermediate serial>.der`; null: no CRL Distribution Point. */
  crlBaseUrl: string | null;
}

/** A newly generated CA: the material, plus both private keys as PKCS#8 PEM for whoever stores them. */
export interface GeneratedCa {
  material: CaMaterial;
  rootKeyPem: string;
  intermediateKeyPem: string;
}

/** A self-signed root certificate and its key pair. */
export async function generateRoot(options: { keyAlgorithm: KeyAlgorithm; subject: X509.JsonName; notBefore: Date; notAfter: Date }) {
  const keys = await generateKeyPair(options.keyAlgorithm);
  const cert = await signCertificate(
    { subject: options.subject, publicKey: keys.publicKey, notBefore: options.notBefore, notAfter: options.notAfter, extensions: rootExtensions() },
    { name: new x509.Name(options.subject), key: keys.privateKey, keyAlgorithm: options.keyAlgorithm, keyId: undefined },
  );
  return { cert, keys };
}

/**
 * An intermediate certificate signed by `root`, and its key pair. Its notAfter never passes the root's.
 * With `crlBaseUrl`, it carries the CRL Distribution Point of the root's CRL (`<base>crl/<root serial>.der`).
 */
export async function generateIntermediate(options: {
  keyAlgorithm: KeyAlgorithm;
  subject: X509.JsonName;
  notBefore: Date;
  notAfter: Date;
  root: Signer;
  rootNotAfter: Date;
  rootSerialHex: string;
  crlBaseUrl: string | null;
}) {
  const keys = await generateKeyPair(options.keyAlgorithm);
  const notAfter = new Date(Math.min(options.notAfter.getTime(), options.rootNotAfter.getTime()));
  const cdp = crlDistributionPoints(crlDistributionUrl(options.crlBaseUrl, options.rootSerialHex));
  const cert = await signCertificate(
    { subject: options.subject, publicKey: keys.publicKey, notBefore: options.notBefore, notAfter, extensions: [...intermediateExtensions(), ...cdp] },
    options.root,
  );
  return { cert, keys };
}

export async function generateCa(options: { keyAlgorithm: KeyAlgorithm; name: string; now: Date; crlBaseUrl?: string | null }): Promise<GeneratedCa> {
  const { keyAlgorithm, name, now } = options;
  const crlBaseUrl = options.crlBaseUrl ?? null;
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS);
  const rootNotAfter = new Date(notBefore.getTime() + ROOT_VALIDITY_MS);
  const root = await generateRoot({ keyAlgorithm, subject: [{ CN: [`${name} Root CA`] }, { O: [name] }], notBefore, notAfter: rootNotAfter });
  const intermediate = await generateIntermediate({
    keyAlgorithm,
    subject: [{ CN: [`${name} Intermediate CA`] }, { O: [name] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + INTERMEDIATE_VALIDITY_MS),
    root: signerFor(root.cert, root.keys.privateKey, keyAlgorithm),
    rootNotAfter,
    rootSerialHex: root.cert.serialNumber,
    crlBaseUrl,
  });
  // PEM files end with a newline, so `cat root.pem intermediate.pem` stays a valid bundle.
  const rootPem = joinPem(root.cert.toString("pem"));
  return {
    material: {
      rootPem,
      intermediatePem: joinPem(intermediate.cert.toString("pem")),
      bundlePem: rootPem,
      intermediateKey: intermediate.keys.privateKey,
      keyAlgorithm,
      previousIntermediatePems: [],
      crlBaseUrl,
    },
    rootKeyPem: exportPrivateKeyPem(root.keys.privateKey),
    intermediateKeyPem: exportPrivateKeyPem(intermediate.keys.privateKey),
  };
}

/** The CertificateAuthority that issues with this material; time comes from `clock`. */
export function createCertificateAuthority(material: CaMaterial, clock: Clock): CertificateAuthority {
  let signer: Signer | undefined;
  const issuer: LeafIssuer = {
    // Built at the first signature: a worker, which never signs, does not load @peculiar/x509 for it.
    get signer() {
      return (signer ??= signerFor(new x509.X509Certificate(material.intermediatePem), material.intermediateKey, material.keyAlgorithm));
    },
    certPem: material.intermediatePem,
    notAfter: new X509Certificate(material.intermediatePem).validToDate,
    crlDistributionUrl: crlDistributionUrl(material.crlBaseUrl, new X509Certificate(material.intermediatePem).serialNumber),
  };
  return Object.freeze({
    rootPem: material.rootPem,
    intermediatePem: material.intermediatePem,
    bundlePem: material.bundlePem,
    previousIntermediatePems: Object.freeze([...material.previousIntermediatePems]),
    keyAlgorithm: material.keyAlgorithm,
    crlBaseUrl: material.crlBaseUrl,
    issueServerCertificate: (request) => issueServerLeaf(issuer, request, material.keyAlgorithm, clock()),
    signServerCertificate: (request) => signServerLeafForKey(issuer, request, clock()),
    // Client certificates use the CA's algorithm: origins verify them, and the CA's choice is the operator's policy.
    issueOriginClientCertificate: (request) => issueOriginClientLeaf(issuer, request, material.keyAlgorithm, clock()),
    signOriginClientCertificate: (request) => signOriginClientLeafForKey(issuer, request, clock()),
    issueAdminClientCertificate: (request) => issueAdminClientLeaf(issuer, request, material.keyAlgorithm, clock()),
    signAuditSignerCertificate: (request) => signAuditSignerLeafForKey(issuer, request, clock()),
    // The intermediate signs the CRL: RFC 5280 §6.3.3 (and OpenSSL) look for the CRL of a leaf's own issuer.
    signCrl: (entries, options) => signCrlWith(issuer.signer, entries, options),
  } satisfies CertificateAuthority);
}
