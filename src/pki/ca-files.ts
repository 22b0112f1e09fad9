// The CA on disk, <dataDir>/ca/{root.pem,root.key,intermediate.pem,intermediate.key,bundle.pem,publication.json}: create it once, open and check it; keys encrypted under the master key.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { CaAlreadyExistsError, CaCorruptError, CaNotFoundError, PrivateKeyUnreadableError } from "../errors.ts";
import { createCertificateAuthority, generateCa, type CaMaterial, type GeneratedCa } from "./ca.ts";
import { bundleRoots, readCaGenerations, readOptional } from "./ca-layout.ts";
import { recoverCaTransaction } from "./ca-transaction.ts";
import { splitPemCertificates } from "./describe.ts";
import { importSigningKey } from "./key-algorithms.ts";
import { CERT_FILE_MODE, checkKeyFileMode, fsyncDir, KEY_FILE_MODE, PRIVATE_DIR_MODE, writeNewFile } from "./key-files.ts";
import { openPrivateKey, sealPrivateKey, writeSealedKeyFile } from "./key-vault.ts";
import { parseCrlBaseUrl, PUBLICATION_FILE, readCaPublication, serializePublication } from "./publication.ts";
import type { MasterKey } from "./master-key.ts";
import type { CertificateAuthority, Clock, KeyAlgorithm } from "./types.ts";

const FILES = {
  rootCert: "root.pem",
  rootKey: "root.key",
  intermediateCert: "intermediate.pem",
  intermediateKey: "intermediate.key",
  bundle: "bundle.pem",
} as const;

type CaFile = keyof typeof FILES;
type CaFileContents = Record<CaFile, string>;

export function caDirectory(dataDir: string): string {
  return join(dataDir, "ca");
}

/** True if `<dataDir>/ca` exists and holds anything at all: init never writes over something it did not make. */
async function isCaDirInUse(caDir: string): Promise<boolean> {
  try {
    return (await readdir(caDir)).length > 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

async function writeCaFiles(dir: string, generated: GeneratedCa, masterKey: MasterKey): Promise<void> {
  const { material } = generated;
  await writeNewFile(join(dir, FILES.rootKey), sealPrivateKey(generated.rootKeyPem, masterKey), KEY_FILE_MODE);
  await writeNewFile(join(dir, FILES.intermediateKey), sealPrivateKey(generated.intermediateKeyPem, masterKey), KEY_FILE_MODE);
  await writeNewFile(join(dir, FILES.rootCert), material.rootPem, CERT_FILE_MODE);
  await writeNewFile(join(dir, FILES.intermediateCert), material.intermediatePem, CERT_FILE_MODE);
  await writeNewFile(join(dir, FILES.bundle), material.bundlePem, CERT_FILE_MODE);
  if (material.crlBaseUrl !== null) await writeNewFile(join(dir, PUBLICATION_FILE), serializePublication({ crlBaseUrl: material.crlBaseUrl }), CERT_FILE_MODE);
  await fsyncDir(dir);
}

/**
 * Writes the five files into a private staging directory, then renames it to
 * `ca`: the CA appears whole or not at all, and rename(2) refuses to replace a
 * non-empty directory, so two concurrent inits cannot both win.
 */
async function publishCa(dataDir: string, generated: GeneratedCa, masterKey: MasterKey): Promise<void> {
  const caDir = caDirectory(dataDir);
  const staging = await mkdtemp(join(dataDir, ".ca-staging-")); // mkdtemp creates it 0700
  try {
    await writeCaFiles(staging, generated, masterKey);
    await rename(staging, caDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") throw new CaAlreadyExistsError(caDir);
    throw error;
  }
  await fsyncDir(dataDir);
}

export async function initCaFiles(options: {
  dataDir: string;
  keyAlgorithm: KeyAlgorithm;
  name: string;
  clock: Clock;
  masterKey: MasterKey;
  /** Checked (CrlBaseUrlInvalidError) before anything is generated or written. */
  crlBaseUrl?: string | null;
}): Promise<CertificateAuthority> {
  const crlBaseUrl = options.crlBaseUrl == null ? null : parseCrlBaseUrl(options.crlBaseUrl);
  const caDir = caDirectory(options.dataDir);
  await mkdir(options.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (await isCaDirInUse(caDir)) throw new CaAlreadyExistsError(caDir);
  const generated = await generateCa({ keyAlgorithm: options.keyAlgorithm, name: options.name, now: options.clock(), crlBaseUrl });
  await publishCa(options.dataDir, generated, options.masterKey);
  await checkKeyFileMode(join(caDir, FILES.rootKey));
  await checkKeyFileMode(join(caDir, FILES.intermediateKey));
  return createCertificateAuthority(generated.material, options.clock);
}

/** Reads all five files; none at all is "not found", some missing is "corrupt". */
async function readCaFiles(caDir: string): Promise<CaFileContents> {
  const names = Object.keys(FILES) as CaFile[];
  const contents = await Promise.all(names.map((name) => readOptional(join(caDir, FILES[name]))));
  const missing = names.filter((_, i) => contents[i] === undefined).map((name) => FILES[name]);
  if (missing.length === names.length) throw new CaNotFoundError(caDir);
  if (missing.length > 0) throw new CaCorruptError(caDir, `missing ${missing.join(", ")}`);
  return Object.fromEntries(names.map((name, i) => [name, contents[i]])) as CaFileContents;
}

function parseCaCert(caDir: string, file: string, pem: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new CaCorruptError(caDir, `${file} is not a PEM certificate`, { cause });
  }
  if (!cert.ca) throw new CaCorruptError(caDir, `${file} is not a CA certificate (basicConstraints CA:false)`);
  return cert;
}

// Key parse errors are reported without their cause: nothing derived from a key file goes into an error.
function checkKeyMatches(caDir: string, file: string, cert: X509Certificate, certFile: string, pem: string): void {
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pem));
  } catch {
    throw new CaCorruptError(caDir, `${file} is not a PEM private key`);
  }
  if (!matches) throw new CaCorruptError(caDir, `${file} does not match ${certFile}`);
}

