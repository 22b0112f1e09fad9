// Issues leaf certificates under an intermediate: validates the request, makes a fresh key, signs, and packages the result.
import { createPublicKey, type KeyObject, webcrypto, X509Certificate } from "node:crypto";
import { CaExpiredError, CertificateRequestInvalidError } from "../errors.ts";
import { describeNode } from "./describe.ts";
import { detectKeyAlgorithm, exportPrivateKeyPem, generateKeyPair, keyParams } from "./key-algorithms.ts";
import { adminSpiffeId, checkValidityMs, normalizeDnsName, normalizeIpAddress, originSpiffeId } from "./names.ts";
import { auditSignerExtensions, clientLeafExtensions, crlDistributionPoints, leafSubject, serverLeafExtensions } from "./profiles.ts";
import { backdateMs, signCertificate, type Signer } from "./sign.ts";
import type {
  AdminClientCertificateRequest,
  AuditSignerCertificateRequest,
  IssuedCertificate,
  KeyAlgorithm,
  OriginClientCertificateForKeyRequest,
  OriginClientCertificateRequest,
  ServerCertificateForKeyRequest,
  ServerCertificateRequest,
  SignedCertificate,
} from "./types.ts";
import type { X509 } from "./x509-lib.ts";

/** The intermediate that signs leaves. */
export interface LeafIssuer {
  signer: Signer;
  certPem: string;
  notAfter: Date;
  /** Where the intermediate's CRL is published (`<base>crl/<serial>.der`); undefined: leaves carry no CRL Distribution Point. */
  crlDistributionUrl: string | undefined;
}

interface LeafPlan {
  commonName: string | undefined;
  keyAlgorithm: KeyAlgorithm;
  validityMs: number;
  notBefore: Date | undefined;
  notAfter: Date | undefined;
  extensions: (keyAlgorithm: KeyAlgorithm, hasSubject: boolean) => X509.Extension[];
}

/**
 * notBefore/notAfter of a leaf. A leaf never outlives its intermediate (the chain
 * would stop verifying then anyway); clamping makes its notAfter say so, which is
 * what rotation schedules from.
 */
function leafValidity(plan: LeafPlan, now: Date, issuerNotAfter: Date): { notBefore: Date; notAfter: Date } {
  const validityMs = checkValidityMs(plan.validityMs);
  if (now.getTime() >= issuerNotAfter.getTime()) throw new CaExpiredError(issuerNotAfter);
  // The validity counts from the requested start (or now); the backdating is extra, not taken out of it.
  const notBefore = plan.notBefore ?? new Date(now.getTime() - backdateMs(validityMs));
  // X.509 times count whole seconds and encoders drop the fraction: round notAfter up, so a
  // certificate never lives shorter than asked (it matters for the seconds-long ones tests use).
  const wanted = plan.notAfter ?? new Date(Math.ceil(((plan.notBefore ?? now).getTime() + validityMs) / 1000) * 1000);
  const notAfter = wanted.getTime() > issuerNotAfter.getTime() ? issuerNotAfter : wanted;
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new CertificateRequestInvalidError(
      `notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`,
    );
  }
  return { notBefore, notAfter };
}

/** Concatenates PEM blocks, one newline between each. */
export function joinPem(...blocks: string[]): string {
  return blocks.map((block) => (block.endsWith("\n") ? block : `${block}\n`)).join("");
}

