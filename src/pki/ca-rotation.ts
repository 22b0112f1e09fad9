// CA rotation: renewing the intermediate before it expires, and rolling the root over in three steps (prepare, activate, finish) with an overlap in which peers trust both roots.
//
// Every step runs under the CA lock and lands as one transaction (ca-transaction.ts), so a
// kill -9 leaves the CA as it was before the step or as it is after it. Peers trust roots
// only (bundle.pem); a leaf always carries its intermediate, so renewing the intermediate
// under the same root needs nothing from peers. A new root does: it is published in the
// bundle first (prepare), issues only after the overlap (activate), and the old root leaves
// the bundle one overlap later (finish), by which time nothing it signed is in use.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaExpiredError, CaRotationRefusedError } from "../errors.ts";
import { generateIntermediate, generateRoot, INTERMEDIATE_VALIDITY_MS, ROOT_VALIDITY_MS } from "./ca.ts";
import { openCaFiles } from "./ca-files.ts";
import {
  bundleRoots,
  nextGenerationName,
  PENDING_DIR,
  readCaGenerations,
  RETIRED_DIR,
  ROLLOVER_FILE,
  serialOf,
  serializeRollover,
  type CaGenerations,
  type RolloverState,
} from "./ca-layout.ts";
import { loadCaSigner, rootKeyPath } from "./ca-signer.ts";
import { commitCaTransaction, type CaFileWrite } from "./ca-transaction.ts";
import { signCrlWith } from "./crl-sign.ts";
import { joinPem } from "./issue.ts";
import { exportPrivateKeyPem } from "./key-algorithms.ts";
import { CERT_FILE_MODE, KEY_FILE_MODE } from "./key-files.ts";
import { sealPrivateKey } from "./key-vault.ts";
import type { MasterKey } from "./master-key.ts";
import { renewalTime } from "./renewal.ts";
import { withRevocationLock as withCaLock } from "./revocation-lock.ts";
import { CLOCK_SKEW_BACKDATE_MS } from "./sign.ts";
import type { CertificateAuthority, Clock, KeyAlgorithm } from "./types.ts";
import { x509, type X509 } from "./x509-lib.ts";

/** How long both roots are trusted before the new one issues, and again before the old one leaves the bundle. */
export const DEFAULT_ROLLOVER_OVERLAP_MS = 30 * 24 * 60 * 60 * 1000;

export interface CaRotationPolicy {
  /** Life of a renewed intermediate (never past its root's). Default 5 years. */
  intermediateValidityMs: number;
  /** Life of a new root. Default 10 years. */
  rootValidityMs: number;
  /** See DEFAULT_ROLLOVER_OVERLAP_MS. */
  rolloverOverlapMs: number;
  /** The intermediate renews, and a root rollover is prepared, at this fraction of their life (less jitter). */
  renewAtFraction: number;
}

export const DEFAULT_CA_ROTATION_POLICY: CaRotationPolicy = Object.freeze({
  intermediateValidityMs: INTERMEDIATE_VALIDITY_MS,
  rootValidityMs: ROOT_VALIDITY_MS,
  rolloverOverlapMs: DEFAULT_ROLLOVER_OVERLAP_MS,
  renewAtFraction: 2 / 3,
});

export type CaRotationStep = "renew-intermediate" | "prepare-root-rollover" | "activate-root-rollover" | "finish-root-rollover" | "prune-retired";

/** What a step did, for the log and the CLI. */
export interface CaRotationResult {
  step: CaRotationStep;
  summary: string;
  /** Serials (lower-case hex) of what the step replaced and what replaced it, when it replaced something. */
  from?: string;
  to?: string;
}

/**
 * Asked before a root rollover's activation (the step that makes the new root issue): resolves to let it run, throws
 * (CaRolloverHeldBackError) to refuse it. A store's fleet passes it only when every live edge trusts the new root; a
 * single edge run from a file has none, and activates on its own.
 */
export type FleetGate = (newRoot: { serialHex: string; fingerprint256: string }) => Promise<unknown>;

/** What CA an edge uses, by SHA-256 (colon-separated upper-case hex): the roots it trusts (bundle.pem) and the intermediate it issues from. */
export interface CaTrust {
  roots: string[];
  intermediate: string;
}

/** The fingerprints an edge reports in the store's `edges` row: what a fleet's rollover gate reads. */
export function caTrustOf(ca: Pick<CertificateAuthority, "bundlePem" | "intermediatePem">): CaTrust {
  return { roots: bundleRoots(ca.bundlePem).map((root) => root.fingerprint256), intermediate: new X509Certificate(ca.intermediatePem).fingerprint256 };
}

