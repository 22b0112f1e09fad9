// The audit checkpoint signer: its ECDSA P-256 key sealed in the data directory, its certificate from the CA, the local record of its last checkpoint, and the check of a checkpoint's signature and signer.
import { generateKeyPairSync, sign, verify, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AuditSignerUnavailableError } from "../errors.ts";
import { joinPem } from "./issue.ts";
import { CERT_FILE_MODE, checkKeyFileMode, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import { openReplaceableKey, writeSealedKeyFile } from "./key-vault.ts";
import type { MasterKey } from "./master-key.ts";
import { AUDIT_CHECKPOINT_SIGNING_EKU } from "./profiles.ts";
import { readRevocationTimes } from "./revocation.ts";
import type { CertificateAuthority } from "./types.ts";

/** `<dataDir>/audit/`: the signer's key (sealed, 0600), its certificate, and the last checkpoint it signed. */
export const AUDIT_DIR = "audit";
export const AUDIT_SIGNER_KEY_FILE = "signer.key";
export const AUDIT_SIGNER_CERT_FILE = "signer.pem";
export const AUDIT_ANCHOR_FILE = "last-checkpoint.json";

const DAY_MS = 86_400_000;
/** A signer's certificate lives 90 days and is replaced (with a new key) once less than a third of that is left. */
export const AUDIT_SIGNER_VALIDITY_MS = 90 * DAY_MS;
const RENEW_BEFORE_MS = 30 * DAY_MS;

/** What signs checkpoints: the certificate chain the store keeps with each one, and signatures; the key stays in here. */
export interface AuditCheckpointSigningKey {
  /** The signer's certificate, then the intermediate that issued it. */
  readonly certificatePem: string;
  /** `CN=… (serial 4a0b…, sha256 AB:CD…)`: names the signer in reports (the serial is what `moat ca revoke` takes), never its key. */
  readonly signer: string;
  /** Base64 of the DER ECDSA-SHA256 signature of the payload's UTF-8 bytes. */
  sign(payload: string): string;
}

/** The data directory's record of the last checkpoint it signed (the store's AuditCheckpointAnchor). */
export interface AuditCheckpointAnchorFile {
  storeId: string;
  number: number;
  seq: number;
  hash: string;
}

function describeSigner(certificate: X509Certificate): string {
  return `${certificate.subject.replace(/\n/g, ", ")} (serial ${serialOf(certificate)}, sha256 ${certificate.fingerprint256.slice(0, 23)}…)`;
}

/** The serial as revoked.json and `moat ca revoke` spell it: lower-case hex, no colons. */
function serialOf(certificate: X509Certificate): string {
  return certificate.serialNumber.toLowerCase();
}

function hasAuditPurpose(certificate: X509Certificate): boolean {
  const usages = certificate.keyUsage as readonly string[] | undefined;
  return Array.isArray(usages) && usages.length === 1 && usages[0] === AUDIT_CHECKPOINT_SIGNING_EKU;
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}

/** The signer's files, if they hold a sealed key, its certificate from this CA's intermediate, the audit purpose and time left, and it is not revoked. */
async function openStored(dir: string, masterKey: MasterKey, ca: CertificateAuthority, now: Date, revoked: ReadonlyMap<string, Date>): Promise<AuditCheckpointSigningKey | undefined> {
  const keyPath = join(dir, AUDIT_SIGNER_KEY_FILE);
  let keyText: string;
  let chainPem: string;
  try {
    [keyText, chainPem] = await Promise.all([readFile(keyPath, "utf8"), readFile(join(dir, AUDIT_SIGNER_CERT_FILE), "utf8")]);
  } catch {
    return undefined;
  }
  await checkKeyFileMode(keyPath);
  // A plaintext key (never written by Moat) may have been copied: it is replaced, not used.
  const opened = openReplaceableKey(keyText, masterKey, keyPath);
  if (!opened) return undefined;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(chainPem);
  } catch {
    return undefined;
  }
  const intermediate = new X509Certificate(ca.intermediatePem);
  const isCurrent =
    certificate.checkPrivateKey(opened.key) &&
    hasAuditPurpose(certificate) &&
    certificate.checkIssued(intermediate) &&
    certificate.verify(intermediate.publicKey) &&
    certificate.validToDate.getTime() - now.getTime() > RENEW_BEFORE_MS &&
    // Revoked (`moat ca revoke`, its key perhaps compromised): checkpoints signed with it from then on fail verify, so a new key takes over.
    !revoked.has(serialOf(certificate));
  return isCurrent ? signingKey(opened.key, joinPem(certificate.toString(), ca.intermediatePem), certificate) : undefined;
}

