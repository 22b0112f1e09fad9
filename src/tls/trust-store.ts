// Loads a trust store (a CA bundle and the CRLs of its CAs) and refuses, naming the entry, anything OpenSSL would later choke on: a non-CA, an expired CA, malformed PEM, a CRL that is stale or signed by none of its CAs.
import { createHash, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { TrustStoreConfig } from "../config/index.ts";
import { CertificateImportError, TrustStoreInvalidError } from "../errors.ts";
import { readPemBlocks } from "../pki/index.ts";
import type { PemBlock } from "../pki/index.ts";
import { x509, type X509 } from "../pki/x509-lib.ts";

/** A trust store ready for a SecureContext (`ca`, `crl`) and for the checks of resumed sessions. */
export interface LoadedTrustStore {
  readonly name: string;
  /** Every CA, PEM: the SecureContext's `ca`, also the certificate_authorities a CertificateRequest names. */
  readonly caPem: string;
  /** One PEM per CRL: the SecureContext's `crl` (Node reads one CRL per entry). */
  readonly crlPems: readonly string[];
  readonly allowNoEku: boolean;
  /** Names the set of CAs (and the EKU rule): a verification remembered under one id holds only for the same set. */
  readonly caSetId: string;
  /** Subjects of the CAs, for logs. */
  readonly caSubjects: readonly string[];
  /** The CAs, parsed: what a refusal's diagnosis walks a chain up to. */
  readonly cas: readonly X509Certificate[];
  /** Whether a CRL of this store lists the certificate (by its issuer and serial). */
  isRevoked(cert: X509Certificate | Buffer): boolean;
}

interface LoadedCa {
  position: number;
  node: X509Certificate;
  peculiar: X509.X509Certificate;
}

/**
 * @example
 * const store = await loadTrustStore(config.trustStores[0], new Date());
 * tls.createSecureContext({ cert, key, ca: store.caPem, crl: [...store.crlPems] });
 */
export async function loadTrustStore(config: TrustStoreConfig, now: Date): Promise<LoadedTrustStore> {
  const path = `trustStores.${config.name}`;
  const cas = await loadCas(`${path}.caBundle`, config.caBundleFile, now);
  const revoked = new Map<string, Set<string>>();
  const crlPems: string[] = [];
  const covered = new Set<LoadedCa>();
  for (const [index, file] of config.crlFiles.entries()) {
    const where = config.crlFiles.length === 1 ? `${path}.crl` : `${path}.crl[${index}]`;
    for (const crl of await loadCrls(where, file, cas, now)) {
      covered.add(crl.issuer);
      crlPems.push(crl.pem);
      const serials = revoked.get(crl.issuerKey) ?? new Set<string>();
      for (const entry of crl.crl.entries) serials.add(normaliseSerial(entry.serialNumber));
      revoked.set(crl.issuerKey, serials);
    }
  }
  if (crlPems.length > 0) checkEveryCaHasCrl(`${path}.crl`, config.crlFiles.join(", "), cas, covered);
  const fingerprints = cas.map((ca) => ca.node.fingerprint256).sort();
  const answers = new WeakMap<object, boolean>();
  return Object.freeze({
    name: config.name,
    caPem: cas.map((ca) => ca.node.toString()).join("\n"),
    crlPems: Object.freeze(crlPems),
    allowNoEku: config.allowNoEku,
    caSetId: createHash("sha256").update(`${fingerprints.join(",")};allowNoEku=${config.allowNoEku}`).digest("hex").slice(0, 32),
    caSubjects: Object.freeze(cas.map((ca) => ca.peculiar.subject)),
    cas: Object.freeze(cas.map((ca) => ca.node)),
    isRevoked(cert: X509Certificate | Buffer): boolean {
      if (revoked.size === 0) return false;
      // A store's CRLs never change (a new CRL makes a new store), so each answer holds for its life;
      // a connection's certificate is asked about at every request.
      const known = answers.get(cert);
      if (known !== undefined) return known;
      const parsed = new x509.X509Certificate(Buffer.isBuffer(cert) ? cert : cert.raw);
      const answer = revoked.get(nameKey(parsed.issuerName))?.has(normaliseSerial(parsed.serialNumber)) ?? false;
      answers.set(cert, answer);
      return answer;
    },
  });
}

async function readConfigured(path: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new TrustStoreInvalidError(path, file, `cannot be read (${(error as { code?: string }).code ?? String(error)})`, {
      fix: "check the path (relative paths start at the config file's directory) and the file's permissions",
    });
  }
}

function pemBlocksOf(path: string, file: string, text: string): PemBlock[] {
  try {
    return readPemBlocks(text, "the file");
  } catch (error) {
    if (!(error instanceof CertificateImportError)) throw error;
    throw new TrustStoreInvalidError(path, file, error.message.replace(/ Fix: .*$/s, "").replace(/\.$/, ""), { fix: error.fix });
  }
}

async function loadCas(path: string, file: string, now: Date): Promise<LoadedCa[]> {
  const blocks = pemBlocksOf(path, file, (await readConfigured(path, file)).toString("utf8"));
  if (blocks.length === 0) {
    throw new TrustStoreInvalidError(path, file, "holds no PEM certificate", { fix: "give the CA certificates as PEM (-----BEGIN CERTIFICATE-----), root and intermediates" });
  }
  return blocks.map((block) => {
    const entry = `PEM block ${block.position}`;
    if (block.label !== "CERTIFICATE") {
      throw new TrustStoreInvalidError(path, file, `${entry} is a ${block.label}, not a CERTIFICATE`, { fix: "a CA bundle holds CA certificates only: remove that block" });
    }
    const ca = parseCa(block.der, block.position);
    if (!ca) throw new TrustStoreInvalidError(path, file, `${entry} is not a valid X.509 certificate`, { fix: "give the CA certificate exactly as the CA published it" });
    checkCa(path, file, ca, now);
    return ca;
  });
}