/** The root a rollover in progress brings in (in bundle.pem from prepare on), with the phase; null when none is in progress. */
export async function rolloverNewRoot(dataDir: string): Promise<{ phase: RolloverState["phase"]; serialHex: string; fingerprint256: string } | null> {
  const { rollover } = await readCaGenerations(dataDir);
  if (!rollover) return null;
  const bundle = await readFile(join(dataDir, "ca", "bundle.pem"), "utf8");
  const root = bundleRoots(bundle).find((candidate) => serialOf(candidate) === rollover.toRootSerial);
  return root ? { phase: rollover.phase, serialHex: rollover.toRootSerial, fingerprint256: root.fingerprint256 } : null;
}

interface StepOptions {
  dataDir: string;
  masterKey: MasterKey;
  clock: Clock;
  policy: CaRotationPolicy;
  /** See FleetGate: asked before an activation, under the CA lock, before anything moves. */
  fleetGate?: FleetGate;
  /** Tests: stop the transaction's replay after this many steps, as a kill -9 would. */
  crashAfterSteps?: number;
}

interface Opened {
  ca: CertificateAuthority;
  caDir: string;
  now: Date;
  generations: CaGenerations;
  root: X509Certificate;
  intermediate: X509Certificate;
}

async function openForRotation(options: StepOptions): Promise<Opened> {
  const { ca } = await openCaFiles({ dataDir: options.dataDir, clock: options.clock, masterKey: options.masterKey });
  return {
    ca,
    caDir: join(options.dataDir, "ca"),
    now: options.clock(),
    generations: await readCaGenerations(options.dataDir),
    root: new X509Certificate(ca.rootPem),
    intermediate: new X509Certificate(ca.intermediatePem),
  };
}

function subjectField(pem: string, field: "CN" | "O"): string | undefined {
  return new x509.X509Certificate(pem).subjectName.getField(field)[0];
}

/** The next generation's subject: a name no earlier generation used, the same organisation. */
function nextSubject(pems: readonly string[], fallbackCn: string): X509.JsonName {
  const names = pems.map((pem) => subjectField(pem, "CN") ?? fallbackCn);
  const generation = (name: string) => Number(/ G(\d+)$/.exec(name)?.[1] ?? 1);
  const latest = names.reduce((a, b) => (generation(b) > generation(a) ? b : a), names[0] ?? fallbackCn);
  const organisation = pems[0] ? subjectField(pems[0], "O") : undefined;
  return [{ CN: [nextGenerationName(latest)] }, ...(organisation ? [{ O: [organisation] }] : [])];
}

const pem = (cert: X509.X509Certificate) => joinPem(cert.toString("pem"));
const certWrite = (path: string, data: string | Uint8Array): CaFileWrite => ({ path, data, mode: CERT_FILE_MODE });
const keyWrite = (path: string, data: string): CaFileWrite => ({ path, data, mode: KEY_FILE_MODE });

/** Copies the active intermediate (certificate and still-sealed key) to retired/: its CRL is signed until it expires. */
async function retireIntermediateWrites(opened: Opened): Promise<CaFileWrite[]> {
  const dir = `${RETIRED_DIR}/intermediate-${serialOf(opened.intermediate)}`;
  const sealedKey = await readFile(join(opened.caDir, "intermediate.key"), "utf8");
  return [certWrite(`${dir}/intermediate.pem`, opened.ca.intermediatePem), keyWrite(`${dir}/intermediate.key`, sealedKey)];
}

/** Renews the intermediate under the active root: a new key, a new name (`… G2`), the old one retired. */
export function renewIntermediate(options: StepOptions): Promise<CaRotationResult> {
  return withCaLock(options.dataDir, async () => {
    const opened = await openForRotation(options);
    const { now, root, ca } = opened;
    if (root.validToDate.getTime() <= now.getTime()) throw new CaExpiredError(root.validToDate);
    const rootSigner = await loadCaSigner(rootKeyPath(options.dataDir), ca.rootPem, options.masterKey);
    const fresh = await generateIntermediate({
      keyAlgorithm: ca.keyAlgorithm,
      subject: nextSubject([ca.intermediatePem, ...(opened.generations.pending ? [opened.generations.pending.intermediatePem] : [])], "Moat Intermediate CA"),
      notBefore: new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS),
      notAfter: new Date(now.getTime() + options.policy.intermediateValidityMs),
      root: rootSigner,
      rootNotAfter: root.validToDate,
      // The CA's publication setting as opened: an intermediate renewed after `moat ca publication` carries it.
      rootSerialHex: serialOf(root),
      crlBaseUrl: ca.crlBaseUrl,
    });
    const writes = [
      ...(await retireIntermediateWrites(opened)),
      keyWrite("intermediate.key", sealPrivateKey(exportPrivateKeyPem(fresh.keys.privateKey), options.masterKey)),
      certWrite("intermediate.pem", pem(fresh.cert)),
    ];
    await commitCaTransaction(opened.caDir, { writes }, { crashAfterSteps: options.crashAfterSteps });
    const to = fresh.cert.serialNumber.toLowerCase();
    return { step: "renew-intermediate", from: serialOf(opened.intermediate), to, summary: `renewed the intermediate: ${fresh.cert.subject} (serial ${to}) issues from now on; the old one is retired and its CRL kept until it expires` };
  });
}

