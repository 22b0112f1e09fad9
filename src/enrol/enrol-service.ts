// The CA side of enrolment: a token and a CSR buy a server certificate for the token's names; the holder of a current one renews it by proving its key; the trust files are public.
import { createHash, verify as verifySignature, X509Certificate } from "node:crypto";
import { CertificateRequestInvalidError, EnrolmentError } from "../errors.ts";
import { buildCertificatePath } from "../guard/index.ts";
import { ensureFreshCrl, readRevocations, renewalTime, verifiedCsrPublicKey } from "../pki/index.ts";
import type { CertificateAuthority, MasterKey, SignedCertificate } from "../pki/index.ts";
import { claimRenewal, findIssued, recordIssued } from "./enrolment-registry.ts";
import { PROOF_WINDOW_MS, renewalProofMessage, serialHexOf, type EnrolAnswer, type EnrolRequest, type RenewRequest, type TrustAnswer } from "./enrol-protocol.ts";
import { checkEnrolmentToken, spendEnrolmentToken, type TokenGrant } from "./token-store.ts";

/** Renew at two thirds of the life, as Moat's own certificates. */
const RENEW_AT_FRACTION = 2 / 3;

export interface EnrolmentService {
  enrol(request: EnrolRequest): Promise<EnrolAnswer>;
  renew(request: RenewRequest): Promise<EnrolAnswer>;
  trust(): Promise<TrustAnswer>;
}

/** The CSR's public key as SPKI PEM, once its self-signature verifies (proof the requester holds the key): pki's check, in enrolment's codes. */
async function csrPublicKey(csrPem: string): Promise<string> {
  try {
    return await verifiedCsrPublicKey(csrPem);
  } catch (error) {
    if (!(error instanceof CertificateRequestInvalidError)) throw error;
    // Checked here, before the token is spent: the CA would refuse the key only after.
    const fix = /not one Moat signs/.test(error.message) ? { fix: "make the key with `openssl ecparam -name prime256v1 -genkey` (moat enrol request does)" } : {};
    throw new EnrolmentError("enrol-csr-invalid", 400, error.message, fix);
  }
}

/**
 * Renewal proofs already used, until their signedAt leaves the clock window (then the window refuses
 * them): a captured request replayed gets no second certificate. Keyed on the signed message, not the
 * signature, which an ECDSA signature's malleability would let a replayer change. Kept in memory: a
 * restart within the window forgets them, and a replay then gains a certificate for a key it lacks.
 */
function createProofLedger(): (message: Buffer, signedAt: Date, now: Date) => boolean {
  const used = new Map<string, number>();
  return (message, signedAt, now) => {
    for (const [key, forgetAt] of used) if (forgetAt < now.getTime()) used.delete(key);
    const key = createHash("sha256").update(message).digest("hex");
    if (used.has(key)) return false;
    used.set(key, signedAt.getTime() + PROOF_WINDOW_MS);
    return true;
  };
}

function certificatesOf(chainPem: string): X509Certificate[] {
  try {
    return chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((block) => block.includes("-----BEGIN CERTIFICATE-----")).map((block) => new X509Certificate(block));
  } catch {
    throw new EnrolmentError("enrol-renewal-refused", 400, "the current certificate does not parse.");
  }
}

