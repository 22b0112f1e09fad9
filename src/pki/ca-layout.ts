// Where CA rotation keeps its generations in <dataDir>/ca, and reading them back (certificates and state only, never keys).
//
//   root.pem, root.key, intermediate.pem, intermediate.key  the active pair: what issues now
//   bundle.pem                   every root peers must trust now (active, plus the other root during a rollover)
//   pending/                     a prepared root rollover: the new root and its intermediate, keys, root CRL
//   rollover.json                the rollover's phase and its dates
//   retired/intermediate-<serial>/  an earlier intermediate and its key: its leaves may still be in use, and
//                                its CRL must still be signed until it expires
//   retired/root-<serial>/       a root that was rolled over: certificate and CRL only (its key is destroyed)
import { X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaCorruptError } from "../errors.ts";
import { splitPemCertificates } from "./describe.ts";

export const PENDING_DIR = "pending";
export const RETIRED_DIR = "retired";
export const ROLLOVER_FILE = "rollover.json";

/** A root rollover in progress. `prepared`: both roots trusted, the old one still issues. `activated`: the new one issues, the old one is still trusted. */
export type RolloverState =
  | { phase: "prepared"; preparedAt: Date; activateAt: Date; overlapMs: number; fromRootSerial: string; toRootSerial: string }
  | { phase: "activated"; preparedAt: Date; activatedAt: Date; finishAt: Date; overlapMs: number; fromRootSerial: string; toRootSerial: string };

export interface RetiredIntermediate {
  dir: string;
  pem: string;
  cert: X509Certificate;
}

export interface RetiredRoot {
  dir: string;
  pem: string;
  cert: X509Certificate;
  /** The root's own (empty) CRL, signed before its key was destroyed; undefined when missing. */
  crlPem: string | undefined;
}

export interface PendingRoot {
  rootPem: string;
  intermediatePem: string;
  crlPem: string | undefined;
}

/** What the CA directory holds besides the active pair. */
export interface CaGenerations {
  rollover: RolloverState | null;
  pending: PendingRoot | null;
  retiredIntermediates: RetiredIntermediate[];
  retiredRoots: RetiredRoot[];
}

/** `serial` as Node prints it (upper-case hex), lower-cased: how Moat names serials. */
export function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase();
}

/** The file's text, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

function parseCert(caDir: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new CaCorruptError(caDir, `${file} is not a PEM certificate`, { cause });
  }
}

function parseRollover(caDir: string, text: string): RolloverState {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const date = (key: string) => {
      const value = new Date(String(raw[key]));
      if (Number.isNaN(value.getTime())) throw new Error(`${key} is not a date`);
      return value;
    };
    const common = { preparedAt: date("preparedAt"), overlapMs: Number(raw.overlapMs), fromRootSerial: String(raw.fromRootSerial), toRootSerial: String(raw.toRootSerial) };
    if (!Number.isFinite(common.overlapMs)) throw new Error("overlapMs is not a number");
    if (raw.phase === "prepared") return { phase: "prepared", ...common, activateAt: date("activateAt") };
    if (raw.phase === "activated") return { phase: "activated", ...common, activatedAt: date("activatedAt"), finishAt: date("finishAt") };
    throw new Error(`unknown phase ${JSON.stringify(raw.phase)}`);
  } catch (cause) {
    throw new CaCorruptError(caDir, `${ROLLOVER_FILE} is unreadable: ${(cause as Error).message}`, { cause });
  }
}

export function serializeRollover(state: RolloverState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Reads the rotation state of `<dataDir>/ca`; needs no key. Throws CaCorruptError naming the damaged file. */
export async function readCaGenerations(dataDir: string): Promise<CaGenerations> {
  const caDir = join(dataDir, "ca");
  const rolloverText = await readOptional(join(caDir, ROLLOVER_FILE));
  const rollover = rolloverText === undefined ? null : parseRollover(caDir, rolloverText);
  const pendingRoot = await readOptional(join(caDir, PENDING_DIR, "root.pem"));
  const pendingIntermediate = await readOptional(join(caDir, PENDING_DIR, "intermediate.pem"));
  let pending: PendingRoot | null = null;
  if (pendingRoot !== undefined && pendingIntermediate !== undefined) {
    parseCert(caDir, `${PENDING_DIR}/root.pem`, pendingRoot);
    parseCert(caDir, `${PENDING_DIR}/intermediate.pem`, pendingIntermediate);
    pending = { rootPem: pendingRoot, intermediatePem: pendingIntermediate, crlPem: await readOptional(join(caDir, PENDING_DIR, "root-crl.pem")) };
  }
  const retiredIntermediates: RetiredIntermediate[] = [];
  const retiredRoots: RetiredRoot[] = [];
  for (const name of await subdirectories(join(caDir, RETIRED_DIR))) {
    const dir = join(caDir, RETIRED_DIR, name);
    if (name.startsWith("intermediate-")) {
      const pem = await readOptional(join(dir, "intermediate.pem"));
      if (pem !== undefined) retiredIntermediates.push({ dir, pem, cert: parseCert(caDir, `${RETIRED_DIR}/${name}/intermediate.pem`, pem) });
    } else if (name.startsWith("root-")) {
      const pem = await readOptional(join(dir, "root.pem"));
      if (pem !== undefined) retiredRoots.push({ dir, pem, cert: parseCert(caDir, `${RETIRED_DIR}/${name}/root.pem`, pem), crlPem: await readOptional(join(dir, "root-crl.pem")) });
    }
  }
  return { rollover, pending, retiredIntermediates, retiredRoots };
}

/** The roots a bundle PEM holds, parsed. */
export function bundleRoots(bundlePem: string): X509Certificate[] {
  return splitPemCertificates(bundlePem).map((pem) => new X509Certificate(pem));
}

/** `Moat Intermediate CA` → `Moat Intermediate CA G2` → `… G3`: each generation gets its own name, so CRLs and chains never confuse two of them. */
export function nextGenerationName(commonName: string): string {
  const match = /^(.*) G(\d+)$/.exec(commonName);
  return match ? `${match[1]} G${Number(match[2]) + 1}` : `${commonName} G2`;
}
