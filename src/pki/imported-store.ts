// Certificates from other CAs kept in the data directory (brought through the admin API): checked as every import is, the key sealed under the master key.
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { importCertificate } from "./import/index.ts";
import type { CertificateUse, ImportedCertificate } from "./import/index.ts";
import { CERT_FILE_MODE, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import { openPrivateKey, writeSealedKeyFile } from "./key-vault.ts";
import type { MasterKey } from "./master-key.ts";
import { checkSegment } from "./names.ts";

/** `<dataDir>/certs/imported/<use>/<name>/`: one slot per name, `<serial>/{chain.pem,key.pem}` and an `active` pointer, as issued slots. */
export function importedSlotDir(dataDir: string, use: CertificateUse, name: string): string {
  return join(dataDir, "certs", "imported", use, name);
}

/**
 * Runs every import check (PEM, key type, key matches the leaf, chain order and anchoring, usage,
 * validity at `now`, names) and only then writes: the chain 0644 and the key sealed under the master
 * key, 0600, in a new serial directory; then `active` names it (one rename). A refused import
 * (CertificateImportError) writes nothing. Importing again under the same name replaces the
 * certificate in use; the one it replaced is kept (retired) and older ones deleted.
 *
 * @example
 * const imported = await storeImportedCertificate({ dataDir, masterKey, name: "shop-ev", use: "viewer-server", chainPem, keyPem, expectedNames: ["shop.example"], now: new Date() });
 */
export async function storeImportedCertificate(options: {
  dataDir: string;
  masterKey: MasterKey;
  name: string;
  use: CertificateUse;
  chainPem: string;
  keyPem: string;
  passphrase?: string;
  expectedNames?: readonly string[];
  now: Date;
}): Promise<{ certificate: ImportedCertificate; chainFile: string; replacedSerialHex: string | undefined }> {
  const name = checkSegment("certificate name", options.name);
  const certificate = await importCertificate({
    use: options.use,
    source: { kind: "pem", chainPem: options.chainPem, keyPem: options.keyPem },
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    expectedNames: options.expectedNames ?? [],
    now: options.now,
  });
  const slot = await ensurePrivateDir(options.dataDir, "certs", "imported", options.use, name, certificate.serialHex);
  const dir = importedSlotDir(options.dataDir, options.use, name);
  const replaced = (await readFile(join(dir, "active"), "utf8").catch(() => "")).trim() || undefined;
  await writeSealedKeyFile(join(slot, "key.pem"), certificate.keyPem, options.masterKey);
  await writeFileAtomic(join(slot, "chain.pem"), certificate.chainPem, CERT_FILE_MODE);
  await writeFileAtomic(join(dir, "active"), `${certificate.serialHex}\n`, CERT_FILE_MODE);
  const keep = new Set([certificate.serialHex, replaced]);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !keep.has(entry.name)) await rm(join(dir, entry.name), { recursive: true, force: true });
  }
  return { certificate, chainFile: join(slot, "chain.pem"), replacedSerialHex: replaced === certificate.serialHex ? undefined : replaced };
}

/**
 * The certificate in use under an imported name: its chain and its key, opened with the master key; undefined
 * when nothing was imported under it. MasterKeyWrongError when the key does not open.
 *
 * @example
 * const stored = await readStoredImport({ dataDir, masterKey, use: "viewer-server", name: "shop-ev" });
 */
export async function readStoredImport(options: { dataDir: string; masterKey: MasterKey; use: CertificateUse; name: string }): Promise<{ chainPem: string; keyPem: string } | undefined> {
  const dir = importedSlotDir(options.dataDir, options.use, checkSegment("certificate name", options.name));
  const serial = (await readFile(join(dir, "active"), "utf8").catch(() => "")).trim();
  if (!/^[0-9a-f]{1,40}$/.test(serial)) return undefined;
  const keyFile = join(dir, serial, "key.pem");
  const [chainPem, sealed] = await Promise.all([readFile(join(dir, serial, "chain.pem"), "utf8"), readFile(keyFile, "utf8")]);
  return { chainPem, keyPem: openPrivateKey(sealed, options.masterKey, keyFile).keyPem };
}
