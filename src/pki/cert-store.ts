// Issued certificates kept under <dataDir>/certs/: reused while fresh and still right, otherwise re-issued and written atomically.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describeCertificate, describeNode, formatSan, splitPemCertificates } from "./describe.ts";
import { joinPem, serverSanNames } from "./issue.ts";
import { CERT_FILE_MODE, checkKeyFileMode, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import { readStoredImport } from "./imported-store.ts";
import { openReplaceableKey, writeSealedKeyFile } from "./key-vault.ts";
import type { MasterKey } from "./master-key.ts";
import { createOpenedCertificates, openedDigest } from "./opened-certificates.ts";
import type { OpenedCertificate, OpenedCertificates } from "./opened-certificates.ts";
import { checkSegment, checkValidityMs, originSpiffeId } from "./names.ts";
import { renewalTime } from "./renewal.ts";
import { StoredCertificateMissingError } from "../errors.ts";
import { backdateMs, CLOCK_SKEW_BACKDATE_MS } from "./sign.ts";
import { detectKeyAlgorithm } from "./key-algorithms.ts";
import type { CertificateAuthority, Clock, IssuedCertificate, IssuedCertificateStore, KeyAlgorithm } from "./types.ts";

/** Renew at two thirds of a certificate's life unless told otherwise (cert-manager and SPIRE do too). */
export const DEFAULT_RENEW_AT_FRACTION = 2 / 3;

// X.509 times have one-second precision, so a stored lifetime can exceed the requested one by up to a second.
const LIFETIME_SLACK_MS = 2_000;

/** What a stored certificate must be to be handed out again. */
interface Expected {
  /** Formatted SANs (formatSan), compared as a set. */
  sans: readonly string[];
  extendedKeyUsage: string;
  validityMs: number;
  keyAlgorithm: KeyAlgorithm;
}

/** Where one certificate lives, and how to issue a new one for a given validity window. */
interface Slot {
  segments: readonly string[];
  expected: Expected;
  issue: (window: { notBefore: Date; notAfter: Date }) => Promise<IssuedCertificate>;
}

/**
 * A small file of Moat's own data directory (a pointer, a chain, a sealed key), read at once: fs/promises costs
 * about 80 µs of CPU per small file against 13 for a synchronous read (measured on the 2-core VM), and a rebuild of
 * 10,000 distributions with issued certificates reads 60,000 of them. The event loop still gets its turn once per
 * certificate, at the asynchronous check of its key file's mode.
 */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * The stored certificate if it is intact and issued by the CA's current
 * intermediate (or an earlier one still valid), else undefined. Anything unreadable, a key that does not match
 * (a crash between the two writes), or a key file others can read is not
 * worth keeping: a fresh certificate with a fresh key replaces it. Files this process opened before, unchanged,
 * are not decrypted, parsed and verified again (opened-certificates.ts); the key file's mode is checked every time.
 */
async function loadStored(dir: string, context: StoreContext): Promise<IssuedCertificate | undefined> {
  const [chainPem, keyFile] = await Promise.all([readIfPresent(join(dir, "chain.pem")), readIfPresent(join(dir, "key.pem"))]);
  if (chainPem === undefined && keyFile === undefined) return undefined;
  const discard = (reason: string) => (context.onDiscard?.(dir, reason), undefined);
  if (chainPem === undefined || keyFile === undefined) return discard(`${chainPem === undefined ? "chain.pem" : "key.pem"} is missing`);
  const digest = openedDigest(chainPem, keyFile, context.masterKey.id);
  const earlier = context.opened.get(dir, digest);
  const isIssuerTrusted = earlier !== undefined && context.intermediates.some(({ pem }) => pem === earlier.issuerPem);
  const opened = isIssuerTrusted ? earlier : openStored(dir, chainPem, keyFile, context);
  if (opened === undefined || typeof opened === "string") return discard(opened ?? "the key is not encrypted at rest");
  try {
    await checkKeyFileMode(join(dir, "key.pem"));
  } catch (error) {
    return discard(`unreadable (${(error as { code?: string }).code ?? (error as Error).message})`);
  }
  if (opened !== earlier) context.opened.set(dir, digest, opened);
  context.facts.set(opened.stored, opened);
  if (opened.issuerPem !== context.ca.intermediatePem) context.fromEarlierIntermediate.add(opened.stored);
  return opened.stored;
}

/** Decrypts, parses and checks a stored certificate and key; a string says why it is not usable, undefined that its key is not sealed. */
function openStored(dir: string, chainPem: string, keyFile: string, context: StoreContext): OpenedCertificate | string | undefined {
  // Keys are encrypted at rest; one sealed under another master key throws (MasterKeyWrongError), a plaintext one is replaced.
  const key = openReplaceableKey(keyFile, context.masterKey, join(dir, "key.pem"));
  if (key === undefined) return undefined;
  try {
    const certPem = splitPemCertificates(chainPem)[0];
    if (!certPem) return "chain.pem holds no certificate";
    const leaf = new X509Certificate(certPem);
    const issuer = context.intermediates.find(({ cert }) => leaf.checkIssued(cert) && leaf.verify(cert.publicKey));
    if (!issuer) return "issued by another intermediate";
    if (!leaf.checkPrivateKey(key.key)) return "the key does not match the certificate";
    const { serialHex, fingerprint256, notBefore, notAfter, subject, sans, extendedKeyUsage } = describeNode(leaf, certPem);
    const stored = { certPem, chainPem: joinPem(certPem, issuer.pem), keyPem: key.keyPem, serialHex, fingerprint256, notBefore, notAfter, subject, sans };
    return { stored, issuerPem: issuer.pem, extendedKeyUsage: extendedKeyUsage.join(","), keyAlgorithm: detectKeyAlgorithm(leaf.publicKey) };
  } catch (error) {
    return `unreadable (${(error as { code?: string }).code ?? (error as Error).message})`;
  }
}

/** Reuse only what names exactly the requested identity, is valid now, and has not reached its renewal time. */
function isReusable(stored: IssuedCertificate, facts: Pick<OpenedCertificate, "extendedKeyUsage" | "keyAlgorithm"> | undefined, expected: Expected, now: Date, renewAtFraction: number): boolean {
  const wanted = [...expected.sans].sort();
  const actual = [...stored.sans].sort();
  const hasSameNames = wanted.length === actual.length && wanted.every((san, i) => san === actual[i]);
  const { extendedKeyUsage, keyAlgorithm } = facts ?? factsOf(stored);
  const hasSameUsage = extendedKeyUsage === expected.extendedKeyUsage;
  const lifetimeMs = stored.notAfter.getTime() - stored.notBefore.getTime();
  const remainingMs = stored.notAfter.getTime() - now.getTime();
  const isValidNow = now.getTime() >= stored.notBefore.getTime() && remainingMs > 0;
  const isFresh = now.getTime() < renewalTime(stored, renewAtFraction).getTime();
  // A policy that shortened the validity takes effect now, not after the old long-lived certificate runs out.
  const isWithinPolicy = lifetimeMs <= expected.validityMs + CLOCK_SKEW_BACKDATE_MS + LIFETIME_SLACK_MS;
  const hasSameKeyAlgorithm = keyAlgorithm === expected.keyAlgorithm;
  return hasSameNames && hasSameUsage && isValidNow && isFresh && isWithinPolicy && hasSameKeyAlgorithm;
}

/** The usage and key algorithm of a certificate this store did not open itself. */
function factsOf(stored: IssuedCertificate): Pick<OpenedCertificate, "extendedKeyUsage" | "keyAlgorithm"> {
  return { extendedKeyUsage: describeCertificate(stored.certPem).extendedKeyUsage.join(","), keyAlgorithm: detectKeyAlgorithm(new X509Certificate(stored.certPem).publicKey) };
}

interface StoreContext {
  ca: CertificateAuthority;
  dataDir: string;
  clock: Clock;
  renewAtFraction: number;
  /** Serials in the revocation registry: such a certificate is replaced at once. */
  revokedSerials: ReadonlySet<string>;
  /** Serials an operator asked to rotate now (rotation-requests.json): replaced like a due one, kept while its origin refuses the new one. */
  rotateSerials: ReadonlySet<string>;
  /** Told when a stored certificate is passed over as unusable, so the operator learns why it was re-issued. */
  onDiscard?: (dir: string, reason: string) => void;
  masterKey: MasterKey;
  /** The CA's intermediate first, then earlier ones still valid (after a CA rotation). */
  intermediates: readonly { cert: X509Certificate; pem: string }[];
  /**
   * Stored certificates an earlier intermediate issued: never reused (the CA rotated, so they
   * are replaced now), but one may stay in use while its origin refuses the replacement.
   */
  fromEarlierIntermediate: WeakSet<IssuedCertificate>;
  /** One issuance per slot at a time: concurrent callers share it instead of racing two key/cert pairs onto disk. */
  inFlight: Map<string, Promise<IssuedCertificate>>;
  /** What this process opened before (kept across builds by the edge); a store of its own otherwise. */
  opened: OpenedCertificates;
  /** The usage and key algorithm of each certificate this store opened, for isReusable. */
  facts: WeakMap<IssuedCertificate, Pick<OpenedCertificate, "extendedKeyUsage" | "keyAlgorithm">>;
  /** A worker under `moat start`: takes what is active, valid and not revoked, and never issues, renews or prunes (its primary does). */
  isReadOnly?: boolean;
}

/**
 * A slot keeps each certificate in `<slot>/<serial>/{key.pem,chain.pem}` and names the one in use
 * in `<slot>/active` (and a renewed one waiting to be proven in `<slot>/next`). Going live is one
 * atomic rename of `active`, so a crash at any moment leaves the old or the new certificate in
 * use, never half of one.
 */
async function obtain(context: StoreContext, slot: Slot, prove?: ProveCandidate): Promise<IssuedCertificate> {
  const dir = join(context.dataDir, "certs", ...slot.segments);
  if (context.isReadOnly) return readActive(dir, slot, context);
  const active = await loadPointed(dir, "active", context);
  const now = context.clock();
  const isUsable = (stored: IssuedCertificate) =>
    !context.revokedSerials.has(stored.serialHex) && !context.rotateSerials.has(stored.serialHex) && !context.fromEarlierIntermediate.has(stored) && isReusable(stored, context.facts.get(stored), slot.expected, now, context.renewAtFraction);
  if (active && isUsable(active)) return active;
  const pending = await loadPointed(dir, "next", context);
  const candidate = pending && pending.serialHex !== active?.serialHex && isUsable(pending) ? pending : await issueInto(dir, slot, context, now);
  // A revoked certificate is never kept, proven replacement or not.
  const isActiveValid = active !== undefined && now >= active.notBefore && now < active.notAfter && !context.revokedSerials.has(active.serialHex);
  // Only a certificate that could be kept may be held back: with none valid, the new one goes live.
  if (prove && isActiveValid && !(await prove(candidate))) return active;
  await writePointer(dir, "active", candidate.serialHex);
  // After a crash right here `next` names the active certificate, which reads as nothing pending.
  await rm(join(dir, "next"), { force: true });
  await pruneSlot(dir, [candidate.serialHex, active?.serialHex]);
  return candidate;
}

// Not judged for freshness: the primary decides when to renew, and may keep one past its renewal
// time while the origin refuses the replacement.
async function readActive(dir: string, slot: Slot, context: StoreContext): Promise<IssuedCertificate> {
  const active = await loadPointed(dir, "active", { ...context, onDiscard: undefined });
  const now = context.clock();
  if (!active || context.revokedSerials.has(active.serialHex) || now < active.notBefore || now >= active.notAfter) throw new StoredCertificateMissingError(slot.segments.join("/"));
  return active;
}

/** Issues a certificate into its own directory and names it `next`; nothing in use changes. */
async function issueInto(dir: string, slot: Slot, context: StoreContext, now: Date): Promise<IssuedCertificate> {
  const notBefore = new Date(now.getTime() - backdateMs(slot.expected.validityMs));
  const issued = await slot.issue({ notBefore, notAfter: new Date(now.getTime() + slot.expected.validityMs) });
  await ensurePrivateDir(context.dataDir, "certs", ...slot.segments, issued.serialHex);
  await writeSealedKeyFile(join(dir, issued.serialHex, "key.pem"), issued.keyPem, context.masterKey);
  await writeFileAtomic(join(dir, issued.serialHex, "chain.pem"), issued.chainPem, CERT_FILE_MODE);
  await writePointer(dir, "next", issued.serialHex);
  return issued;
}

/** The certificate a pointer file names; a slot from before pointers keeps its files at the top. */
async function loadPointed(dir: string, pointer: "active" | "next", context: StoreContext): Promise<IssuedCertificate | undefined> {
  const serial = (await readIfPresent(join(dir, pointer)))?.trim();
  if (serial === undefined) return pointer === "active" ? loadStored(dir, context) : undefined;
  if (!/^[0-9a-f]{1,40}$/.test(serial)) return undefined;
  return loadStored(join(dir, serial), context);
}

async function writePointer(dir: string, pointer: "active" | "next", serialHex: string): Promise<void> {
  await writeFileAtomic(join(dir, pointer), `${serialHex}\n`, CERT_FILE_MODE);
}

/**
 * Keeps the certificates named in `keep` (the one in use and the one it replaced, listed as
 * retired), deletes older ones with their keys, and the files of the layout before pointers.
 */
async function pruneSlot(dir: string, keep: ReadonlyArray<string | undefined>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const isOldCertificate = entry.isDirectory() && /^[0-9a-f]+$/.test(entry.name) && !keep.includes(entry.name);
    const isLegacyFile = entry.isFile() && (entry.name === "key.pem" || entry.name === "chain.pem");
    // A crash in the middle of an atomic write leaves its temp file behind (e.g. `.active.x1y2.tmp`).
    const isStaleTemp = entry.isFile() && entry.name.startsWith(".") && entry.name.endsWith(".tmp");
    if (isOldCertificate || isLegacyFile || isStaleTemp) await rm(join(dir, entry.name), { recursive: true, force: true });
  }
}