function bundleFingerprints(caDir: string, pem: string): string[] {
  try {
    return splitPemCertificates(pem).map((cert) => new X509Certificate(cert).fingerprint256);
  } catch (cause) {
    throw new CaCorruptError(caDir, `${FILES.bundle} is not a PEM certificate bundle`, { cause });
  }
}

/** Parses and cross-checks the files: keys match certificates, the intermediate chains to the root, the bundle holds the root. */
function parseCaFiles(caDir: string, files: CaFileContents): CaMaterial {
  const root = parseCaCert(caDir, FILES.rootCert, files.rootCert);
  const intermediate = parseCaCert(caDir, FILES.intermediateCert, files.intermediateCert);
  checkKeyMatches(caDir, FILES.rootKey, root, FILES.rootCert, files.rootKey);
  checkKeyMatches(caDir, FILES.intermediateKey, intermediate, FILES.intermediateCert, files.intermediateKey);
  if (!intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
    throw new CaCorruptError(caDir, `${FILES.intermediateCert} is not signed by ${FILES.rootCert}`);
  }
  if (!bundleFingerprints(caDir, files.bundle).includes(root.fingerprint256)) {
    throw new CaCorruptError(caDir, `${FILES.bundle} does not contain ${FILES.rootCert}`);
  }
  const signing = importSigningKey(files.intermediateKey);
  if (!signing) throw new CaCorruptError(caDir, `${FILES.intermediateKey} is not an ECDSA P-256/P-384 or RSA 2048/3072 key`);
  return {
    rootPem: files.rootCert,
    intermediatePem: files.intermediateCert,
    bundlePem: files.bundle,
    intermediateKey: signing.key,
    keyAlgorithm: signing.algorithm,
    previousIntermediatePems: [],
    crlBaseUrl: null,
  };
}

/**
 * Earlier intermediates that are still valid and chain to a root of the bundle: leaves they issued
 * may still be in use. One whose root left the bundle is no longer trusted by anyone, so it is not listed.
 */