function signingKey(key: KeyObject, certificatePem: string, certificate: X509Certificate): AuditCheckpointSigningKey {
  return Object.freeze({
    certificatePem,
    signer: describeSigner(certificate),
    sign: (payload: string) => sign("sha256", Buffer.from(payload, "utf8"), key).toString("base64"),
    // What inspecting or serialising it shows: never the key.
    toJSON: () => ({ signer: describeSigner(certificate) }),
  });
}

/**
 * The data directory's checkpoint signer: the stored one while its certificate is from the CA's current intermediate,
 * has more than 30 days left and is not in the data directory's revocations (`<dataDir>/ca/revoked.json`; `revoked`
 * when the caller has read them), else a new ECDSA P-256 key (sealed under the master key, 0600) and a 90-day
 * certificate the CA signs for it. Throws AuditSignerUnavailableError when the CA cannot sign (a joined edge's),
 * MasterKeyWrongError or KeyFileInsecureError as other keys do.
 */
export async function openAuditSigner(options: { dataDir: string; masterKey: MasterKey; ca: CertificateAuthority; name: string; now?: Date; revoked?: AuditSignerRevocations }): Promise<AuditCheckpointSigningKey> {
  const now = options.now ?? new Date();
  const dir = await ensurePrivateDir(options.dataDir, AUDIT_DIR);
  const stored = await openStored(dir, options.masterKey, options.ca, now, options.revoked ?? (await readRevocationTimes(options.dataDir)));
  if (stored) return stored;
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  let signed;
  try {
    signed = await options.ca.signAuditSignerCertificate({ publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string, name: options.name, validityMs: AUDIT_SIGNER_VALIDITY_MS });
  } catch (error) {
    throw new AuditSignerUnavailableError(options.dataDir, `the CA could not issue its certificate (${(error as Error).message})`, "sign checkpoints on the CA node (`moat start --store ADDRESS --ca`), or with `moat audit checkpoint --data-dir` of the CA's data directory");
  }
  // The key first: a certificate without its key is replaced at the next open, never used.
  await writeSealedKeyFile(join(dir, AUDIT_SIGNER_KEY_FILE), privateKey.export({ type: "pkcs8", format: "pem" }) as string, options.masterKey);
  await writeFileAtomic(join(dir, AUDIT_SIGNER_CERT_FILE), signed.chainPem, CERT_FILE_MODE);
  return signingKey(privateKey, signed.chainPem, new X509Certificate(signed.certPem));
}

/** The last checkpoint this data directory signed, or undefined when it has signed none (or the file is not one of Moat's). */
export async function readAuditAnchor(dataDir: string): Promise<AuditCheckpointAnchorFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, AUDIT_DIR, AUDIT_ANCHOR_FILE), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<AuditCheckpointAnchorFile>;
    if (typeof parsed.storeId === "string" && Number.isInteger(parsed.number) && Number.isInteger(parsed.seq) && typeof parsed.hash === "string") {
      return { storeId: parsed.storeId, number: parsed.number as number, seq: parsed.seq as number, hash: parsed.hash };
    }
  } catch {
    // Not JSON: treated as absent; the next checkpoint writes a new one.
  }
  return undefined;
}

/** Records the checkpoint just signed, unless the file already names a later one of the same store (another process on this directory). */
export async function writeAuditAnchor(dataDir: string, anchor: AuditCheckpointAnchorFile): Promise<void> {
  const current = await readAuditAnchor(dataDir);
  if (current && current.storeId === anchor.storeId && current.number >= anchor.number) return;
  const dir = await ensurePrivateDir(dataDir, AUDIT_DIR);
  await writeFileAtomic(join(dir, AUDIT_ANCHOR_FILE), `${JSON.stringify({ ...anchor, format: "moat-audit-anchor-1" }, null, 2)}\n`, CERT_FILE_MODE);
}

