// Which certificates enrolment issued, <dataDir>/enrol/issued/<serial>.json: only these may be renewed, with the names their token granted.
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../pki/index.ts";
import type { TokenGrant } from "./token-store.ts";

export interface EnrolmentRecord {
  /** The token that started this enrolment; renewals keep it. */
  tokenId: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityMs: number;
  serialHex: string;
  issuedAt: string;
  /** The certificate this one renewed, if any: the audit trail of a host's certificates. */
  renews?: string | undefined;
}

function recordPath(dataDir: string, serialHex: string): string {
  return join(dataDir, "enrol", "issued", `${serialHex}.json`);
}

export async function recordIssued(dataDir: string, grant: TokenGrant, serialHex: string, now: Date, renews?: string): Promise<EnrolmentRecord> {
  const record: EnrolmentRecord = { tokenId: grant.id, dnsNames: grant.dnsNames, ipAddresses: grant.ipAddresses, validityMs: grant.validityMs, serialHex, issuedAt: now.toISOString(), renews };
  await mkdir(join(dataDir, "enrol", "issued"), { recursive: true, mode: 0o700 });
  await writeFileAtomic(recordPath(dataDir, serialHex), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return record;
}

/** The record of a certificate enrolment issued, or undefined (any other certificate: no renewal through enrolment). */
export async function findIssued(dataDir: string, serialHex: string): Promise<EnrolmentRecord | undefined> {
  if (!/^[0-9a-f]{1,40}$/.test(serialHex)) return undefined;
  try {
    return JSON.parse(await readFile(recordPath(dataDir, serialHex), "utf8")) as EnrolmentRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A renewal under way: the certificate it replaces can be renewed by no one else meanwhile or after. */
export interface RenewalClaim {
  /** The renewal issued `serialHex`: the claim stays, naming it. */
  settle(serialHex: string): Promise<void>;
  /** The renewal failed before issuing: the certificate may be renewed again. */
  release(): Promise<void>;
}

function renewedPath(dataDir: string, serialHex: string): string {
  return join(dataDir, "enrol", "renewed", serialHex);
}

/**
 * Claims the one renewal a certificate gets: `<dataDir>/enrol/renewed/<serial>` is created
 * exclusively (O_EXCL), so two renewals racing, in one process or two, cannot both win.
 * Resolves with the claim, or with the serial that superseded the certificate ("" while that renewal runs).
 */
export async function claimRenewal(dataDir: string, serialHex: string): Promise<{ claim: RenewalClaim } | { supersededBy: string }> {
  if (!/^[0-9a-f]{1,40}$/.test(serialHex)) throw new Error(`not a serial: ${serialHex}`);
  await mkdir(join(dataDir, "enrol", "renewed"), { recursive: true, mode: 0o700 });
  const path = renewedPath(dataDir, serialHex);
  try {
    await (await open(path, "wx", 0o600)).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { supersededBy: (await readFile(path, "utf8").catch(() => "")).trim() };
  }
  return {
    claim: {
      settle: (renewedBy) => writeFileAtomic(path, `${renewedBy}\n`, 0o600),
      release: () => rm(path, { force: true }),
    },
  };
}
