// Which certificates enrolment issued, <dataDir>/enrol/issued/<serial>.json: only these may be renewed, with the names their token granted.
import { mkdir, readFile } from "node:fs/promises";
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