/**
 * Step 1 of a root rollover: a new root (and an intermediate under it) is generated and added
 * to bundle.pem; the old root keeps issuing. Peers must trust the new bundle before activation.
 */
export function prepareRootRollover(options: StepOptions & { keyAlgorithm?: KeyAlgorithm }): Promise<CaRotationResult> {
  return withCaLock(options.dataDir, async () => {
    const opened = await openForRotation(options);
    const { now, ca, generations } = opened;
    if (generations.rollover || generations.pending) throw new CaRotationRefusedError(opened.caDir, `a root rollover is already in progress (${generations.rollover?.phase ?? "prepared"})`, "finish it first: moat ca rollover --activate, then --finish");
    const keyAlgorithm = options.keyAlgorithm ?? ca.keyAlgorithm;
    const notBefore = new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS);
    const rootNotAfter = new Date(now.getTime() + options.policy.rootValidityMs);
    const root = await generateRoot({ keyAlgorithm, subject: nextSubject([ca.rootPem, ...generations.retiredRoots.map((r) => r.pem)], "Moat Root CA"), notBefore, notAfter: rootNotAfter });
    const rootSigner = { name: root.cert.subjectName, key: root.keys.privateKey, keyAlgorithm, keyId: root.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId };
    const intermediate = await generateIntermediate({
      keyAlgorithm,
      subject: nextSubject([ca.intermediatePem, ...ca.previousIntermediatePems], "Moat Intermediate CA"),
      notBefore,
      notAfter: new Date(now.getTime() + options.policy.intermediateValidityMs),
      root: rootSigner,
      rootNotAfter,
      rootSerialHex: root.cert.serialNumber,
      crlBaseUrl: ca.crlBaseUrl,
    });
    // The new root's own CRL (it revokes nothing) lasts as long as the intermediate under it: see root-crl.ts.
    const rootCrl = await signCrlWith(rootSigner, [], { thisUpdate: notBefore, nextUpdate: intermediate.cert.notAfter, crlNumber: 1 });
    const rollover: RolloverState = {
      phase: "prepared",
      preparedAt: now,
      activateAt: new Date(now.getTime() + options.policy.rolloverOverlapMs),
      overlapMs: options.policy.rolloverOverlapMs,
      fromRootSerial: serialOf(opened.root),
      toRootSerial: root.cert.serialNumber.toLowerCase(),
    };
    const writes = [
      keyWrite(`${PENDING_DIR}/root.key`, sealPrivateKey(exportPrivateKeyPem(root.keys.privateKey), options.masterKey)),
      certWrite(`${PENDING_DIR}/root.pem`, pem(root.cert)),
      keyWrite(`${PENDING_DIR}/intermediate.key`, sealPrivateKey(exportPrivateKeyPem(intermediate.keys.privateKey), options.masterKey)),
      certWrite(`${PENDING_DIR}/intermediate.pem`, pem(intermediate.cert)),
      certWrite(`${PENDING_DIR}/root-crl.pem`, rootCrl.pem),
      certWrite(`${PENDING_DIR}/root-crl.der`, rootCrl.der),
      certWrite("bundle.pem", joinPem(...bundleRoots(ca.bundlePem).map((r) => r.toString()), pem(root.cert))),
      certWrite(ROLLOVER_FILE, serializeRollover(rollover)),
    ];
    await commitCaTransaction(opened.caDir, { writes }, { crashAfterSteps: options.crashAfterSteps });
    return {
      step: "prepare-root-rollover",
      from: rollover.fromRootSerial,
      to: rollover.toRootSerial,
      summary: `prepared a root rollover: ${root.cert.subject} (serial ${rollover.toRootSerial}) is in bundle.pem next to the current root; it issues from ${rollover.activateAt.toISOString()} (moat ca rollover --activate to do it sooner); give the new bundle to every origin and viewer before then`,
    };
  });
}

