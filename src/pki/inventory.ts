// Every certificate Moat holds, with its use, state and source: what `moat certs list` shows. Reads certificates only, never keys.
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { PENDING_DIR, readCaGenerations } from "./ca-layout.ts";
import { describeCertificate, splitPemCertificates } from "./describe.ts";
import { expiryWarning } from "./import/validity.ts";
import type { ExpiryWarning } from "./import/index.ts";
import { readRevocations } from "./revocation.ts";

export type InventoryUse = "root-ca" | "intermediate-ca" | "viewer-server" | "origin-client";
/**
 * `active`: in use; `next`: renewed, waiting to be proven to its origin; `retired`: the one the
 * active certificate replaced (kept one generation); then `expired`, `not-yet-valid`, `revoked`.
 */
export type InventoryState = "active" | "next" | "retired" | "expired" | "not-yet-valid" | "revoked";

export interface InventoryEntry {
  use: InventoryUse;
  /** What it is for: "viewer-shop", "shop/api", "root"… */
  name: string;
  source: "issued" | "imported";
  state: InventoryState;
  subject: string;
  sans: string[];
  serialHex: string;
  fingerprint256: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Where it lives on disk (the certificate, never the key). */
  file: string;
  /** Imported certificates cannot renew themselves: 30, 7 and 1 days before expiry. */
  expiryWarning: ExpiryWarning | null;
  revokedAt?: Date;
  revocationReason?: string;
}

/** A certificate a config imports from files, named for the listing. */
export interface ImportedCertificateRef {
  use: "viewer-server" | "origin-client";
  name: string;
  /** The PEM file, or the PKCS#12 file the certificate came from (shown as its file). */
  certFile: string;
  /** The certificate chain already read (from a PKCS#12, which takes its passphrase to open); when absent, certFile is read. */
  chainPem?: string;
}

/**
 * @example
 * const entries = await listCertificates({ dataDir: "/var/lib/moat", now: new Date() });
 * for (const e of entries) console.log(e.use, e.name, e.serialHex, e.state);
 */
export async function listCertificates(options: { dataDir: string; now: Date; imported?: readonly ImportedCertificateRef[] }): Promise<InventoryEntry[]> {
  return (await listCertificateRecords(options)).map(({ recordedState: _recorded, certificatePem: _pem, ...entry }) => entry);
}

/** An entry as the store keeps it: also the certificate's PEM and its recorded state, before time says expired or not yet valid. */
export type RecordedInventoryEntry = InventoryEntry & {
  /** `revoked`, else what the data directory's pointers say (`active`, `next`, `retired`): the state time does not change. */
  recordedState: "active" | "next" | "retired" | "revoked";
  /** The certificate alone (public), PEM. */
  certificatePem: string;
};

/**
 * The inventory with each certificate's PEM and recorded state: what the edge, the API and CLI commands sync into the store.
 * @example
 * await store.certificates.sync(edgeName, toStoredCertificates(await listCertificateRecords({ dataDir, now: new Date() })));
 */
export async function listCertificateRecords(options: { dataDir: string; now: Date; imported?: readonly ImportedCertificateRef[] }): Promise<RecordedInventoryEntry[]> {
  const revoked = new Map((await readRevocations(options.dataDir)).map((r) => [r.serialHex, r]));
  const found: Found[] = [];
  for (const [use, name, file] of [["root-ca", "root", "root.pem"], ["intermediate-ca", "intermediate", "intermediate.pem"]] as const) {
    const entry = await readEntry(join(options.dataDir, "ca", file), use, name, "issued");
    if (entry) found.push(entry);
  }
  found.push(...(await caGenerationEntries(options.dataDir)));
  found.push(...(await issuedLeaves(options.dataDir)));
  for (const ref of options.imported ?? []) {
    const entry = ref.chainPem === undefined ? await readEntry(ref.certFile, ref.use, ref.name, "imported") : entryOf(ref.chainPem, ref.certFile, ref.use, ref.name, "imported");
    if (entry) found.push(entry);
  }
  return found.map((entry) => withState(entry, revoked.get(entry.serialHex), options.now));
}

/** An entry before its state is settled; `slotState` is what the store's pointers say of it. */
type Found = Omit<InventoryEntry, "state" | "expiryWarning"> & { slotState?: "active" | "next" | "retired"; pem: string };

function withState(found: Found, revocation: { reason: string; revokedAt: Date } | undefined, now: Date): RecordedInventoryEntry {
  const { slotState, pem, ...entry } = found;
  const state: InventoryState = revocation
    ? "revoked"
    : entry.notAfter <= now
      ? "expired"
      : entry.notBefore > now
        ? "not-yet-valid"
        : (slotState ?? "active");
  const warning = entry.source === "imported" && state !== "revoked" ? expiryWarning(entry.notAfter, now) : null;
  const recordedState = revocation ? "revoked" : (slotState ?? "active");
  return { ...entry, state, expiryWarning: warning, ...(revocation ? { revokedAt: revocation.revokedAt, revocationReason: revocation.reason } : {}), recordedState, certificatePem: pem };
}

