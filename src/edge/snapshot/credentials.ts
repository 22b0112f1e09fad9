// Certificate material the edge serves or presents: issued by Moat's store, or imported (and checked) from the files a config names.
import type { ImportedCertificateSource, StoredCertificateSource } from "../../config/index.ts";
import { CertificateImportError, ConfiguredFileError, ImportedCertificateRefusedError } from "../../errors.ts";
import { join } from "node:path";
import { checkImport, describeCertificate, importedSlotDir } from "../../pki/index.ts";
import type { CertificateUse, CheckedImport, ImportSource, IssuedCertificate, IssuedCertificateStore } from "../../pki/index.ts";
import { createSnapshotMemo } from "./snapshot-memo.ts";
import type { SnapshotMemo } from "./snapshot-memo.ts";

/** What a TLS endpoint needs of a certificate, whichever way it came. */
export interface CredentialMaterial extends Pick<IssuedCertificate, "chainPem" | "keyPem" | "serialHex" | "fingerprint256" | "notBefore" | "notAfter"> {
  /** Issued by Moat's CA (renewed by the edge) or imported (renewed by its owner). */
  isIssued: boolean;
}

/** What an imported certificate must be good for. */
export interface ImportCheck {
  use: CertificateUse;
  /** Names its SANs must cover: the distribution's aliases for a viewer certificate. */
  expectedNames?: readonly string[];
  /** Default: the current time. */
  now?: Date;
  /**
   * The certificate this source gave the snapshot being replaced. If that very certificate has
   * expired since, it stays (the expiry warnings log it as an error) rather than refusing the
   * rebuild: a renewal or reload must not stall every other certificate of the edge over it.
   */
  inService?: { fingerprint256: string; notAfter: Date } | null;
}

/**
 * Reads an imported certificate (PEM chain + key, or PKCS#12, with the passphrase from its file) and
 * runs every import check for `check.use`. `path` is the config path, for errors: an unreadable file
 * throws ConfiguredFileError, a failed check ImportedCertificateRefusedError (`<path>: <code>: …`).
 * With a snapshot's `memo`, files are read and a certificate checked once for all the places that
 * import it (the same files, use and time); the names are checked for each place, and each error names its place.
 */
export async function importedCredentials(source: ImportedCertificateSource, path: string, check: ImportCheck, memo: SnapshotMemo = createSnapshotMemo()): Promise<CredentialMaterial> {
  const importSource = await readImportSource(source, path, memo);
  const passphrase = source.passphraseFile === null ? undefined : await readPassphraseFile(`${path}.passphraseFile`, source.passphraseFile, memo);
  const importAt = async (now: Date): Promise<CredentialMaterial> => {
    const key = [check.use, now.getTime(), source.passphraseFile ?? "", ...importedFiles(source)].join("\0");
    const checked = await memo.importOnce(key, () => checkImport({ use: check.use, source: importSource, passphrase, now }).then(toMaterial));
    checked.checkNames(check.expectedNames ?? []);
    return checked.material;
  };
  try {
    return await importAt(check.now ?? new Date());
  } catch (error) {
    if (!(error instanceof CertificateImportError)) throw error;
    const kept = error.code === "import-expired" && check.inService ? await stillInService(importAt, check.inService) : null;
    if (kept) return kept;
    throw new ImportedCertificateRefusedError(path, importedFiles(source), error);
  }
}

/**
 * A certificate imported through the admin API (`{ imported: NAME }`), read from the data directory through the
 * store (which opens its sealed key) and checked as every import is, for `check.use` and its names. None imported
 * under the name throws ConfiguredFileError; a failed check ImportedCertificateRefusedError, as for files.
 */
export async function storedCredentials(
  source: StoredCertificateSource,
  path: string,
  check: ImportCheck,
  from: { store: Pick<IssuedCertificateStore, "importedCertificate">; dataDir: string },
  memo: SnapshotMemo = createSnapshotMemo(),
): Promise<CredentialMaterial> {
  const stored = await from.store.importedCertificate(check.use, source.name);
  const where = storedFiles(from.dataDir, source, check.use)[0] as string;
  if (!stored) {
    throw new ConfiguredFileError(`${path}.imported`, where, `no ${check.use} certificate was imported as "${source.name}"`, { fix: `import it first (POST /certificates with name "${source.name}" and use "${check.use}"), or name one that is (GET /certificates?source=imported)` });
  }
  const importAt = async (now: Date): Promise<CredentialMaterial> => {
    // Keyed by the certificate itself: a re-import under the same name is a new one.
    const key = ["stored", check.use, now.getTime(), source.name, stored.chainPem].join("\0");
    const checked = await memo.importOnce(key, () => checkImport({ use: check.use, source: { kind: "pem", chainPem: stored.chainPem, keyPem: stored.keyPem }, now }).then(toMaterial));
    checked.checkNames(check.expectedNames ?? []);
    return checked.material;
  };
  try {
    return await importAt(check.now ?? new Date());
  } catch (error) {
    if (!(error instanceof CertificateImportError)) throw error;
    const kept = error.code === "import-expired" && check.inService ? await stillInService(importAt, check.inService) : null;
    if (kept) return kept;
    throw new ImportedCertificateRefusedError(path, [where], error);
  }
}