/**
 * Step 2: the prepared root and its intermediate become the active pair. The old root stays in
 * the bundle (with a CRL signed now, lasting as long as its intermediates) until finish; its key is destroyed.
 */
export function activateRootRollover(options: StepOptions): Promise<CaRotationResult> {
  return withCaLock(options.dataDir, async () => {
    const opened = await openForRotation(options);
    const { now, ca, generations, caDir } = opened;
    const { rollover, pending } = generations;
    if (rollover?.phase !== "prepared" || !pending) throw new CaRotationRefusedError(caDir, "no prepared root rollover to activate", "prepare one first: moat ca rollover --prepare");
    // Edges must trust the new root before it issues: an edge that does not would refuse every certificate it signs.
    await options.fleetGate?.({ serialHex: rollover.toRootSerial, fingerprint256: new X509Certificate(pending.rootPem).fingerprint256 });
    // Both pending keys must open and match before anything moves.
    await loadCaSigner(join(caDir, PENDING_DIR, "root.key"), pending.rootPem, options.masterKey);
    await loadCaSigner(join(caDir, PENDING_DIR, "intermediate.key"), pending.intermediatePem, options.masterKey);
    const oldRoot = opened.root;
    const oldRootSigner = await loadCaSigner(rootKeyPath(options.dataDir), ca.rootPem, options.masterKey);
    const lastIntermediateEnd = Math.max(opened.intermediate.validToDate.getTime(), ...ca.previousIntermediatePems.map((p) => new X509Certificate(p).validToDate.getTime()));
    // The old root's last CRL: its key is destroyed below, so this one must last as long as anything it signed.
    // Its number only has to exceed those the old root signed before (small counters), so the clock will do.
    const oldRootCrl = await signCrlWith(oldRootSigner, [], { thisUpdate: new Date(now.getTime() - CLOCK_SKEW_BACKDATE_MS), nextUpdate: new Date(lastIntermediateEnd), crlNumber: now.getTime() });
    const read = (file: string) => readFile(join(caDir, PENDING_DIR, file));
    const retiredRoot = `${RETIRED_DIR}/root-${serialOf(oldRoot)}`;
    const { preparedAt, overlapMs, fromRootSerial, toRootSerial } = rollover;
    const activated: RolloverState = { phase: "activated", preparedAt, activatedAt: now, finishAt: new Date(now.getTime() + overlapMs), overlapMs, fromRootSerial, toRootSerial };
    const writes = [
      certWrite(`${retiredRoot}/root.pem`, ca.rootPem),
      certWrite(`${retiredRoot}/root-crl.pem`, oldRootCrl.pem),
      ...(await retireIntermediateWrites(opened)),
      keyWrite("root.key", (await read("root.key")).toString("utf8")),
      certWrite("root.pem", pending.rootPem),
      keyWrite("intermediate.key", (await read("intermediate.key")).toString("utf8")),
      certWrite("intermediate.pem", pending.intermediatePem),
      certWrite("root-crl.pem", await read("root-crl.pem")),
      certWrite("root-crl.der", await read("root-crl.der")),
      certWrite("bundle.pem", joinPem(pending.rootPem, ...bundleRoots(ca.bundlePem).filter((r) => serialOf(r) !== rollover.toRootSerial).map((r) => r.toString()))),
      certWrite(ROLLOVER_FILE, serializeRollover(activated)),
    ];
    await commitCaTransaction(caDir, { writes, removals: [PENDING_DIR] }, { crashAfterSteps: options.crashAfterSteps });
    return {
      step: "activate-root-rollover",
      from: rollover.fromRootSerial,
      to: rollover.toRootSerial,
      summary: `activated the new root (serial ${rollover.toRootSerial}): new certificates chain to it; the old root stays in bundle.pem until ${activated.finishAt.toISOString()} and its key was destroyed`,
    };
  });
}

