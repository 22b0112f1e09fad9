// The files a guard runs from (its own certificate and key, Moat's CA bundle and CRL bundle): read and checked together, and watched so that a rollover, a new CRL or a renewed certificate reaches the guard without a restart.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { watchFiles } from "../file-watch.ts";
import { readFile, stat } from "node:fs/promises";
import { GuardTrustInvalidError, KeyFileInsecureError } from "../errors.ts";
import { createGuardTrust, type GuardTrust } from "./guard-trust.ts";

/**
 * The files of a guard directory, as `moat enrol` writes them. The certificate ends in .crt so that
 * HAProxy (`ssl-load-extra-del-ext`) finds server.key beside it.
 */
export const GUARD_DIR_FILES = { cert: "server.crt", key: "server.key", caBundle: "ca-bundle.pem", crl: "crl-bundle.pem" } as const;

export interface GuardFilePaths {
  /** The guard's own server certificate chain (PEM: leaf, then intermediate). */
  cert: string;
  /** Its private key (PEM, mode 0600). */
  key: string;
  /** Moat's roots, and its intermediate (`moat ca bundle --with-intermediate`). */
  caBundle: string;
  /** Moat's CRL bundle (`moat ca crl`); undefined only with --no-crl. */
  crl: string | undefined;
}

/** Everything the guard's TLS server and verifier are built from, as one immutable value. */
export interface GuardMaterial {
  trust: GuardTrust;
  certPem: string;
  keyPem: string;
  /** Changes exactly when any of the files' contents does. */
  version: string;
}

// The origin's own certificate and key come from enrolment; the bundle and CRL from Moat's CA.
const OWN_FILE_FIX = "enrol the origin (`moat enrol --dir DIR`, which writes server.crt and server.key), or give --cert and --key";

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const isOwn = what === "certificate" || what === "private key";
    throw new GuardTrustInvalidError(path, `cannot read the ${what} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, ...(isOwn ? { fix: OWN_FILE_FIX } : {}) });
  }
}

/** A key readable by group or others is refused, as everywhere in Moat. */
async function readKey(path: string): Promise<string> {
  const keyPem = await readText(path, "private key");
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) throw new KeyFileInsecureError(path, mode);
  return keyPem;
}

/** The key must be the certificate's: a renewal replaces both files, and a reload between the two writes must not go live. */
function checkKeyMatches(paths: GuardFilePaths, certPem: string, keyPem: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new GuardTrustInvalidError(paths.cert, "it holds no PEM certificate", { fix: OWN_FILE_FIX });
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    throw new GuardTrustInvalidError(paths.key, "it is not a PEM private key", { fix: OWN_FILE_FIX });
  }
  if (!matches) throw new GuardTrustInvalidError(paths.key, `it is not the key of ${paths.cert} (a renewal may be half-written; the next change reloads)`, { fix: OWN_FILE_FIX });
}

/**
 * Reads and checks all four files. Throws GuardTrustInvalidError (or KeyFileInsecureError) naming the
 * file: then the caller keeps what it had.
 */
export async function loadGuardMaterial(paths: GuardFilePaths): Promise<GuardMaterial> {
  const read = await Promise.allSettled([
    readText(paths.cert, "certificate"),
    readKey(paths.key),
    readText(paths.caBundle, "CA bundle"),
    paths.crl === undefined ? undefined : readText(paths.crl, "CRL bundle"),
  ]);
  // The first problem in the files' order, not whichever read failed first: the same files give the same error.
  const failed = read.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  const [certPem, keyPem, bundlePem, crlPem] = read.map((result) => (result as PromiseFulfilledResult<string | undefined>).value) as [string, string, string, string | undefined];
  checkKeyMatches(paths, certPem, keyPem);
  const trust = createGuardTrust({ bundlePem, crlPem, source: { bundle: paths.caBundle, ...(paths.crl ? { crl: paths.crl } : {}) } });
  const version = createHash("sha256").update(certPem).update("\0").update(keyPem).update("\0").update(trust.version).digest("hex");
  return Object.freeze({ trust, certPem, keyPem, version });
}

/**
 * Calls `onChange` when any of the files may have changed. It watches their directories, not the
 * files: Moat and most tools replace a file by renaming a new one over it, which a watch on the old
 * inode would never see. Returns a function that stops watching.
 */
export function watchGuardFiles(paths: GuardFilePaths, onChange: () => void): () => void {
  const files = [paths.cert, paths.key, paths.caBundle, paths.crl].filter((path): path is string => path !== undefined);
  // No debounce here: the guard's reload waits for a quiet moment itself.
  const watch = watchFiles({ files, debounceMs: 0, persistent: false, onChange: () => onChange() });
  return () => watch.stop();
}