/** Signs a leaf for `publicKey`: everything but the private key, which the caller holds (or never sees). */
async function signLeaf(issuer: LeafIssuer, plan: LeafPlan, now: Date, publicKey: webcrypto.CryptoKey): Promise<SignedCertificate> {
  const validity = leafValidity(plan, now, issuer.notAfter);
  const subject = leafSubject(plan.commonName);
  const cert = await signCertificate(
    { subject, publicKey, ...validity, extensions: [...plan.extensions(plan.keyAlgorithm, subject.length > 0), ...crlDistributionPoints(issuer.crlDistributionUrl)] },
    issuer.signer,
  );
  const certPem = joinPem(cert.toString("pem"));
  // Node reads the names of what Moat issues (describeNode); asking @peculiar/x509 for its parsed extensions cost 1.7 ms a certificate.
  const description = describeNode(new X509Certificate(certPem), certPem);
  return {
    certPem,
    chainPem: joinPem(certPem, issuer.certPem),
    serialHex: description.serialHex,
    fingerprint256: description.fingerprint256,
    notBefore: description.notBefore,
    notAfter: description.notAfter,
    subject: description.subject,
    sans: description.sans,
  };
}

async function issueLeaf(issuer: LeafIssuer, plan: LeafPlan, now: Date): Promise<IssuedCertificate> {
  leafValidity(plan, now, issuer.notAfter); // a bad request fails before a key is generated
  const keys = await generateKeyPair(plan.keyAlgorithm);
  const signed = await signLeaf(issuer, plan, now, keys.publicKey);
  return { ...signed, keyPem: exportPrivateKeyPem(keys.privateKey) };
}

/** The SANs of a server request, validated and in canonical spelling (DNS names first). */
export function serverSanNames(request: Pick<ServerCertificateRequest, "dnsNames" | "ipAddresses">): X509.JsonGeneralNames {
  const dns = request.dnsNames.map((name) => ({ type: "dns" as const, value: normalizeDnsName(name) }));
  const ips = (request.ipAddresses ?? []).map((ip) => ({ type: "ip" as const, value: normalizeIpAddress(ip) }));
  const names = [...dns, ...ips];
  if (names.length === 0) throw new CertificateRequestInvalidError("a server certificate needs at least one DNS name or IP address");
  return names;
}

// async so that a bad request rejects the returned promise rather than throwing at the call.
export async function issueServerLeaf(
  issuer: LeafIssuer,
  request: ServerCertificateRequest,
  defaultKeyAlgorithm: KeyAlgorithm,
  now: Date,
): Promise<IssuedCertificate> {
  const names = serverSanNames(request);
  return issueLeaf(
    issuer,
    {
      commonName: names[0]?.value,
      keyAlgorithm: request.keyAlgorithm ?? defaultKeyAlgorithm,
      validityMs: request.validityMs,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      extensions: (keyAlgorithm, hasSubject) => serverLeafExtensions(names, keyAlgorithm, hasSubject),
    },
    now,
  );
}

/** A requester's public key (SPKI PEM) as a signing plan needs it; throws CertificateRequestInvalidError when Moat does not sign for it. */
function requesterKey(publicKeyPem: string): { keyAlgorithm: KeyAlgorithm; cryptoKey: webcrypto.CryptoKey } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(publicKeyPem);
  } catch {
    throw new CertificateRequestInvalidError("the public key is not a PEM (SPKI) public key");
  }
  const keyAlgorithm = detectKeyAlgorithm(publicKey);
  if (!keyAlgorithm) throw new CertificateRequestInvalidError("the public key is not ECDSA P-256/P-384 or RSA 2048/3072");
  return { keyAlgorithm, cryptoKey: publicKey.toCryptoKey(keyParams(keyAlgorithm), true, ["verify"]) };
}

/**
 * A server certificate for a key the requester keeps (from a CSR): Moat never sees the private key.
 * The key must be one Moat issues with (ECDSA P-256/P-384, RSA 2048/3072); throws CertificateRequestInvalidError.
 */
export async function signServerLeafForKey(issuer: LeafIssuer, request: ServerCertificateForKeyRequest, now: Date): Promise<SignedCertificate> {
  const names = serverSanNames(request);
  const { keyAlgorithm, cryptoKey } = requesterKey(request.publicKeyPem);
  const plan: LeafPlan = {
    commonName: names[0]?.value,
    keyAlgorithm,
    validityMs: request.validityMs,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    extensions: (algorithm, hasSubject) => serverLeafExtensions(names, algorithm, hasSubject),
  };
  return signLeaf(issuer, plan, now, cryptoKey);
}