/** The file that names the certificate imported through the API in use (its slot's `active` pointer): a re-import replaces it. */
export function storedFiles(dataDir: string, source: StoredCertificateSource, use: CertificateUse): string[] {
  return [join(importedSlotDir(dataDir, use, source.name), "active")];
}

/** The same certificate as the one in service, checked in full as of its last valid instant; null for any other. */
async function stillInService(importAt: (now: Date) => Promise<CredentialMaterial>, inService: { fingerprint256: string; notAfter: Date }): Promise<CredentialMaterial | null> {
  try {
    const material = await importAt(inService.notAfter);
    return material.fingerprint256 === inService.fingerprint256 ? material : null;
  } catch (error) {
    if (error instanceof CertificateImportError) return null;
    throw error;
  }
}

/** The files that hold an imported certificate and its key: what its owner replaces to renew it. */
export function importedFiles(source: ImportedCertificateSource): string[] {
  return source.format === "pem" ? [source.certFile, source.keyFile] : [source.pkcs12File];
}

/** A checked import as the edge keeps it: one material object shared by every place that imports the certificate. */
function toMaterial(checked: CheckedImport): { material: CredentialMaterial; checkNames: CheckedImport["checkNames"] } {
  const { chainPem, keyPem, serialHex, fingerprint256, notBefore, notAfter } = checked.certificate;
  return { material: Object.freeze({ chainPem, keyPem, serialHex, fingerprint256, notBefore, notAfter, isIssued: false }), checkNames: checked.checkNames };
}

async function readImportSource(source: ImportedCertificateSource, path: string, memo: SnapshotMemo): Promise<ImportSource> {
  if (source.format === "pkcs12") return { kind: "pkcs12", data: await readConfiguredBytes(`${path}.pkcs12`, source.pkcs12File, memo) };
  const [chainPem, keyPem] = await Promise.all([readConfiguredFile(`${path}.cert`, source.certFile, memo), readConfiguredFile(`${path}.key`, source.keyFile, memo)]);
  return { kind: "pem", chainPem, keyPem };
}

/** The passphrase is the file's first line, as with OpenSSL's `-passin file:`; the line ending is not part of it. `path` is the config path, for errors. */
export async function readPassphraseFile(path: string, file: string, memo: SnapshotMemo = createSnapshotMemo()): Promise<string> {
  const [passphrase = ""] = (await readConfiguredFile(path, file, memo)).split(/\r?\n/, 1);
  if (passphrase === "") throw new ConfiguredFileError(path, file, "is empty", { fix: "write the passphrase on the file's first line" });
  return passphrase;
}

/** The file's text (read once per snapshot with `memo`); an unreadable file throws ConfiguredFileError naming `path`. */
export async function readConfiguredFile(path: string, file: string, memo: SnapshotMemo = createSnapshotMemo()): Promise<string> {
  try {
    return await memo.readText(file);
  } catch (error) {
    throw new ConfiguredFileError(path, file, `cannot be read (${(error as { code?: string }).code ?? error})`, { cause: error });
  }
}

async function readConfiguredBytes(path: string, file: string, memo: SnapshotMemo): Promise<Buffer> {
  try {
    return await memo.readFile(file);
  } catch (error) {
    throw new ConfiguredFileError(path, file, `cannot be read (${(error as { code?: string }).code ?? error})`, { cause: error });
  }
}

/** How a client certificate is named in logs and errors: its SPIFFE URI (or subject) and serial. */
export function clientIdentity(material: CredentialMaterial): string {
  // describeCertificate reads Moat's own certificates with Node alone (describe.ts); a build names each distinct one once (origin-entries.ts).
  const facts = describeCertificate(material.chainPem);
  const uri = facts.sans.find((san) => san.startsWith("URI:"));
  return `${uri ? uri.slice(4) : facts.subject} (serial ${material.serialHex})`;
}