function parseCa(der: Buffer, position: number): LoadedCa | undefined {
  try {
    return { position, node: new X509Certificate(der), peculiar: new x509.X509Certificate(der) };
  } catch {
    return undefined;
  }
}

function checkCa(path: string, file: string, ca: LoadedCa, now: Date): void {
  const entry = `PEM block ${ca.position} (${ca.peculiar.subject || `serial ${ca.node.serialNumber.toLowerCase()}`})`;
  if (!ca.node.ca) {
    throw new TrustStoreInvalidError(path, file, `${entry} is not a CA certificate (its basic constraints do not say CA:TRUE)`, {
      fix: "a trust store holds the CAs that issue viewer certificates, not viewer certificates themselves",
    });
  }
  if (ca.node.validToDate.getTime() <= now.getTime()) {
    throw new TrustStoreInvalidError(path, file, `${entry} expired at ${ca.node.validToDate.toISOString()}`, { fix: "replace it with the CA's current certificate" });
  }
  if (ca.node.validFromDate.getTime() > now.getTime()) {
    throw new TrustStoreInvalidError(path, file, `${entry} is not valid before ${ca.node.validFromDate.toISOString()}`, { fix: "check this host's clock, or add the CA once it is valid" });
  }
}

interface LoadedCrl {
  crl: X509.X509Crl;
  pem: string;
  issuer: LoadedCa;
  issuerKey: string;
}

async function loadCrls(path: string, file: string, cas: readonly LoadedCa[], now: Date): Promise<LoadedCrl[]> {
  const bytes = await readConfigured(path, file);
  const text = bytes.toString("latin1");
  // A CRL file is PEM (`-----BEGIN X509 CRL-----`, one or more) or a single DER CRL.
  const ders = text.includes("-----BEGIN") ? crlBlocks(path, file, text) : [{ der: bytes, entry: "the DER CRL" }];
  const loaded: LoadedCrl[] = [];
  for (const { der, entry } of ders) loaded.push(await checkCrl(path, file, entry, der, cas, now));
  return loaded;
}

function crlBlocks(path: string, file: string, text: string): { der: Buffer; entry: string }[] {
  return pemBlocksOf(path, file, text).map((block) => {
    if (block.label !== "X509 CRL") {
      throw new TrustStoreInvalidError(path, file, `PEM block ${block.position} is a ${block.label}, not an X509 CRL`, { fix: "a CRL file holds CRLs only (-----BEGIN X509 CRL-----)" });
    }
    return { der: block.der, entry: `CRL ${block.position}` };
  });
}

async function checkCrl(path: string, file: string, entry: string, der: Buffer, cas: readonly LoadedCa[], now: Date): Promise<LoadedCrl> {
  let crl: X509.X509Crl;
  try {
    crl = new x509.X509Crl(der);
  } catch {
    throw new TrustStoreInvalidError(path, file, `${entry} is not a valid X.509 CRL`, { fix: "give the CRL exactly as the CA published it, PEM or DER" });
  }
  const issuerKey = nameKey(crl.issuerName);
  const issuer = await findSigner(crl, issuerKey, cas);
  if (!issuer) {
    throw new TrustStoreInvalidError(path, file, `${entry} (issuer ${crl.issuer}) is not signed by any CA of caBundle`, { fix: "give the CRLs of the CAs in caBundle, or add the CA that signs this CRL" });
  }
  if (crl.nextUpdate && crl.nextUpdate.getTime() <= now.getTime()) {
    throw new TrustStoreInvalidError(path, file, `${entry} (issuer ${crl.issuer}) is stale: its nextUpdate was ${crl.nextUpdate.toISOString()}`, {
      fix: "fetch the CA's current CRL; OpenSSL refuses every certificate checked against a stale CRL",
    });
  }
  if (crl.thisUpdate.getTime() > now.getTime()) {
    throw new TrustStoreInvalidError(path, file, `${entry} (issuer ${crl.issuer}) is not valid before ${crl.thisUpdate.toISOString()}`, { fix: "check this host's clock" });
  }
  return { crl, pem: `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`, issuer, issuerKey };
}

async function findSigner(crl: X509.X509Crl, issuerKey: string, cas: readonly LoadedCa[]): Promise<LoadedCa | undefined> {
  for (const ca of cas) {
    if (nameKey(ca.peculiar.subjectName) !== issuerKey) continue;
    if (await crl.verify({ publicKey: ca.peculiar.publicKey })) return ca;
  }
  return undefined;
}

// With any CRL configured, Node turns on OpenSSL's CRL_CHECK_ALL: every certificate of a chain,
// the CAs' own included, needs a CRL from its issuer, or every handshake fails (UNABLE_TO_GET_CRL).
function checkEveryCaHasCrl(path: string, files: string, cas: readonly LoadedCa[], covered: ReadonlySet<LoadedCa>): void {
  const missing = cas.find((ca) => !covered.has(ca));
  if (!missing) return;
  throw new TrustStoreInvalidError(path, files, `no CRL signed by CA ${missing.peculiar.subject} (caBundle PEM block ${missing.position})`, {
    fix: "with CRLs, OpenSSL checks revocation at every level of the chain, so give the current CRL of every CA in caBundle (a root's CRL may be empty)",
  });
}

function nameKey(name: X509.Name): string {
  return Buffer.from(name.toArrayBuffer()).toString("hex");
}

/** Lower-case hex without leading zero bytes: how serials compare across Node, @peculiar/x509 and CRLs. */
export function normaliseSerial(hex: string): string {
  return hex.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, "");
}
