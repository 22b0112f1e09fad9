// Stored certificates a process has already opened (key decrypted, certificate parsed, signature and key checked): a rebuild that finds the very same files skips that work.
import { createHash } from "node:crypto";
import type { IssuedCertificate, KeyAlgorithm } from "./types.ts";

/** What opening a stored certificate found: the certificate, its issuer, and the facts reuse is judged on. */
export interface OpenedCertificate {
  stored: IssuedCertificate;
  /** The intermediate that signed it (PEM): it must still be one the CA trusts for the opening to stand. */
  issuerPem: string;
  extendedKeyUsage: string;
  /** Undefined for a key of an algorithm Moat does not issue: such a certificate is never reused. */
  keyAlgorithm: KeyAlgorithm | undefined;
}

/**
 * Keyed by the slot directory and a digest of the two files' text and the master key's id: a file
 * rewritten, a certificate replaced or another master key is opened again. Only a digest of the
 * files is kept, not their text; the plaintext key is kept as the snapshot using it keeps it.
 */
export interface OpenedCertificates {
  get(dir: string, digest: string): OpenedCertificate | undefined;
  set(dir: string, digest: string, opened: OpenedCertificate): void;
  /** A build starts: what neither it nor the build before it opens is forgotten (a renewed certificate's predecessor, a removed distribution's). */
  nextBuild(): void;
}

/** The digest `get` and `set` take: of the chain file, the sealed key file and the master key's id. */
export function openedDigest(chainFile: string, keyFile: string, masterKeyId: string): string {
  return createHash("sha256").update(chainFile).update("\0").update(keyFile).update("\0").update(masterKeyId).digest("base64");
}

/**
 * @example
 * const opened = createOpenedCertificates(); // once per edge process
 * createIssuedCertificateStore({ ca, dataDir, masterKey, opened }); // per build
 */
export function createOpenedCertificates(): OpenedCertificates {
  let current = new Map<string, { digest: string; opened: OpenedCertificate }>();
  let previous = new Map<string, { digest: string; opened: OpenedCertificate }>();
  return {
    get(dir, digest) {
      const entry = current.get(dir) ?? previous.get(dir);
      if (entry?.digest !== digest) return undefined;
      current.set(dir, entry);
      return entry.opened;
    },
    set(dir, digest, opened) {
      current.set(dir, { digest, opened });
    },
    nextBuild() {
      previous = current;
      current = new Map();
    },
  };
}
