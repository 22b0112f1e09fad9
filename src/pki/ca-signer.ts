// A CA certificate's signing key, decrypted from its key file under the master key only when something must be signed with it.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CaCorruptError } from "../errors.ts";
import { importSigningKey } from "./key-algorithms.ts";
import { checkKeyFileMode } from "./key-files.ts";
import { openPrivateKey } from "./key-vault.ts";
import type { MasterKey } from "./master-key.ts";
import { signerFor, type Signer } from "./sign.ts";
import { x509 } from "./x509-lib.ts";

/**
 * The Signer for `certPem` with the key in `keyPath` (encrypted PKCS#8, 0600). Throws
 * MasterKeyWrongError, KeyFileInsecureError, or CaCorruptError naming the file when the key
 * is not a supported key or does not match the certificate. The key never leaves the Signer.
 */
export async function loadCaSigner(keyPath: string, certPem: string, masterKey: MasterKey): Promise<Signer> {
  const caDir = dirname(keyPath);
  const file = basename(keyPath);
  await checkKeyFileMode(keyPath);
  const { keyPem } = openPrivateKey(await readFile(keyPath, "utf8"), masterKey, keyPath);
  const signing = importSigningKey(keyPem);
  if (!signing) throw new CaCorruptError(caDir, `${file} is not an ECDSA P-256/P-384 or RSA 2048/3072 key`);
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new CaCorruptError(caDir, `${file} does not match its certificate`);
  return signerFor(new x509.X509Certificate(certPem), signing.key, signing.algorithm);
}

export function rootKeyPath(dataDir: string): string {
  return join(dataDir, "ca", "root.key");
}
