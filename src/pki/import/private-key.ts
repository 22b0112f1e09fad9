// Reads the private key of a PEM import (PKCS#8, PKCS#1 RSA, SEC1 EC, each possibly encrypted) with Node's crypto, never by hand.
import { createPrivateKey, type KeyObject } from "node:crypto";
import { CertificateImportError } from "../../errors.ts";
import { missingBlock, readPemBlocks, type PemBlock } from "./pem-blocks.ts";

// The PEM labels OpenSSL (and so Node) reads as private keys, and what users call each.
const KEY_FORMATS: Readonly<Record<string, string>> = {
  "PRIVATE KEY": "PKCS#8",
  "ENCRYPTED PRIVATE KEY": "encrypted PKCS#8",
  "RSA PRIVATE KEY": "PKCS#1 RSA",
  "EC PRIVATE KEY": "SEC1 EC",
};

/** The one private-key block of keyPem; other blocks (EC PARAMETERS, a certificate pasted alongside) are skipped. */
function keyBlock(keyPem: string): PemBlock {
  const blocks = readPemBlocks(keyPem, "keyPem");
  const keys = blocks.filter((block) => block.label.endsWith("PRIVATE KEY"));
  if (keys.length === 0) throw missingBlock("keyPem", "PRIVATE KEY", blocks);
  if (keys.length > 1) {
    throw new CertificateImportError("import-pem-malformed", `keyPem holds ${keys.length} private keys; it must hold exactly one.`, {
      fix: "give only the key that belongs to the certificate",
    });
  }
  return keys[0] as PemBlock;
}

/** Encrypted PKCS#8 has its own label; the legacy OpenSSL form keeps its label and adds RFC 1421's `Proc-Type: 4,ENCRYPTED`. */
function isEncrypted(block: PemBlock): boolean {
  return block.label === "ENCRYPTED PRIVATE KEY" || (block.headers.get("proc-type") ?? "").includes("ENCRYPTED");
}

function unreadable(problem: string, fix: string): CertificateImportError {
  return new CertificateImportError("import-key-unreadable", `${problem}.`, { fix });
}

/** The private key of keyPem, decrypted with the passphrase when it is encrypted. Throws CertificateImportError. */
export function readPrivateKeyPem(keyPem: string, passphrase: string | undefined): KeyObject {
  const block = keyBlock(keyPem);
  const format = KEY_FORMATS[block.label];
  if (!format) {
    throw unreadable(
      `keyPem holds a ${block.label} block, a format Moat does not read (it reads PKCS#8, PKCS#1 RSA and SEC1 EC, plain or encrypted)`,
      "convert the key to PKCS#8: `openssl pkcs8 -topk8 -in key.pem -out key.pk8.pem` (an OpenSSH key: `ssh-keygen -p -m PKCS8 -f key`)",
    );
  }
  const encrypted = isEncrypted(block);
  if (encrypted && !passphrase) {
    throw new CertificateImportError("import-passphrase-missing", `the private key in keyPem is encrypted (${format}) and no passphrase was given.`, {
      fix: "give the passphrase the key was encrypted with",
    });
  }
  try {
    return createPrivateKey({ key: block.text, format: "pem", passphrase: encrypted ? passphrase : undefined });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (encrypted) {
      // OpenSSL reports a wrong passphrase as bad decrypt, or (1 time in ~256, when the padding happens to look right) as undecodable DER.
      throw new CertificateImportError("import-passphrase-wrong", `the passphrase given does not decrypt the private key in keyPem (${format}).`, {
        fix: "check the passphrase (it is case-sensitive); if it is lost, have the CA issue a certificate for a new key",
      });
    }
    throw unreadable(`the ${format} block in keyPem is not a valid private key (${String(code ?? "unparsable")})`, "give the key file as it was generated, not cut or edited");
  }
}
