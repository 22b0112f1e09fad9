// A joined edge's data directory: who it joined as (`edge/joined.json`), its CA's public certificates (`ca/bundle.pem`, `ca/intermediate.pem`, `ca/joined-ca.json`) and the CA node's revocations (`ca/revoked.json`, `ca/crl-bundle.pem`), never a CA key.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JoinDataDirError } from "../errors.ts";
import { KEY_ALGORITHMS } from "./key-algorithms.ts";
import { CERT_FILE_MODE, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import type { PublicCaCertificates } from "./csr-authority.ts";
import { CRL_FILES } from "./crl.ts";
import { revocationRegistryPath } from "./revocation.ts";
import type { KeyAlgorithm } from "./types.ts";

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
 * `moat ca revoke` writes on the CA node: a revoked certificate is replaced at the next build) and its CRL bundle
 * (`ca/crl-bundle.pem`: what a trust store of Moat's CA names for viewer mTLS). Public data, 0644 like the certificates.
 */
export async function writeJoinedRevocations(dataDir: string, published: { revocations: readonly { serialHex: string; reason: string; revokedAt: string }[]; crlBundlePem: string | null }): Promise<void> {
  await ensurePrivateDir(dataDir, "ca");
  const registry = published.revocations.map((revocation) => ({ serialHex: revocation.serialHex, reason: revocation.reason, revokedAt: revocation.revokedAt }));
  await writeFileAtomic(revocationRegistryPath(dataDir), `${JSON.stringify(registry, null, 2)}\n`, CERT_FILE_MODE);
  if (published.crlBundlePem !== null) await writeFileAtomic(join(dataDir, "ca", CRL_FILES.bundle), published.crlBundlePem, CERT_FILE_MODE);
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