/** Decides whether a renewed certificate may go live (the edge sends it to the origin once). */
export type ProveCandidate = (candidate: IssuedCertificate) => Promise<boolean>;

function once(context: StoreContext, slot: Slot): Promise<IssuedCertificate> {
  // Only identical requests share; a changed request for the same slot gets its own certificate.
  const key = JSON.stringify([slot.segments, slot.expected]);
  const running = context.inFlight.get(key);
  if (running) return running;
  const promise = obtain(context, slot).finally(() => context.inFlight.delete(key));
  context.inFlight.set(key, promise);
  return promise;
}

function serverSlot(ca: CertificateAuthority, request: Parameters<IssuedCertificateStore["serverCertificate"]>[0]): Slot {
  const name = checkSegment("certificate name", request.name);
  const sans = serverSanNames(request).map(formatSan);
  const validityMs = checkValidityMs(request.validityMs);
  const keyAlgorithm = request.keyAlgorithm ?? ca.keyAlgorithm;
  return {
    segments: ["server", name],
    expected: { sans, extendedKeyUsage: "serverAuth", validityMs, keyAlgorithm },
    issue: (window) => ca.issueServerCertificate({ dnsNames: request.dnsNames, ipAddresses: request.ipAddresses, validityMs, keyAlgorithm, ...window }),
  };
}