/** Step 3: the old root leaves the bundle, with the retired intermediates it signed (and their keys). */
export function finishRootRollover(options: StepOptions): Promise<CaRotationResult> {
  return withCaLock(options.dataDir, async () => {
    const opened = await openForRotation(options);
    const { ca, generations, caDir } = opened;
    const { rollover } = generations;
    if (rollover?.phase !== "activated") throw new CaRotationRefusedError(caDir, rollover ? "the root rollover is prepared but not activated" : "no root rollover in progress", rollover ? "activate it first: moat ca rollover --activate" : "nothing to do");
    const oldRoot = generations.retiredRoots.find((r) => serialOf(r.cert) === rollover.fromRootSerial);
    const underOldRoot = generations.retiredIntermediates.filter((i) => oldRoot && i.cert.checkIssued(oldRoot.cert) && i.cert.verify(oldRoot.cert.publicKey));
    const removals = [ROLLOVER_FILE, ...(oldRoot ? [oldRoot.dir] : []), ...underOldRoot.map((i) => i.dir)].map((path) => path.startsWith(caDir) ? path.slice(caDir.length + 1) : path);
    const bundle = joinPem(...bundleRoots(ca.bundlePem).filter((r) => serialOf(r) !== rollover.fromRootSerial).map((r) => r.toString()));
    await commitCaTransaction(caDir, { writes: [certWrite("bundle.pem", bundle)], removals }, { crashAfterSteps: options.crashAfterSteps });
    return { step: "finish-root-rollover", from: rollover.fromRootSerial, to: rollover.toRootSerial, summary: `finished the root rollover: bundle.pem holds only the new root (serial ${rollover.toRootSerial}); the old root and its intermediates are gone` };
  });
}

/** Deletes retired intermediates (and their keys) that have expired: nothing they signed is valid any more. */
export function pruneRetired(options: StepOptions): Promise<CaRotationResult> {
  return withCaLock(options.dataDir, async () => {
    const caDir = join(options.dataDir, "ca");
    const now = options.clock();
    const { retiredIntermediates } = await readCaGenerations(options.dataDir);
    const expired = retiredIntermediates.filter((i) => i.cert.validToDate.getTime() <= now.getTime());
    if (expired.length > 0) await commitCaTransaction(caDir, { writes: [], removals: expired.map((i) => i.dir.slice(caDir.length + 1)) });
    return { step: "prune-retired", summary: `deleted ${expired.length} expired retired intermediate(s) and their keys` };
  });
}

/** When each rotation step is due; the earliest one first. Pure: what `maintainCertificateAuthority` and `moat ca status` show. */
export function planCaRotation(state: { rootPem: string; intermediatePem: string; generations: CaGenerations }, policy: CaRotationPolicy): { step: CaRotationStep; at: Date }[] {
  const { rollover, retiredIntermediates } = state.generations;
  const due = (pemText: string) => {
    const cert = new X509Certificate(pemText);
    return renewalTime({ notBefore: cert.validFromDate, notAfter: cert.validToDate, serialHex: serialOf(cert) }, policy.renewAtFraction);
  };
  const steps: { step: CaRotationStep; at: Date }[] = [{ step: "renew-intermediate", at: due(state.intermediatePem) }];
  if (rollover?.phase === "prepared") steps.push({ step: "activate-root-rollover", at: rollover.activateAt });
  else if (rollover?.phase === "activated") steps.push({ step: "finish-root-rollover", at: rollover.finishAt });
  else steps.push({ step: "prepare-root-rollover", at: due(state.rootPem) });
  const firstExpiry = Math.min(...retiredIntermediates.map((i) => i.cert.validToDate.getTime()));
  if (Number.isFinite(firstExpiry)) steps.push({ step: "prune-retired", at: new Date(firstExpiry) });
  return steps.sort((a, b) => a.at.getTime() - b.at.getTime());
}

const STEPS: Record<CaRotationStep, (options: StepOptions) => Promise<CaRotationResult>> = {
  "renew-intermediate": renewIntermediate,
  "prepare-root-rollover": prepareRootRollover,
  "activate-root-rollover": activateRootRollover,
  "finish-root-rollover": finishRootRollover,
  "prune-retired": pruneRetired,
};

/**
 * Runs every rotation step that is due (a few at most), and says when the next one is.
 *
 * @example
 * const { performed, nextAt } = await maintainCertificateAuthority({ dataDir, masterKey, clock, policy });
 * for (const r of performed) log.warn({ step: r.step, from: r.from, to: r.to }, r.summary);
 */
export async function maintainCertificateAuthority(options: StepOptions): Promise<{ performed: CaRotationResult[]; nextAt: Date | null }> {
  const performed: CaRotationResult[] = [];
  for (let round = 0; round < 5; round++) {
    const { ca } = await openCaFiles({ dataDir: options.dataDir, clock: options.clock, masterKey: options.masterKey });
    const plan = planCaRotation({ rootPem: ca.rootPem, intermediatePem: ca.intermediatePem, generations: await readCaGenerations(options.dataDir) }, options.policy);
    const next = plan[0];
    if (!next || next.at.getTime() > options.clock().getTime()) return { performed, nextAt: next?.at ?? null };
    performed.push(await STEPS[next.step](options));
  }
  return { performed, nextAt: options.clock() };
}