/**
 * The store keeps `certs/server/<name>/<serial>/chain.pem` and `certs/origin-client/<distribution>/<origin>/<serial>/chain.pem`
 * (and imported ones `certs/imported/<use>/<name>/<serial>/chain.pem`),
 * with `active` and `next` files in the slot naming serials (older slots: `chain.pem` at the top).
 */
async function issuedLeaves(dataDir: string): Promise<Found[]> {
  const root = join(dataDir, "certs");
  const files = await readdir(root, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const entries: Found[] = [];
  const pointers: SlotPointers = new Map();
  for (const file of files.filter((f) => f.endsWith(`${sep}chain.pem`)).sort()) {
    const segments = relative(root, join(root, file)).split(sep).slice(0, -1);
    const [kind, ...afterKind] = segments;
    // Imported through the admin API: `imported/<use>/<name>/<serial>/chain.pem` (imported-store.ts).
    const isImported = kind === "imported";
    const rest = isImported ? afterKind.slice(1) : afterKind;
    const use: InventoryUse = (isImported ? afterKind[0] : kind) === "origin-client" ? "origin-client" : "viewer-server";
    const slotDepth = !isImported && kind === "origin-client" ? 2 : 1;
    const name = rest.slice(0, slotDepth).join("/");
    const serialDir = rest[slotDepth];
    const entry = await readEntry(join(root, file), use, name, isImported ? "imported" : "issued");
    if (!entry) continue;
    const slot = join(root, ...(isImported ? [kind, afterKind[0] ?? ""] : [kind ?? ""]), ...rest.slice(0, slotDepth));
    entries.push({ ...entry, slotState: serialDir === undefined ? "active" : await slotStateOf(slot, serialDir, pointers) });
  }
  return entries;
}

/** A prepared root rollover's root and intermediate (`next`), and retired CA certificates still trusted (`retired`). */
async function caGenerationEntries(dataDir: string): Promise<Found[]> {
  const caDir = join(dataDir, "ca");
  const entries: Found[] = [];
  for (const [use, file] of [["root-ca", "root.pem"], ["intermediate-ca", "intermediate.pem"]] as const) {
    const entry = await readEntry(join(caDir, PENDING_DIR, file), use, use === "root-ca" ? "root" : "intermediate", "issued");
    if (entry) entries.push({ ...entry, slotState: "next" });
  }
  const { retiredRoots, retiredIntermediates } = await readCaGenerations(dataDir);
  for (const root of retiredRoots) entries.push({ ...entryOf(root.pem, join(root.dir, "root.pem"), "root-ca", "root", "issued")!, slotState: "retired" });
  for (const intermediate of retiredIntermediates) {
    entries.push({ ...entryOf(intermediate.pem, join(intermediate.dir, "intermediate.pem"), "intermediate-ca", "intermediate", "issued")!, slotState: "retired" });
  }
  return entries;
}

/**
 * A slot's pointers, read once for all its certificates, `next` before `active`: a rotation writes `next`, then
 * `active`, then removes `next`, so these reads see a state the slot was in (the other order could see the old
 * `active` and no `next`, and call the certificate going live retired).
 */
type SlotPointers = Map<string, Promise<{ active: string; next: string }>>;

async function slotStateOf(slot: string, serial: string, pointers: SlotPointers): Promise<"active" | "next" | "retired"> {
  const pointer = async (name: string) => (await readFile(join(slot, name), "utf8").catch(() => "")).trim();
  let read = pointers.get(slot);
  if (!read) {
    read = (async () => {
      const next = await pointer("next");
      return { next, active: await pointer("active") };
    })();
    pointers.set(slot, read);
  }
  const { active, next } = await read;
  if (active === serial) return "active";
  if (next === serial) return "next";
  return "retired";
}

async function readEntry(file: string, use: InventoryUse, name: string, source: "issued" | "imported"): Promise<Found | undefined> {
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return entryOf(pem, file, use, name, source);
}

function entryOf(pem: string, file: string, use: InventoryUse, name: string, source: "issued" | "imported"): Found | undefined {
  const first = splitPemCertificates(pem)[0];
  if (!first) return undefined;
  const facts = describeCertificate(first);
  return { use, name, source, pem: first, subject: facts.subject, sans: facts.sans, serialHex: facts.serialHex, fingerprint256: facts.fingerprint256, issuer: facts.issuer, notBefore: facts.notBefore, notAfter: facts.notAfter, file };
}