function originClientSlot(
  ca: CertificateAuthority,
  request: Parameters<IssuedCertificateStore["originClientCertificate"]>[0],
): Slot {
  const spiffeId = originSpiffeId(request.trustDomain, request.distributionId, request.originId);
  const validityMs = checkValidityMs(request.validityMs);
  const keyAlgorithm = request.keyAlgorithm ?? ca.keyAlgorithm;
  return {
    segments: ["origin-client", request.distributionId, request.originId],
    expected: { sans: [formatSan({ type: "url", value: spiffeId })], extendedKeyUsage: "clientAuth", validityMs, keyAlgorithm },
    issue: (window) => ca.issueOriginClientCertificate({ ...request, validityMs, keyAlgorithm, ...window }),
  };
}

export function createCertStore(options: {
  ca: CertificateAuthority;
  dataDir: string;
  masterKey: MasterKey;
  clock: Clock;
  renewAtFraction?: number;
  revokedSerials?: ReadonlySet<string>;
  rotateSerials?: ReadonlySet<string>;
  onDiscard?: (dir: string, reason: string) => void;
  isReadOnly?: boolean;
  opened?: OpenedCertificates;
}): IssuedCertificateStore {
  const opened = options.opened ?? createOpenedCertificates();
  opened.nextBuild();
  const context: StoreContext = {
    ...options,
    opened,
    facts: new WeakMap(),
    renewAtFraction: options.renewAtFraction ?? DEFAULT_RENEW_AT_FRACTION,
    revokedSerials: options.revokedSerials ?? new Set(),
    rotateSerials: options.rotateSerials ?? new Set(),
    intermediates: [options.ca.intermediatePem, ...options.ca.previousIntermediatePems].map((pem) => ({ cert: new X509Certificate(pem), pem })),
    fromEarlierIntermediate: new WeakSet(),
    inFlight: new Map(),
  };
  return {
    importedCertificate: async (use, name) => readStoredImport({ dataDir: options.dataDir, masterKey: options.masterKey, use, name }),
    // async so that a bad request rejects the returned promise rather than throwing at the call.
    serverCertificate: async (request) => once(context, serverSlot(options.ca, request)),
    originClientCertificate: async (request, proving) =>
      // A proven renewal runs on its own: its outcome depends on the caller's probe.
      proving?.prove ? obtain(context, originClientSlot(options.ca, request), proving.prove) : once(context, originClientSlot(options.ca, request)),
  };
}
