// Publishes Moat's CRL as files in <dataDir>/ca/ (signed by the intermediate, numbered, refreshed before its nextUpdate) for origins to refuse revoked edge certificates.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaCorruptError, CaNotFoundError } from "../errors.ts";
import { previousIntermediates } from "./ca-files.ts";
import { PENDING_DIR, readCaGenerations, RETIRED_DIR, serialOf } from "./ca-layout.ts";
import { loadCaSigner } from "./ca-signer.ts";
import { recoverCaTransaction } from "./ca-transaction.ts";
import { crlNumberOf, signCrlWith } from "./crl-sign.ts";
import { splitPemCertificates } from "./describe.ts";
import { CERT_FILE_MODE, writeFileAtomic } from "./key-files.ts";
import type { MasterKey } from "./master-key.ts";
import { CRLS_DIR, writeIssuerCrls } from "./publication.ts";
import { readRevocations } from "./revocation.ts";
import { withRevocationLock } from "./revocation-lock.ts";
import { ensureRootCrl, ROOT_CRL_FILES } from "./root-crl.ts";
import { backdateMs, CLOCK_SKEW_BACKDATE_MS } from "./sign.ts";
import type { CertificateAuthority, Clock, Revocation, SignedCrl } from "./types.ts";
import { x509 } from "./x509-lib.ts";

/** A day: short enough that a revocation reaches every origin within hours, long enough to survive a night without the edge. */
export const DEFAULT_CRL_VALIDITY_MS = 24 * 60 * 60 * 1000;

/**
 * `crl.pem`/`crl.der`: the intermediate's CRL, listing every revoked leaf.
 * `crl-bundle.pem`: that CRL then the root's: what an origin loads, since
 * OpenSSL wants a CRL for every level of the chain (see root-crl.ts); after a
 * CA rotation, also the CRLs of earlier intermediates and of the other root.
 * `crls/<serial>.der`: each of those CRLs again, DER, named by its issuer's serial: what the
 * CRL Distribution Point of a certificate that issuer signed points at (publication.ts).
 */
export const CRL_FILES = { pem: "crl.pem", der: "crl.der", bundle: "crl-bundle.pem", number: "crl-number" } as const;

/** A CRL as published: the files' contents and the facts a refresh is scheduled from. */
export interface PublishedCrl {
  /** The intermediate's CRL. */
  pem: string;
  der: Buffer;
  /** The intermediate's CRL then the root's, PEM: for nginx `ssl_crl`, HAProxy `crl-file`, Node `crl` (after splitCrlPem). */
  bundlePem: string;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
  /** Lower-case hex serials the CRL lists. */
  revokedSerials: string[];
}

export interface PublishCrlOptions {
  ca: CertificateAuthority;
  dataDir: string;
  /** Decrypts the root's key in the rare case its own CRL must be (re)signed. */
  masterKey: MasterKey;
  clock?: Clock;
  /** nextUpdate − now. Default 24 h (DEFAULT_CRL_VALIDITY_MS). */
  validityMs?: number;
}

const systemClock: Clock = () => new Date();

/**
 * A CRL of `revocations` signed by the CA's intermediate (`ca.signCrl`): reason codes, CRL Number, Authority Key Identifier.
 *
 * @example
 * const { pem, der } = await createCrl({ ca, revocations: await readRevocations(dataDir), thisUpdate, nextUpdate, crlNumber: 7 });
 */
export function createCrl(options: {
  ca: CertificateAuthority;
  revocations: readonly Revocation[];
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
}): Promise<SignedCrl> {
  const { ca, revocations, thisUpdate, nextUpdate, crlNumber } = options;
  return ca.signCrl(revocations, { thisUpdate, nextUpdate, crlNumber });
}