export function createEnrolmentService(options: { ca: CertificateAuthority; dataDir: string; masterKey: MasterKey; clock?: () => Date }): EnrolmentService {
  const { ca, dataDir } = options;
  const clock = options.clock ?? (() => new Date());
  const isFirstUse = createProofLedger();

  const trust = async (): Promise<TrustAnswer> => {
    const { crl } = await ensureFreshCrl({ ca, dataDir, masterKey: options.masterKey, clock });
    const refreshAt = new Date(crl.thisUpdate.getTime() + (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 2);
    return { caBundle: ca.bundlePem + ca.intermediatePem, crlBundle: crl.bundlePem, refreshAt: refreshAt.toISOString() };
  };

  const answer = async (signed: SignedCertificate): Promise<EnrolAnswer> => {
    const { caBundle, crlBundle } = await trust();
    return { certificate: signed.chainPem, caBundle, crlBundle, notAfter: signed.notAfter.toISOString(), renewAt: renewalTime(signed, RENEW_AT_FRACTION).toISOString() };
  };

  const issue = async (grant: TokenGrant, publicKeyPem: string): Promise<SignedCertificate> => {
    try {
      return await ca.signServerCertificate({ dnsNames: grant.dnsNames, ipAddresses: grant.ipAddresses, validityMs: grant.validityMs, publicKeyPem });
    } catch (error) {
      if (error instanceof CertificateRequestInvalidError) throw new EnrolmentError("enrol-csr-invalid", 400, `the CSR cannot be used: ${(error as Error).message}`);
      throw error;
    }
  };

  /** The current certificate must be one enrolment issued, chain to Moat's roots, be valid now and not revoked. */
  const checkCurrent = async (chainPem: string, now: Date) => {
    const [leaf, ...rest] = certificatesOf(chainPem);
    const refuse = (why: string) => new EnrolmentError("enrol-renewal-refused", 403, `renewal refused: ${why}.`, { fix: "enrol again with a new token (`moat enrol token` on the CA host)" });
    if (!leaf) throw refuse("no certificate was sent");
    const roots = certificatesOf(ca.bundlePem);
    if (!buildCertificatePath(leaf, [...rest, ...certificatesOf(ca.intermediatePem)], roots)) throw refuse("the certificate does not chain to Moat's CA");
    if (now < leaf.validFromDate || now > leaf.validToDate) throw refuse(`the certificate is outside its validity (${leaf.validFrom} to ${leaf.validTo})`);
    const serialHex = serialHexOf(leaf.serialNumber);
    if ((await readRevocations(dataDir)).some((r) => r.serialHex === serialHex)) throw refuse(`certificate ${serialHex} is revoked`);
    const record = await findIssued(dataDir, serialHex);
    if (!record) throw refuse(`certificate ${serialHex} was not issued by enrolment`);
    return { leaf, record };
  };

  return {
    trust,
    enrol: async (request) => {
      const now = clock();
      const grant = await checkEnrolmentToken(dataDir, request.token, now);
      const publicKeyPem = await csrPublicKey(request.csr); // a bad CSR does not spend the token
      await spendEnrolmentToken(dataDir, grant);
      const signed = await issue(grant, publicKeyPem);
      await recordIssued(dataDir, grant, signed.serialHex, now);
      return answer(signed);
    },
    renew: async (request) => {
      const now = clock();
      const { leaf, record } = await checkCurrent(request.certificate, now);
      const skewMs = Math.abs(new Date(request.signedAt).getTime() - now.getTime());
      if (skewMs > PROOF_WINDOW_MS) throw new EnrolmentError("enrol-renewal-refused", 403, `renewal refused: signedAt is ${Math.round(skewMs / 1000)} s from the CA's clock (at most ${PROOF_WINDOW_MS / 1000} s).`, { fix: "check both hosts' clocks" });
      const message = renewalProofMessage(request.csr, request.signedAt, { fingerprint256: leaf.fingerprint256, serialHex: record.serialHex });
      const isProven = verifySignature("sha256", message, leaf.publicKey, Buffer.from(request.proof, "base64"));
      if (!isProven) throw new EnrolmentError("enrol-renewal-refused", 403, `renewal refused: the proof is not a signature by certificate ${record.serialHex}'s key over a renewal of that certificate.`);
      if (!isFirstUse(message, new Date(request.signedAt), now)) {
        throw new EnrolmentError("enrol-renewal-refused", 403, "renewal refused: this renewal request was already used (a replay).", { fix: "renew again: `moat enrol renew` signs a new request each time" });
      }
      const publicKeyPem = await csrPublicKey(request.csr);
      // One renewal per certificate: a stolen key with an old certificate cannot fork a second line of certificates.
      const claimed = await claimRenewal(dataDir, record.serialHex);
      if ("supersededBy" in claimed) {
        const by = claimed.supersededBy ? `certificate ${claimed.supersededBy}` : "a renewal in progress";
        throw new EnrolmentError("enrol-renewal-refused", 403, `renewal refused: certificate ${record.serialHex} was already renewed (superseded by ${by}).`, {
          fix: "renew with the newest certificate (server.crt as `moat enrol renew` last wrote it); if it was lost, enrol again with a new token",
        });
      }
      const grant: TokenGrant = { id: record.tokenId, dnsNames: record.dnsNames, ipAddresses: record.ipAddresses, validityMs: record.validityMs };
      let signed: SignedCertificate;
      try {
        signed = await issue(grant, publicKeyPem);
        await recordIssued(dataDir, grant, signed.serialHex, now, record.serialHex);
      } catch (error) {
        await claimed.claim.release();
        throw error;
      }
      await claimed.claim.settle(signed.serialHex);
      return answer(signed);
    },
  };
}