function certificatesOf(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

function validAt(certificate: X509Certificate, at: Date): boolean {
  return certificate.validFromDate.getTime() <= at.getTime() && at.getTime() <= certificate.validToDate.getTime();
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Revoked serials (lower-case hex, as `moat ca revoke` records them) and when each was revoked. */
export type AuditSignerRevocations = ReadonlyMap<string, Date>;

export type AuditCheckpointCheckResult = { ok: true; trusted: boolean; signer: string; reason?: string } | { ok: false; reason: string };

/**
 * Checks a checkpoint against the CA bundle (every root in it: during a rollover, the old and the new): the signature
 * under the signer's certificate, that certificate's purpose (AUDIT_CHECKPOINT_SIGNING_EKU, nothing else; ECDSA P-256,
 * not a CA), and its chain (signer ← intermediate ← a root of the bundle), each valid when the checkpoint was signed.
 * A chain whose intermediate's root is no longer in the bundle is `trusted: false` (see AuditCheckpointCheck).
 * With `revoked` (readRevocationTimes of the CA's data directory): a checkpoint whose signer was revoked at or before
 * its time fails; those signed before the revocation stand.
 */
export function createAuditCheckpointCheck(bundlePem: string, revoked: AuditSignerRevocations = new Map()): (input: { payload: string; signature: string; certificatePem: string; at: string }) => AuditCheckpointCheckResult {
  const roots = certificatesOf(bundlePem).filter((root) => root.ca);
  // One signer signs many checkpoints: its chain is parsed and its signatures checked once, not per checkpoint.
  const chains = new Map<string, { leaf: X509Certificate; intermediate: X509Certificate; issued: boolean; root: X509Certificate | undefined } | { reason: string }>();
  const chainOf = (certificatePem: string) => {
    let known = chains.get(certificatePem);
    if (known) return known;
    try {
      const [leaf, intermediate] = certificatesOf(certificatePem);
      known = !leaf || !intermediate
        ? { reason: "it carries no certificate chain (the signer's certificate and its intermediate)" }
        : { leaf, intermediate, issued: issuedBy(leaf, intermediate), root: roots.find((candidate) => issuedBy(intermediate, candidate)) };
    } catch {
      known = { reason: "its certificate is not PEM" };
    }
    chains.set(certificatePem, known);
    return known;
  };
  return ({ payload, signature, certificatePem, at }) => {
    const chain = chainOf(certificatePem);
    if ("reason" in chain) return { ok: false, reason: chain.reason };
    const { leaf, intermediate, root } = chain;
    const signer = describeSigner(leaf);
    const when = new Date(at);
    if (Number.isNaN(when.getTime())) return { ok: false, reason: `its time ${JSON.stringify(at)} is not a time` };
    if (leaf.ca || !hasAuditPurpose(leaf)) return { ok: false, reason: `${signer} is not an audit checkpoint signer (it lacks the Extended Key Usage ${AUDIT_CHECKPOINT_SIGNING_EKU}, or has others)` };
    if (!isP256(leaf.publicKey)) return { ok: false, reason: `${signer} has no ECDSA P-256 key` };
    let isSigned = false;
    try {
      isSigned = verify("sha256", Buffer.from(payload, "utf8"), leaf.publicKey, Buffer.from(signature, "base64"));
    } catch {
      isSigned = false;
    }
    if (!isSigned) return { ok: false, reason: `its signature does not verify under ${signer}'s key` };
    if (!chain.issued) return { ok: false, reason: `${signer} was not issued by the intermediate it came with` };
    if (!validAt(leaf, when) || !validAt(intermediate, when)) return { ok: false, reason: `${signer} or its intermediate was not valid at ${at}` };
    const revokedAt = revoked.get(serialOf(leaf));
    if (revokedAt && revokedAt.getTime() <= when.getTime()) {
      // Whoever revoked it got a new signer at the next checkpoint: every checkpoint since is signed by that one, so this was made with the revoked key.
      return {
        ok: false,
        reason: `${signer} was revoked at ${revokedAt.toISOString()} (serial ${serialOf(leaf)}), at or before this checkpoint's time ${at}: after a revocation a new signer signs the checkpoints, so this one was made with the revoked key (forged, or by a node that had not seen the revocation); the records after the last valid checkpoint are only hash-chained: find who holds that key, remove this checkpoint and those after it, and sign anew (\`moat audit checkpoint\`)`,
      };
    }
    if (!root) return { ok: true, trusted: false, signer, reason: `${signer}'s intermediate was not issued by a root in the CA bundle` };
    if (!validAt(root, when)) return { ok: false, reason: `the root of ${signer} was not valid at ${at}` };
    return { ok: true, trusted: true, signer };
  };
}
