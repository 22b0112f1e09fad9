// Private keys at rest: sealed as encrypted PKCS#8 PEM (PBES2, AES-256-CBC) under a passphrase derived from the master key, and opened again.
import { createPrivateKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { MasterKeyWrongError, PrivateKeyUnreadableError } from "../errors.ts";
import { writeKeyFileAtomic } from "./key-files.ts";
import { keyAtRestPassphrase, type MasterKey } from "./master-key.ts";

/**
 * RFC 5958 §3 EncryptedPrivateKeyInfo, PEM label from RFC 7468 §11. Chosen over a
 * home-made AES-256-GCM envelope because every TLS tool reads it: an operator
 * with the master key can recover a key with `openssl pkey -passin` and no Moat
 * at all. CBC is not authenticated, but a tampered key either fails to decrypt
 * or fails the check that it matches its certificate, which every reader does.
 */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----/;

/** True if `text` is an encrypted PKCS#8 PEM (what sealPrivateKey writes). */
export function isSealedPrivateKey(text: string): boolean {
  return ENCRYPTED_PEM.test(text);
}

/**
 * Encrypts a PEM private key: PKCS#8, PBES2 with PBKDF2-HMAC-SHA256 (OpenSSL's
 * default 2048 iterations, plenty for a passphrase of 256 random bits) and AES-256-CBC.
 * Throws PrivateKeyUnreadableError (naming `what`) if `keyPem` is not a private key.
 */
export function sealPrivateKey(keyPem: string, masterKey: MasterKey, what = "the key to encrypt"): string {
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new PrivateKeyUnreadableError(what);
  }
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: keyAtRestPassphrase(masterKey) }) as string;
}

/** A key read from disk: plaintext PKCS#8 PEM for memory only, and whether the file held it unencrypted. */
export interface OpenedPrivateKey {
  /** PKCS#8 PEM, unencrypted. Never log it. */
  keyPem: string;
  /** The same key as a KeyObject: a caller that checks it against its certificate need not parse the PEM again. */
  key: KeyObject;
  /** The file held a plaintext key (written before keys were encrypted): the caller should seal it or replace it. */
  wasPlaintext: boolean;
}

/**
 * Decrypts the contents of key file `path`. Throws MasterKeyWrongError if it is encrypted
 * and does not decrypt under `masterKey`, PrivateKeyUnreadableError if it is no PEM private
 * key at all. Neither carries anything read from the file, nor OpenSSL's error as a cause.
 */
export function openPrivateKey(text: string, masterKey: MasterKey, path: string): OpenedPrivateKey {
  if (isSealedPrivateKey(text)) {
    let key;
    try {
      key = createPrivateKey({ key: text, format: "pem", passphrase: keyAtRestPassphrase(masterKey) });
    } catch {
      throw new MasterKeyWrongError(path, masterKey.source, masterKey.id);
    }
    return { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, key, wasPlaintext: false };
  }
  let key;
  try {
    // Any unencrypted PEM key (PKCS#8, SEC1, PKCS#1) is read and re-exported as PKCS#8.
    key = createPrivateKey({ key: text, format: "pem", passphrase: "" });
  } catch {
    throw new PrivateKeyUnreadableError(path);
  }
  return { keyPem: key.export({ type: "pkcs8", format: "pem" }) as string, key, wasPlaintext: true };
}

/** Seals `keyPem` and writes it to `path` atomically with mode 0600 (checked). */
export async function writeSealedKeyFile(path: string, keyPem: string, masterKey: MasterKey): Promise<void> {
  await writeKeyFileAtomic(path, sealPrivateKey(keyPem, masterKey, path));
}

/**
 * For a store of replaceable keys (leaf certificates): a sealed key opened (PEM and KeyObject), or
 * undefined when the file is no key or a plaintext one (from before keys were encrypted: it
 * may have been copied, and a fresh key costs nothing, so it is replaced rather than sealed).
 * A sealed key that does not decrypt throws MasterKeyWrongError: the operator must hear it.
 */
export function openReplaceableKey(text: string, masterKey: MasterKey, path: string): OpenedPrivateKey | undefined {
  try {
    const opened = openPrivateKey(text, masterKey, path);
    return opened.wasPlaintext ? undefined : opened;
  } catch (error) {
    if (error instanceof PrivateKeyUnreadableError) return undefined;
    throw error;
  }
}
