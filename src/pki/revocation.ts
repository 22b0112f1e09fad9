// The revocation registry, <dataDir>/ca/revoked.json: which serials Moat revoked, why and when. Revocation is final: nothing is ever removed.
import { X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { RevocationInvalidError, RevocationRegistryCorruptError } from "../errors.ts";
import { REVOCATION_REASON_CODES } from "./crl-sign.ts";
import { splitPemCertificates } from "./describe.ts";
import { CERT_FILE_MODE, writeFileAtomic } from "./key-files.ts";
import { withRevocationLock } from "./revocation-lock.ts";
import type { CertificateAuthority, Clock, Revocation, RevocationReason } from "./types.ts";

/** Every reason `moat ca revoke --reason` accepts, in RFC 5280 §5.3.1 order. */
export const REVOCATION_REASONS = Object.keys(REVOCATION_REASON_CODES) as RevocationReason[];

/** RFC 5280 §4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets." */
const MAX_SERIAL_OCTETS = 20;

export function revocationRegistryPath(dataDir: string): string {
  return join(dataDir, "ca", "revoked.json");
}

/**
 * The one spelling of a serial: lower-case hex, no colons, no leading zero bytes (as Node's
 * `X509Certificate.serialNumber`, lower-cased). Accepts `0A:1B:…` and upper case as OpenSSL and
 * browsers print serials. Throws RevocationInvalidError for anything that is not a positive
 * serial of at most 20 octets.
 *
 * @example
 * parseSerialHex("4A:0B:FF"); // "4a0bff"
 */
export function parseSerialHex(input: string): string {
  const hex = input.trim().replaceAll(":", "").toLowerCase();
  const fix = "give the serial in hex as `moat` or `openssl x509 -noout -serial` prints it, e.g. 4a0bff… or 4A:0B:FF:…";
  if (!/^[0-9a-f]+$/.test(hex)) throw new RevocationInvalidError(`"${input}" is not a certificate serial number (hex digits, optionally colon-separated).`, { fix });
  const digits = hex.replace(/^0+/, "");
  if (digits === "") throw new RevocationInvalidError(`"${input}" is not a certificate serial number: serials are positive (RFC 5280 §4.1.2.2).`, { fix });
  const even = digits.length % 2 === 1 ? `0${digits}` : digits;
  // DER adds a 0x00 octet in front of a value whose top bit is set; the 20-octet limit counts it.
  const octets = even.length / 2 + (Number.parseInt(even.slice(0, 2), 16) >= 0x80 ? 1 : 0);
  if (octets > MAX_SERIAL_OCTETS) {
    throw new RevocationInvalidError(`"${input}" is ${octets} octets long; certificate serials are at most ${MAX_SERIAL_OCTETS} (RFC 5280 §4.1.2.2).`, { fix });
  }
  return even;
}

/**
 * An RFC 5280 §5.3.1 reason name, matched without regard to case, "-" or "_" (`key-compromise` works).
 * Throws RevocationInvalidError listing the reasons.
 *
 * @example
 * parseRevocationReason("key-compromise"); // "keyCompromise"
 */
export function parseRevocationReason(input: string): RevocationReason {
  const wanted = input.replace(/[-_]/g, "").toLowerCase();
  const reason = REVOCATION_REASONS.find((name) => name.toLowerCase() === wanted);
  if (reason) return reason;
  const isHold = wanted === "certificatehold" || wanted === "removefromcrl";
  throw new RevocationInvalidError(
    isHold
      ? `"${input}" is not offered: a revocation in Moat is final, so there is no hold to lift.`
      : `"${input}" is not a revocation reason.`,
    { fix: `use one of ${REVOCATION_REASONS.join(", ")} (RFC 5280 §5.3.1)` },
  );
}

function parseEntry(value: unknown): Revocation | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { serialHex, reason, revokedAt } = value as Record<string, unknown>;
  if (typeof serialHex !== "string" || typeof reason !== "string" || typeof revokedAt !== "string") return undefined;
  if (!REVOCATION_REASONS.includes(reason as RevocationReason)) return undefined;
  const date = new Date(revokedAt);
  if (Number.isNaN(date.getTime())) return undefined;
  try {
    if (parseSerialHex(serialHex) !== serialHex) return undefined;
  } catch {
    return undefined;
  }
  return { serialHex, reason: reason as RevocationReason, revokedAt: date };
}

/**
 * Every revocation recorded in `<dataDir>/ca/revoked.json`, oldest first; none if the file does
 * not exist. A file that does not parse throws RevocationRegistryCorruptError rather than
 * reading as empty: an unreadable list must never un-revoke anything.
 *
 * @example
 * const revoked = await readRevocations("/var/lib/moat");
 * const isRevoked = revoked.some((r) => r.serialHex === issued.serialHex);
 */
export async function readRevocations(dataDir: string): Promise<Revocation[]> {
  const path = revocationRegistryPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw new RevocationRegistryCorruptError(path, "it is not JSON", { cause });
  }
  if (!Array.isArray(document)) throw new RevocationRegistryCorruptError(path, "it is not a JSON array");
  return document.map((value, index) => {
    const entry = parseEntry(value);
    if (!entry) throw new RevocationRegistryCorruptError(path, `entry ${index} is not { serialHex, reason, revokedAt }`);
    return entry;
  });
}