export async function previousIntermediates(dataDir: string, bundlePem: string, now: Date): Promise<string[]> {
  const roots = bundleRoots(bundlePem);
  const { retiredIntermediates } = await readCaGenerations(dataDir);
  return retiredIntermediates
    .filter(({ cert }) => cert.validToDate.getTime() > now.getTime() && roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey)))
    .map(({ pem }) => pem);
}

/** Decrypts a CA key file's contents; a file that holds no key at all makes the CA corrupt. */
function openCaKey(caDir: string, file: string, text: string, masterKey: MasterKey): { keyPem: string; wasPlaintext: boolean } {
  try {
    return openPrivateKey(text, masterKey, join(caDir, file));
  } catch (error) {
    if (error instanceof PrivateKeyUnreadableError) throw new CaCorruptError(caDir, `${file} is not a PEM private key`);
    throw error;
  }
}

/**
 * Opens and checks the CA. Both keys are decrypted and every check passes before anything is
 * written: a wrong master key (MasterKeyWrongError) or a broken CA leaves the files as they
 * were. Then a key still in plaintext (a CA made before keys were encrypted) is sealed in
 * place, atomically; the result lists those files so the caller can say so.
 */
export async function openCaFiles(options: {
  dataDir: string;
  clock: Clock;
  masterKey: MasterKey;
}): Promise<{ ca: CertificateAuthority; encryptedKeyFiles: string[] }> {
  const caDir = caDirectory(options.dataDir);
  // A rotation that a crash interrupted is finished first (see ca-transaction.ts).
  await recoverCaTransaction(caDir);
  try {
    return await openCaFilesOnce(caDir, options);
  } catch (error) {
    // A rotation by another process may have been half-applied while we read: finish it and read again.
    if (!(error instanceof CaCorruptError) || !(await recoverCaTransaction(caDir))) throw error;
    return openCaFilesOnce(caDir, options);
  }
}

async function openCaFilesOnce(caDir: string, options: { dataDir: string; clock: Clock; masterKey: MasterKey }): Promise<{ ca: CertificateAuthority; encryptedKeyFiles: string[] }> {
  const files = await readCaFiles(caDir);
  await checkKeyFileMode(join(caDir, FILES.rootKey));
  await checkKeyFileMode(join(caDir, FILES.intermediateKey));
  const root = openCaKey(caDir, FILES.rootKey, files.rootKey, options.masterKey);
  const intermediate = openCaKey(caDir, FILES.intermediateKey, files.intermediateKey, options.masterKey);
  const parsed = parseCaFiles(caDir, { ...files, rootKey: root.keyPem, intermediateKey: intermediate.keyPem });
  const material = {
    ...parsed,
    previousIntermediatePems: await previousIntermediates(options.dataDir, parsed.bundlePem, options.clock()),
    crlBaseUrl: (await readCaPublication(options.dataDir)).crlBaseUrl,
  };
  const encryptedKeyFiles: string[] = [];
  for (const [file, key] of [[FILES.rootKey, root], [FILES.intermediateKey, intermediate]] as const) {
    if (!key.wasPlaintext) continue;
    await writeSealedKeyFile(join(caDir, file), key.keyPem, options.masterKey);
    encryptedKeyFiles.push(join(caDir, file));
  }
  return { ca: createCertificateAuthority(material, options.clock), encryptedKeyFiles };
}

/**
 * `<dataDir>/ca/bundle.pem` as it is on disk, checked to hold certificates: what origins and
 * viewers trust. Needs no master key. Throws CaNotFoundError or CaCorruptError.
 */
export async function readCaBundleFile(dataDir: string): Promise<string> {
  const caDir = caDirectory(dataDir);
  await recoverCaTransaction(caDir);
  const pem = await readOptional(join(caDir, FILES.bundle));
  if (pem === undefined) {
    if (!(await isCaDirInUse(caDir))) throw new CaNotFoundError(caDir);
    throw new CaCorruptError(caDir, `missing ${FILES.bundle}`);
  }
  if (bundleFingerprints(caDir, pem).length === 0) throw new CaCorruptError(caDir, `${FILES.bundle} holds no certificate`);
  return pem;
}
