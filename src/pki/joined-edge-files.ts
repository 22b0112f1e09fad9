// A joined edge's data directory: who it joined as (`edge/joined.json`), its CA's public certificates (`ca/bundle.pem`, `ca/intermediate.pem`, `ca/joined-ca.json`) and the CA node's revocations (`ca/revoked.json`, its CRLs), never a CA key.
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JoinDataDirError } from "../errors.ts";
import { KEY_ALGORITHMS } from "./key-algorithms.ts";
import { CERT_FILE_MODE, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import type { PublicCaCertificates } from "./csr-authority.ts";
import { CRL_FILES, splitCrlPem } from "./crl.ts";
import { splitPemCertificates } from "./describe.ts";
import { writeIssuerCrls } from "./publication.ts";
import { revocationRegistryPath } from "./revocation.ts";
import type { KeyAlgorithm } from "./types.ts";
import { x509 } from "./x509-lib.ts";

/** What `moat edge join` recorded: a joined edge's start reads it to know it is one. */
export interface JoinedEdgeRecord {
  format: "moat-joined-edge-1";
  name: string;
  region: string | null;
  /** How messages name the store it joined (never a password). */
  store: string;
  joinedAt: string;
  /** The one-way id of the edge's own sealing key: a start with another key is refused. */
  sealingKeyId: string;
}

export const JOINED_EDGE_FILE = join("edge", "joined.json");
const JOINED_CA_FILE = "joined-ca.json";
/** A CA's private keys, by name: a joined edge's data directory must hold none. */
const CA_KEY_FILES = ["root.key", "intermediate.key"];

/** Refuses a directory that holds a CA's keys: a joined edge never does, and joining must not mix the two. */
export function checkNoCaKeys(dataDir: string): void {
  const found = CA_KEY_FILES.filter((file) => existsSync(join(dataDir, "ca", file)));
  if (found.length > 0) {
    throw new JoinDataDirError(dataDir, `holds a CA's private keys (ca/${found.join(", ca/")})`, "a joined edge holds no CA key: give it a data directory of its own (--data-dir), and run the CA where its keys are (`moat start --store ADDRESS --ca`)");
  }
}

/** Writes the CA's public certificates where the edge reads them (bundle.pem is what it trusts; no root.pem: it is no CA). */
export async function writeJoinedCa(dataDir: string, ca: PublicCaCertificates): Promise<void> {
  await ensurePrivateDir(dataDir, "ca");
  await writeFileAtomic(join(dataDir, "ca", "bundle.pem"), ca.bundlePem, CERT_FILE_MODE);
  await writeFileAtomic(join(dataDir, "ca", "intermediate.pem"), ca.intermediatePem, CERT_FILE_MODE);
  const rest = { previousIntermediatePems: ca.previousIntermediatePems, keyAlgorithm: ca.keyAlgorithm, crlBaseUrl: ca.crlBaseUrl };
  await writeFileAtomic(join(dataDir, "ca", JOINED_CA_FILE), `${JSON.stringify(rest, null, 2)}\n`, CERT_FILE_MODE);
}

/**
 * Writes the CA node's revocations where this edge's certificate store reads them (`ca/revoked.json`, the registry
 * `moat ca revoke` writes on the CA node: a revoked certificate is replaced at the next build) and its CRLs as the CA
 * node lays them out, so that this edge's plain-HTTP port serves what the certificates' CRL Distribution Points name
 * when that URL reaches any edge of the fleet: `ca/crl-bundle.pem` (what a trust store of Moat's CA names for viewer
 * mTLS), `ca/crl.der` (the issuing intermediate's) and `ca/crls/<issuer serial>.der`. Each CRL of the bundle is filed
 * under the CA certificate whose key signed it; one that none of `ca`'s certificates signed (the bundle of a CA this
 * edge has not taken yet) is left out until the next call. Public data, 0644 like the certificates.
 */
export async function writeJoinedRevocations(dataDir: string, published: { revocations: readonly { serialHex: string; reason: string; revokedAt: string }[]; crlBundlePem: string | null }, ca: PublicCaCertificates): Promise<void> {
  await ensurePrivateDir(dataDir, "ca");
  const registry = published.revocations.map((revocation) => ({ serialHex: revocation.serialHex, reason: revocation.reason, revokedAt: revocation.revokedAt }));
  await writeFileAtomic(revocationRegistryPath(dataDir), `${JSON.stringify(registry, null, 2)}\n`, CERT_FILE_MODE);
  if (published.crlBundlePem === null) return;
  await writeFileAtomic(join(dataDir, "ca", CRL_FILES.bundle), published.crlBundlePem, CERT_FILE_MODE);
  const issuerCrls = await crlsByIssuer(published.crlBundlePem, ca);
  const intermediateSerial = new X509Certificate(ca.intermediatePem).serialNumber.toLowerCase();
  const intermediateCrl = issuerCrls.find((crl) => crl.issuerSerialHex === intermediateSerial);
  if (intermediateCrl) await writeFileAtomic(join(dataDir, "ca", CRL_FILES.der), intermediateCrl.der, CERT_FILE_MODE);
  await writeIssuerCrls(dataDir, issuerCrls);
}

/** Each CRL of a bundle with the serial of the CA certificate (a root, the intermediate, an earlier one) whose key signed it. */
async function crlsByIssuer(bundlePem: string, ca: PublicCaCertificates): Promise<{ issuerSerialHex: string; der: Uint8Array }[]> {
  const authorities = [...splitPemCertificates(ca.bundlePem), ca.intermediatePem, ...ca.previousIntermediatePems].map((pem) => new x509.X509Certificate(pem));
  const found: { issuerSerialHex: string; der: Uint8Array }[] = [];
  for (const pem of splitCrlPem(bundlePem)) {
    const crl = new x509.X509Crl(pem);
    for (const authority of authorities) {
      // The name alone could match a CA of another generation with the same subject: the signature says which key.
      if (crl.issuer !== authority.subject || !(await crl.verify({ publicKey: authority }))) continue;
      found.push({ issuerSerialHex: new X509Certificate(Buffer.from(authority.rawData)).serialNumber.toLowerCase(), der: new Uint8Array(crl.rawData) });
      break;
    }
  }
  return found;
}

/** Records the join: written last, so a directory with it holds everything a joined edge starts with. */
export async function writeJoinedEdge(dataDir: string, record: Omit<JoinedEdgeRecord, "format">): Promise<void> {
  await ensurePrivateDir(dataDir, "edge");
  await writeFileAtomic(join(dataDir, JOINED_EDGE_FILE), `${JSON.stringify({ format: "moat-joined-edge-1", ...record }, null, 2)}\n`, 0o600);
}

/** The join this data directory records, with its CA's public certificates; undefined when it records none (not a joined edge). */
export async function readJoinedEdge(dataDir: string): Promise<{ edge: JoinedEdgeRecord; ca: PublicCaCertificates } | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, JOINED_EDGE_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const unfit = (problem: string) => new JoinDataDirError(dataDir, problem, "join again (`moat edge join`) into an empty data directory");
  let edge: Partial<JoinedEdgeRecord>;
  try {
    edge = JSON.parse(text) as Partial<JoinedEdgeRecord>;
  } catch {
    throw unfit(`has an ${JOINED_EDGE_FILE} that is not JSON`);
  }
  if (edge.format !== "moat-joined-edge-1" || typeof edge.name !== "string" || typeof edge.sealingKeyId !== "string") throw unfit(`has an ${JOINED_EDGE_FILE} this Moat cannot read`);
  checkNoCaKeys(dataDir);
  try {
    const rest = JSON.parse(await readFile(join(dataDir, "ca", JOINED_CA_FILE), "utf8")) as { previousIntermediatePems: string[]; keyAlgorithm: string; crlBaseUrl: string | null };
    if (!(KEY_ALGORITHMS as readonly string[]).includes(rest.keyAlgorithm)) throw new Error("unknown key algorithm");
    const ca: PublicCaCertificates = {
      bundlePem: await readFile(join(dataDir, "ca", "bundle.pem"), "utf8"),
      intermediatePem: await readFile(join(dataDir, "ca", "intermediate.pem"), "utf8"),
      previousIntermediatePems: rest.previousIntermediatePems,
      keyAlgorithm: rest.keyAlgorithm as KeyAlgorithm,
      crlBaseUrl: rest.crlBaseUrl,
    };
    return { edge: edge as JoinedEdgeRecord, ca };
  } catch (error) {
    if (error instanceof JoinDataDirError) throw error;
    throw unfit(`lacks its CA's public certificates (ca/bundle.pem, ca/intermediate.pem, ca/${JOINED_CA_FILE}): ${(error as Error).message}`);
  }
}