/** When a CRL should be replaced: halfway through its validity, so that a failed refresh has the other half to succeed in. */
export function crlRefreshAt(crl: { thisUpdate: Date; nextUpdate: Date }): Date {
  return new Date(crl.thisUpdate.getTime() + (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 2);
}

/**
 * True once a CRL is halfway through its validity (or past it).
 *
 * @example
 * if (isCrlRefreshDue(published, clock())) await publishCrl({ ca, dataDir, masterKey });
 */
export function isCrlRefreshDue(crl: { thisUpdate: Date; nextUpdate: Date }, now: Date): boolean {
  return now.getTime() >= crlRefreshAt(crl).getTime();
}

/** Each CRL of a PEM bundle as its own PEM: Node's `tls` reads one CRL per entry of its `crl` array. */
export function splitCrlPem(pem: string): string[] {
  return x509.PemConverter.decodeWithHeaders(pem)
    .filter((block) => block.type === "X509 CRL")
    .map((block) => `${x509.PemConverter.encode(block.rawData, "X509 CRL")}\n`);
}

function pemCrlToDer(pem: string): Buffer {
  return Buffer.from(new x509.X509Crl(pem).rawData);
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  return readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
}

/**
 * True if a bundle is this CRL, then a CRL the CA's root signed, then one CRL for each other
 * certificate authority still trusted: earlier intermediates and the other root of a rollover.
 */
async function isWholeBundle(bundlePem: string, der: Buffer, ca: CaCertificates): Promise<boolean> {
  const [first, second, ...rest] = splitCrlPem(bundlePem);
  if (!first || !second || !Buffer.from(new x509.X509Crl(first).rawData).equals(der)) return false;
  const rootCrl = new x509.X509Crl(second);
  const root = new x509.X509Certificate(ca.rootPem);
  if (rootCrl.issuer !== root.subject || !(await rootCrl.verify({ publicKey: root }))) return false;
  const expected = otherAuthorities(ca).map((pem) => new x509.X509Certificate(pem).subject).sort();
  const actual = rest.map((crl) => new x509.X509Crl(crl).issuer).sort();
  return expected.length === actual.length && expected.every((name, i) => name === actual[i]);
}

/** CA certificates besides the active pair whose CRLs origins need: earlier intermediates, and the other root of a rollover. */
function otherAuthorities(ca: CaCertificates): string[] {
  const activeRoot = new X509Certificate(ca.rootPem).fingerprint256;
  const otherRoots = splitPemCertificates(ca.bundlePem).filter((pem) => new X509Certificate(pem).fingerprint256 !== activeRoot);
  return [...ca.previousIntermediatePems, ...otherRoots];
}

/**
 * The CRL published in `<dataDir>/ca/`, if there is one signed by this CA's intermediate;
 * undefined when it is missing, damaged, or another CA's. Does not look at its dates.
 *
 * @example
 * const crl = await readPublishedCrl({ ca, dataDir });
 * if (crl) tls.createSecureContext({ ..., crl: splitCrlPem(crl.bundlePem) });
 */
export async function readPublishedCrl(options: { ca: CaCertificates; dataDir: string }): Promise<PublishedCrl | undefined> {
  const caDir = join(options.dataDir, "ca");
  const issuerCrl = join(CRLS_DIR, `${serialOf(new X509Certificate(options.ca.intermediatePem))}.der`);
  const [der, pem, bundle, published] = await Promise.all([CRL_FILES.der, CRL_FILES.pem, CRL_FILES.bundle, issuerCrl].map((file) => readIfPresent(join(caDir, file))));
  // crls/<serial>.der missing or older (a data directory from before CRL Distribution Points): publish again.
  if (!der || !pem || !bundle || !published?.equals(der)) return undefined;
  try {
    const crl = new x509.X509Crl(der);
    const intermediate = new x509.X509Certificate(options.ca.intermediatePem);
    const isOurs = crl.issuer === intermediate.subject && (await crl.verify({ publicKey: intermediate }));
    const crlNumber = crlNumberOf(crl);
    const isWhole = Buffer.from(new x509.X509Crl(pem.toString("utf8")).rawData).equals(der) && (await isWholeBundle(bundle.toString("utf8"), der, options.ca));
    if (!isOurs || !isWhole || crlNumber === undefined || !crl.nextUpdate) return undefined;
    return {
      pem: pem.toString("utf8"),
      der,
      bundlePem: bundle.toString("utf8"),
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
      crlNumber,
      revokedSerials: crl.entries.map((entry) => entry.serialNumber.toLowerCase()),
    };
  } catch {
    return undefined;
  }
}

/**
 * The next CRL number, persisted in `<dataDir>/ca/crl-number` before any CRL carrying it is
 * written: a crash can skip a number, never reuse one. Never below a number already published,
 * should the counter file be lost.
 */
async function reserveCrlNumber(caDir: string, published: readonly (number | undefined)[]): Promise<number> {
  const path = join(caDir, CRL_FILES.number);
  const stored = Number.parseInt((await readIfPresent(path))?.toString("utf8") ?? "0", 10);
  const next = Math.max(Number.isSafeInteger(stored) ? stored : 0, ...published.map((n) => n ?? 0)) + 1;
  await writeFileAtomic(path, `${next}\n`, CERT_FILE_MODE);
  return next;
}

async function publishedNumbers(caDir: string): Promise<(number | undefined)[]> {
  return Promise.all(
    [CRL_FILES.der, ROOT_CRL_FILES.der].map(async (file) => {
      const der = await readIfPresent(join(caDir, file)).catch(() => undefined);
      if (!der) return undefined;
      try {
        return crlNumberOf(new x509.X509Crl(der));
      } catch {
        return undefined;
      }
    }),
  );
}

function checkValidityMs(validityMs: number): number {
  if (!Number.isFinite(validityMs) || validityMs < 60_000) throw new RangeError(`a CRL's validity must be at least one minute (got ${validityMs} ms)`);
  return validityMs;
}

/**
 * Signs a new CRL of every revocation in the registry and writes `<dataDir>/ca/crl.pem`,
 * `crl.der` and `crl-bundle.pem` atomically (0644), under the revocation lock so that it never
 * overwrites a newer one. thisUpdate is backdated (a minute at most) for origins whose clocks run slow;
 * nextUpdate is now + validityMs. Signs the root's CRL too when it is missing (see root-crl.ts).
 *
 * @example
 * const crl = await publishCrl({ ca, dataDir: "/var/lib/moat", masterKey });
 * setTimeout(refresh, crlRefreshAt(crl).getTime() - Date.now());
 */
export async function publishCrl(options: PublishCrlOptions): Promise<PublishedCrl> {
  const { ca, dataDir, masterKey } = options;
  const validityMs = checkValidityMs(options.validityMs ?? DEFAULT_CRL_VALIDITY_MS);
  const caDir = join(dataDir, "ca");
  return withRevocationLock(dataDir, async () => {
    const revocations = await readRevocations(dataDir);
    const now = (options.clock ?? systemClock)();
    const numbers = await publishedNumbers(caDir);
    const reserve = () => reserveCrlNumber(caDir, numbers);
    const rootCrlPem = await ensureRootCrl({ ca, dataDir, masterKey, now, reserveCrlNumber: reserve });
    const crlNumber = await reserve();
    const thisUpdate = new Date(now.getTime() - backdateMs(validityMs));
    const nextUpdate = new Date(now.getTime() + validityMs);
    const signed = await createCrl({ ca, revocations, thisUpdate, nextUpdate, crlNumber });
    const others = await otherAuthorityCrls({ ca, dataDir, masterKey, revocations, thisUpdate, nextUpdate, crlNumber });
    const bundlePem = `${signed.pem}${rootCrlPem}${others.map((c) => c.pem).join("")}`;
    // Each issuer's CRL where its certificates' CRL Distribution Point says (publication.ts); before crl.der,
    // which readPublishedCrl checks last, so a crash in between publishes again.
    await writeIssuerCrls(dataDir, [
      { issuerSerialHex: serialOf(new X509Certificate(ca.intermediatePem)), der: signed.der },
      { issuerSerialHex: serialOf(new X509Certificate(ca.rootPem)), der: pemCrlToDer(rootCrlPem) },
      ...others.map((c) => ({ issuerSerialHex: c.issuerSerialHex, der: pemCrlToDer(c.pem) })),
    ]);
    await writeFileAtomic(join(caDir, CRL_FILES.der), signed.der, CERT_FILE_MODE);
    await writeFileAtomic(join(caDir, CRL_FILES.pem), signed.pem, CERT_FILE_MODE);
    await writeFileAtomic(join(caDir, CRL_FILES.bundle), bundlePem, CERT_FILE_MODE);
    // What the CRL says (its times have one-second precision), not what was asked for.
    const crl = new x509.X509Crl(signed.der);
    return {
      ...signed,
      bundlePem,
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate ?? nextUpdate,
      crlNumber,
      revokedSerials: revocations.map((r) => r.serialHex),
    };
  });
}

/**
 * CRLs for the other authorities origins still trust (see otherAuthorities): each earlier
 * intermediate signs the same list (its key is still in retired/), and the other root's CRL
 * was signed once, when it was made or retired, since it revokes nothing.
 */
async function otherAuthorityCrls(options: {
  ca: CertificateAuthority;
  dataDir: string;
  masterKey: MasterKey;
  revocations: readonly Revocation[];
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
}): Promise<{ issuerSerialHex: string; pem: string }[]> {
  const { ca, dataDir } = options;
  const generations = await readCaGenerations(dataDir);
  const crls: { issuerSerialHex: string; pem: string }[] = [];
  for (const intermediatePem of ca.previousIntermediatePems) {
    const serial = serialOf(new X509Certificate(intermediatePem));
    const signer = await loadCaSigner(join(dataDir, "ca", RETIRED_DIR, `intermediate-${serial}`, "intermediate.key"), intermediatePem, options.masterKey);
    const nextUpdate = new Date(Math.min(options.nextUpdate.getTime(), new X509Certificate(intermediatePem).validToDate.getTime()));
    crls.push({ issuerSerialHex: serial, pem: (await signCrlWith(signer, options.revocations, { thisUpdate: options.thisUpdate, nextUpdate, crlNumber: options.crlNumber })).pem });
  }
  const activeRoot = new X509Certificate(ca.rootPem).fingerprint256;
  for (const rootPem of splitPemCertificates(ca.bundlePem)) {
    const root = new X509Certificate(rootPem);
    if (root.fingerprint256 === activeRoot) continue;
    const stored = generations.pending && new X509Certificate(generations.pending.rootPem).fingerprint256 === root.fingerprint256
      ? generations.pending.crlPem
      : generations.retiredRoots.find((r) => r.cert.fingerprint256 === root.fingerprint256)?.crlPem;
    if (!stored) throw new CaCorruptError(join(dataDir, "ca"), `the CRL of the root ${root.subject.replaceAll("\n", ", ")} (serial ${serialOf(root)}) is missing from ${PENDING_DIR}/ or ${RETIRED_DIR}/`);
    crls.push({ issuerSerialHex: serialOf(root), pem: stored });
  }
  return crls;
}

/** The CA's certificates: all that reading and checking a published CRL needs (no key). */
export type CaCertificates = Pick<CertificateAuthority, "rootPem" | "intermediatePem" | "bundlePem" | "previousIntermediatePems">;

/**
 * The CA's root and intermediate certificates as on disk (`<dataDir>/ca/{root,intermediate}.pem`),
 * without its keys: enough to check a published CRL with no master key.
 * Throws CaNotFoundError or CaCorruptError.
 *
 * @example
 * const crl = await readFreshCrl({ ca: await readCaCertificates(dataDir), dataDir });
 */
export async function readCaCertificates(dataDir: string): Promise<CaCertificates> {
  const caDir = join(dataDir, "ca");
  await recoverCaTransaction(caDir);
  const [rootPem, intermediatePem, bundlePem] = await Promise.all(["root.pem", "intermediate.pem", "bundle.pem"].map((file) => readIfPresent(join(caDir, file))));
  if (!rootPem && !intermediatePem) throw new CaNotFoundError(caDir);
  if (!rootPem || !intermediatePem || !bundlePem) throw new CaCorruptError(caDir, `missing ${!rootPem ? "root.pem" : !intermediatePem ? "intermediate.pem" : "bundle.pem"}`);
  try {
    new X509Certificate(rootPem);
    new X509Certificate(intermediatePem);
  } catch {
    throw new CaCorruptError(caDir, "root.pem or intermediate.pem is not a certificate");
  }
  const bundle = bundlePem.toString("utf8");
  return {
    rootPem: rootPem.toString("utf8"),
    intermediatePem: intermediatePem.toString("utf8"),
    bundlePem: bundle,
    previousIntermediatePems: await previousIntermediates(dataDir, bundle, new Date()),
  };
}

/**
 * The published CRL if it is this CA's, lists every revocation in the registry, is dated sanely,
 * and is not yet halfway through its validity; else undefined (time to publish). Needs no key.
 *
 * @example
 * const crl = (await readFreshCrl({ ca, dataDir })) ?? (await publishCrl({ ca, dataDir, masterKey }));
 */
export async function readFreshCrl(options: { ca: CaCertificates; dataDir: string; clock?: Clock }): Promise<PublishedCrl | undefined> {
  const now = (options.clock ?? systemClock)();
  const [published, revocations] = await Promise.all([readPublishedCrl(options), readRevocations(options.dataDir)]);
  if (!published) return undefined;
  const listsAll = revocations.every((r) => published.revokedSerials.includes(r.serialHex));
  // A CRL dated in the future (the clock went back) is replaced too: OpenSSL refuses it as "not yet valid".
  const isDatedSanely = published.thisUpdate.getTime() <= now.getTime() + CLOCK_SKEW_BACKDATE_MS;
  return listsAll && isDatedSanely && !isCrlRefreshDue(published, now) ? published : undefined;
}

/**
 * The published CRL while it is fresh (readFreshCrl), otherwise a newly published one: what
 * `moat ca crl` and an edge's periodic check call.
 *
 * @example
 * const { crl, isNew } = await ensureFreshCrl({ ca, dataDir, masterKey });
 * if (isNew) log.info({ crlNumber: crl.crlNumber, nextUpdate: crl.nextUpdate }, "published a CRL");
 */
export async function ensureFreshCrl(options: PublishCrlOptions): Promise<{ crl: PublishedCrl; isNew: boolean }> {
  const fresh = await readFreshCrl(options);
  if (fresh) return { crl: fresh, isNew: false };
  return { crl: await publishCrl(options), isNew: true };
}