/** An origin client certificate for a key the requester keeps (a joined edge's CSR): the same profile as issueOriginClientLeaf. */
export async function signOriginClientLeafForKey(issuer: LeafIssuer, request: OriginClientCertificateForKeyRequest, now: Date): Promise<SignedCertificate> {
  const spiffeId = originSpiffeId(request.trustDomain, request.distributionId, request.originId);
  const { keyAlgorithm, cryptoKey } = requesterKey(request.publicKeyPem);
  const plan: LeafPlan = {
    commonName: `${request.distributionId}/${request.originId}`,
    keyAlgorithm,
    validityMs: request.validityMs,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    extensions: (algorithm, hasSubject) => clientLeafExtensions(spiffeId, algorithm, hasSubject),
  };
  return signLeaf(issuer, plan, now, cryptoKey);
}

/** An audit checkpoint signer's certificate for its own key: ECDSA P-256 only (what checkpoints are verified with). */
export async function signAuditSignerLeafForKey(issuer: LeafIssuer, request: AuditSignerCertificateRequest, now: Date): Promise<SignedCertificate> {
  const { keyAlgorithm, cryptoKey } = requesterKey(request.publicKeyPem);
  if (keyAlgorithm !== "ecdsa-p256") throw new CertificateRequestInvalidError(`an audit checkpoint signer's key must be ECDSA P-256, not ${keyAlgorithm}`);
  const plan: LeafPlan = {
    commonName: `moat audit signer ${request.name}`,
    keyAlgorithm,
    validityMs: request.validityMs,
    notBefore: undefined,
    notAfter: undefined,
    extensions: (algorithm) => auditSignerExtensions(algorithm),
  };
  return signLeaf(issuer, plan, now, cryptoKey);
}

export async function issueOriginClientLeaf(
  issuer: LeafIssuer,
  request: OriginClientCertificateRequest,
  keyAlgorithm: KeyAlgorithm,
  now: Date,
): Promise<IssuedCertificate> {
  const spiffeId = originSpiffeId(request.trustDomain, request.distributionId, request.originId);
  // For humans reading logs and `openssl x509 -text`; verifiers read the URI SAN only.
  return issueClientLeaf(issuer, spiffeId, `${request.distributionId}/${request.originId}`, request, keyAlgorithm, now);
}

export async function issueAdminClientLeaf(
  issuer: LeafIssuer,
  request: AdminClientCertificateRequest,
  keyAlgorithm: KeyAlgorithm,
  now: Date,
): Promise<IssuedCertificate> {
  const spiffeId = adminSpiffeId(request.trustDomain, request.role, request.name);
  // Not "<a>/<b>": that is the CN nginx and HAProxy origins check for an edge, and an admin must never pass as one.
  return issueClientLeaf(issuer, spiffeId, `moat admin ${request.name}`, request, keyAlgorithm, now);
}

/** A client leaf (EKU clientAuth, the SPIFFE ID as its one URI SAN) with the request's key and validity. */
function issueClientLeaf(
  issuer: LeafIssuer,
  spiffeId: string,
  commonName: string,
  request: Pick<OriginClientCertificateRequest, "keyAlgorithm" | "validityMs" | "notBefore" | "notAfter">,
  keyAlgorithm: KeyAlgorithm,
  now: Date,
): Promise<IssuedCertificate> {
  return issueLeaf(
    issuer,
    {
      commonName,
      keyAlgorithm: request.keyAlgorithm ?? keyAlgorithm,
      validityMs: request.validityMs,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      extensions: (algorithm, hasSubject) => clientLeafExtensions(spiffeId, algorithm, hasSubject),
    },
    now,
  );
}
