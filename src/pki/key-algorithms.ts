// The key algorithms Moat issues with: how to generate each, how it signs, and how to recognise it in a PEM.
import { createPrivateKey, KeyObject, webcrypto } from "node:crypto";
import type { KeyAlgorithm } from "./types.ts";

/** Every algorithm Moat issues with, e.g. for a config schema's enum. */
export const KEY_ALGORITHMS = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"] as const satisfies readonly KeyAlgorithm[];

export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = "ecdsa-p256";

const RSA_PUBLIC_EXPONENT = new Uint8Array([1, 0, 1]); // 65537, the only exponent anyone should use

/** WebCrypto parameters to generate or import a key of this algorithm. */
export function keyParams(algorithm: KeyAlgorithm): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  switch (algorithm) {
    case "ecdsa-p256":
      return { name: "ECDSA", namedCurve: "P-256" };
    case "ecdsa-p384":
      return { name: "ECDSA", namedCurve: "P-384" };
    // RSASSA-PKCS1-v1_5 with SHA-256 is what every TLS stack and the CA/B Forum
    // baseline accept for certificate signatures; PSS signatures on certificates
    // still trip up older verifiers.
    case "rsa-2048":
    case "rsa-3072":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  }
}

/** The signature algorithm a key of this algorithm signs certificates with (P-384 pairs with SHA-384, per RFC 5480 §4). */
export function signingParams(algorithm: KeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  switch (algorithm) {
    case "ecdsa-p256":
      return { name: "ECDSA", hash: "SHA-256" };
    case "ecdsa-p384":
      return { name: "ECDSA", hash: "SHA-384" };
    case "rsa-2048":
    case "rsa-3072":
      return { name: "RSASSA-PKCS1-v1_5" };
  }
}

function generateParams(algorithm: KeyAlgorithm): webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams {
  if (algorithm === "rsa-2048" || algorithm === "rsa-3072") {
    const modulusLength = algorithm === "rsa-2048" ? 2048 : 3072;
    return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength, publicExponent: RSA_PUBLIC_EXPONENT };
  }
  return keyParams(algorithm) as webcrypto.EcKeyGenParams;
}

/** A fresh key pair; extractable so that its private half can be written out as PKCS#8. */
export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(generateParams(algorithm), true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), the form Node's tls, undici, nginx and HAProxy all read. */
export function exportPrivateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }) as string;
}

/** Which of our algorithms a private key is, or undefined if it is none of them. */
export function detectKeyAlgorithm(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    if (details.namedCurve === "prime256v1") return "ecdsa-p256";
    if (details.namedCurve === "secp384r1") return "ecdsa-p384";
  }
  if (key.asymmetricKeyType === "rsa") {
    if (details.modulusLength === 2048) return "rsa-2048";
    if (details.modulusLength === 3072) return "rsa-3072";
  }
  return undefined;
}

/** A PEM private key as a non-extractable WebCrypto signing key: once loaded, the CA's key cannot be exported again. */
export function importSigningKey(pem: string): { key: webcrypto.CryptoKey; algorithm: KeyAlgorithm } | undefined {
  const keyObject = createPrivateKey(pem);
  const algorithm = detectKeyAlgorithm(keyObject);
  if (!algorithm) return undefined;
  return { key: keyObject.toCryptoKey(keyParams(algorithm), false, ["sign"]), algorithm };
}