/** Each revoked serial and when it was revoked, from `<dataDir>/ca/revoked.json` (none if there is no such file): what an audit checkpoint's signer is checked against. */
export async function readRevocationTimes(dataDir: string): Promise<Map<string, Date>> {
  return new Map((await readRevocations(dataDir)).map((revocation) => [revocation.serialHex, revocation.revokedAt]));
}

/** The file holds ISO dates; written 0644 like every certificate file (there is nothing secret in it). */
async function writeRevocations(dataDir: string, revocations: readonly Revocation[]): Promise<void> {
  const document = revocations.map((r) => ({ serialHex: r.serialHex, reason: r.reason, revokedAt: r.revokedAt.toISOString() }));
  await writeFileAtomic(revocationRegistryPath(dataDir), `${JSON.stringify(document, null, 2)}\n`, CERT_FILE_MODE);
}

/**
 * The `chain.pem` files under `<dataDir>/certs/` whose certificate has this serial: where the
 * certificate store keeps what it issued (`certs/server/<name>/<serial>/`, `certs/origin-client/<d>/<o>/<serial>/`),
 * and `<dataDir>/audit/signer.pem`, the audit checkpoint signer's.
 */
export async function findStoredCertificates(dataDir: string, serialHex: string): Promise<string[]> {
  const certsDir = join(dataDir, "certs");
  const names = await readdir(certsDir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const found: string[] = [];
  // The audit checkpoint signer's certificate (audit-signer.ts's AUDIT_DIR/AUDIT_SIGNER_CERT_FILE, spelled here as that module imports this one): revoked by its serial as any other.
  const paths = [...names.filter((n) => basename(n) === "chain.pem").sort().map((name) => join(certsDir, name)), join(dataDir, "audit", "signer.pem")];
  for (const path of paths) {
    const leafPem = splitPemCertificates(await readFile(path, "utf8").catch(() => ""))[0];
    if (!leafPem) continue;
    try {
      if (new X509Certificate(leafPem).serialNumber.toLowerCase() === serialHex) found.push(path);
    } catch {
      // not a certificate: nothing to match
    }
  }
  return found;
}

/** The CA's own certificates cannot be revoked by a CRL their intermediate signs: verifiers would ignore the entry. */
function refuseCaSerial(ca: Pick<CertificateAuthority, "rootPem" | "intermediatePem">, serialHex: string): void {
  for (const [what, pem] of [["root", ca.rootPem], ["intermediate", ca.intermediatePem]] as const) {
    if (new X509Certificate(pem).serialNumber.toLowerCase() !== serialHex) continue;
    throw new RevocationInvalidError(`${serialHex} is the serial of the CA's own ${what} certificate; a CRL signed by the intermediate cannot revoke it.`, {
      fix: "if the CA's key is compromised, create a new CA (move the data directory's ca/ away, run `moat ca init`) and redistribute its bundle",
    });
  }
}

export interface RevokeResult {
  /** The registry's entry: the new one, or the earlier one if the serial was already revoked. */
  revocation: Revocation;
  /** True when the serial was already in the registry; nothing was changed (not even the reason). */
  wasAlreadyRevoked: boolean;
  /** The `chain.pem` files under `<dataDir>/certs/` holding this serial; empty when Moat no longer has the certificate. */
  storedAt: string[];
}

/**
 * Records a revocation in `<dataDir>/ca/revoked.json` (atomically, under the revocation lock).
 * Idempotent: revoking a serial again changes nothing and reports the first revocation. A serial
 * Moat has no certificate for is still revoked (the certificate may have been deleted since);
 * `storedAt` is then empty so the caller can warn. Publish a CRL afterwards (`publishCrl`) for
 * origins to learn of it. Throws RevocationInvalidError for a bad serial or reason, or the serial
 * of the CA's own root or intermediate (when `ca` is given).
 *
 * @example
 * const { revocation, wasAlreadyRevoked } = await revokeCertificate({ dataDir, serialHex: "4a0b…", reason: "keyCompromise", ca });
 * await publishCrl({ ca, dataDir });
 */
export async function revokeCertificate(options: {
  dataDir: string;
  serialHex: string;
  reason: RevocationReason | string;
  clock?: Clock;
  /** When given, the serials of its root and intermediate are refused. */
  ca?: Pick<CertificateAuthority, "rootPem" | "intermediatePem">;
}): Promise<RevokeResult> {
  const serialHex = parseSerialHex(options.serialHex);
  const reason = parseRevocationReason(options.reason);
  if (options.ca) refuseCaSerial(options.ca, serialHex);
  const clock = options.clock ?? (() => new Date());
  const { revocation, wasAlreadyRevoked } = await withRevocationLock(options.dataDir, async () => {
    const revocations = await readRevocations(options.dataDir);
    const earlier = revocations.find((r) => r.serialHex === serialHex);
    if (earlier) return { revocation: earlier, wasAlreadyRevoked: true };
    // X.509 times have one-second precision: record what the CRL will say.
    const revokedAt = new Date(Math.floor(clock().getTime() / 1000) * 1000);
    const added: Revocation = { serialHex, reason, revokedAt };
    await writeRevocations(options.dataDir, [...revocations, added]);
    return { revocation: added, wasAlreadyRevoked: false };
  });
  return { revocation, wasAlreadyRevoked, storedAt: await findStoredCertificates(options.dataDir, serialHex) };
}
