// Certificate signing requests (PKCS#10): made where the key is (the key stays there), and read by the CA with the proof that their maker holds the key.
import { createPublicKey, webcrypto } from "node:crypto";
import { CertificateRequestInvalidError } from "../errors.ts";
import { detectKeyAlgorithm, exportPrivateKeyPem, generateKeyPair, signingParams } from "./key-algorithms.ts";
import type { KeyAlgorithm } from "./types.ts";
import { x509 } from "./x509-lib.ts";

/**
 * A fresh key pair of `keyAlgorithm` and a CSR for it, signed with it. The subject is informational: the CA
 * names a certificate by what the requester is entitled to, never by what a CSR claims.
 */
export async function createKeyAndCsr(keyAlgorithm: KeyAlgorithm, commonName: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await generateKeyPair(keyAlgorithm);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [commonName] }], keys, signingAlgorithm: signingParams(keyAlgorithm) }, webcrypto);
  return { keyPem: exportPrivateKeyPem(keys.privateKey), csrPem: csr.toString("pem") };
}

/**
 * The CSR's public key as SPKI PEM, once its self-signature verifies (proof that the requester holds the private
 * key) and its key is one Moat signs for (ECDSA P-256/P-384, RSA 2048/3072). Throws CertificateRequestInvalidError
 * naming what is wrong.
 */
export async function verifiedCsrPublicKey(csrPem: string): Promise<string> {
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CertificateRequestInvalidError("the CSR does not parse as PKCS#10.");
  }
  if (!(await csr.verify().catch(() => false))) throw new CertificateRequestInvalidError("the CSR's signature does not verify with its own key.");
  const publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
  if (!detectKeyAlgorithm(publicKey)) throw new CertificateRequestInvalidError("the CSR's key is not one Moat signs: ECDSA P-256/P-384 or RSA 2048/3072.");
  return publicKey.export({ type: "spki", format: "pem" }) as string;
}
