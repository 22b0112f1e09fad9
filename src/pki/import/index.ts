// Certificates users bring from other CAs: import with every check a TLS peer would make (and a message that says what to fix), and expiry warnings.
import { expiryWarning as warningFor } from "./validity.ts";
import type { CheckedImport, ExpiryWarning, ImportedCertificate, ImportRequest } from "./types.ts";

export type { CertificateUse, CheckedImport, ExpiryWarning, ImportedCertificate, ImportRequest, ImportSource } from "./types.ts";

/**
 * Validates a certificate from another CA for a use, and returns it ready to store: the chain
 * (leaf first, then intermediates, root left out) and the key as unencrypted PKCS#8 PEM.
 * Reads PEM (PKCS#8, PKCS#1 RSA, SEC1 EC; encrypted PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED`
 * with the passphrase) and PKCS#12 (modern AES or legacy 3DES/RC2). Checks, in this order: the
 * files parse, the key is RSA ≥ 2048 or ECDSA P-256/384/521, it belongs to the first certificate,
 * each certificate is followed by its issuer, the chain ends at a root (or, with trustedCaPem,
 * at one of those roots), the leaf is not a CA and has EKU serverAuth/clientAuth for the use,
 * every certificate is valid at `now`, and the SANs cover expectedNames.
 * Rejects with CertificateImportError, whose `code` says which check failed; its message names
 * the certificate and the fix, never key material or the passphrase.
 *
 * @example
 * const imported = await importCertificate({
 *   use: "viewer-server",
 *   source: { kind: "pem", chainPem: await readFile("fullchain.pem", "utf8"), keyPem: await readFile("privkey.pem", "utf8") },
 *   expectedNames: ["shop.example.test", "www.shop.example.test"],
 *   now: new Date(),
 * });
 * log.info({ serial: imported.serialHex, fingerprint256: imported.fingerprint256, notAfter: imported.notAfter }, "imported");
 */
// The checks load when a certificate is imported: an edge without imported certificates never needs them.
export async function importCertificate(request: ImportRequest): Promise<ImportedCertificate> {
  return (await import("./import-certificate.ts")).importCertificate(request);
}

/**
 * importCertificate's checks but the names, in the same order: what a snapshot build runs once per
 * certificate, then `checkNames` for each distribution that serves it (a wildcard certificate for
 * thousands of aliases is parsed and checked once). Same errors as importCertificate.
 *
 * @example
 * const checked = await checkImport({ use: "viewer-server", source, now });
 * for (const distribution of distributions) checked.checkNames(distribution.aliases);
 */
export async function checkImport(request: Omit<ImportRequest, "expectedNames">): Promise<CheckedImport> {
  return (await import("./import-certificate.ts")).checkImport(request);
}

/**
 * The tightest expiry warning reached: 30, 7 or 1 days before notAfter (inclusive), with the whole
 * days left (rounded down, negative once expired); null while more than 30 days are left.
 *
 * @example
 * const warning = expiryWarning(imported.notAfter, clock());
 * if (warning) log.warn({ serial: imported.serialHex, ...warning }, `certificate expires in ${warning.daysLeft} days`);
 */
export function expiryWarning(notAfter: Date, now: Date): ExpiryWarning | null {
  return warningFor(notAfter, now);
}

/**
 * The certificates of a PKCS#12 as PEM, leaf (the one its key belongs to) first, then its issuers,
 * without any other check: for listing what a config imports. Opening the file needs its
 * passphrase, which decrypts the key in memory too; it is dropped, never returned.
 * Throws CertificateImportError (`import-passphrase-wrong`, `import-pkcs12-unreadable`, …).
 *
 * @example
 * const { notAfter } = describeCertificate(await pkcs12ChainPem(await readFile("shop.p12"), passphrase));
 */
export async function pkcs12ChainPem(data: Buffer, passphrase: string | undefined): Promise<string> {
  return (await import("./import-certificate.ts")).pkcs12ChainPem(data, passphrase);
}
