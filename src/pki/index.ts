// Moat's private PKI: a two-tier CA on disk (or in memory for tests), leaf issuance for viewers' servers and origins' clients, and a store that reuses fresh certificates.
import { createCertificateAuthority, DEFAULT_CA_NAME, generateCa } from "./ca.ts";
import { initCaFiles, openCaFiles, readCaBundleFile } from "./ca-files.ts";
import { createCertStore } from "./cert-store.ts";
import type { OpenedCertificates } from "./opened-certificates.ts";
import { describeCertificate as describe } from "./describe.ts";
import { DEFAULT_KEY_ALGORITHM } from "./key-algorithms.ts";
import type { MasterKey } from "./master-key.ts";
import { CaAlreadyExistsError, CaNotFoundError } from "../errors.ts";
import type {
  CertificateAuthority,
  CertificateDescription,
  Clock,
  IssuedCertificateStore,
  KeyAlgorithm,
} from "./types.ts";

export { renewalTime, renewsAt } from "./renewal.ts";

/** Writes a private key atomically with mode 0600 (temp file, fsync, rename), whatever the umask or an older file's mode. */
export { writeKeyFileAtomic, writeFileAtomic } from "./key-files.ts";

/** `spiffe://<trust domain>/admin/<role>/<name>`: how an admin API client certificate carries its role. */
export { adminSpiffeId, parseAdminSpiffeId } from "./names.ts";

/**
 * Certificate signing requests: made where the key is, verified by the CA (proof of possession, a key Moat signs for).
 *
 * @example
 * const { keyPem, csrPem } = await createKeyAndCsr("ecdsa-p256", "shop/app"); // keyPem stays here
 * const publicKeyPem = await verifiedCsrPublicKey(csrPem); // CertificateRequestInvalidError when it does not verify
 */
export { createKeyAndCsr, verifiedCsrPublicKey } from "./csr.ts";

/**
 * The CA as a joined edge sees it: its public certificates, and a channel its CSRs go through to the CA node.
 * The certificate store issues with it as with a local CA; the keys are made, and stay, on the edge.
 *
 * @example
 * const ca = createCsrCertificateAuthority(published, channel);
 * const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
 */
export { createCsrCertificateAuthority } from "./csr-authority.ts";
export type { CertificateSigningChannel, CsrSubject, PublicCaCertificates } from "./csr-authority.ts";

export type {
  AdminClientCertificateRequest,
  CertificateAuthority,
  CertificateDescription,
  Clock,
  IssuedCertificate,
  IssuedCertificateStore,
  KeyAlgorithm,
  OriginClientCertificateForKeyRequest,
  OriginClientCertificateRequest,
  ServerCertificateForKeyRequest,
  ServerCertificateRequest,
  SignedCertificate,
} from "./types.ts";

/** Every key algorithm Moat issues with (`ecdsa-p256`, `ecdsa-p384`, `rsa-2048`, `rsa-3072`), for a config schema's enum. */
export { KEY_ALGORITHMS } from "./key-algorithms.ts";
/** The algorithm of a public or private key if Moat issues with it, else undefined (enrolment checks a CSR's key with it). */
export { detectKeyAlgorithm } from "./key-algorithms.ts";

/**
 * The master key that private keys at rest are encrypted under.
 *
 * @example
 * const masterKey = await loadMasterKey(resolveMasterKeySource({ configuredFile: config.pki.masterKeyFile }), { dataDir: config.dataDir });
 * log.info({ masterKey: { source: masterKey.source, id: masterKey.id } }, "master key loaded"); // never the key itself
 * const { masterKey: created } = await openOrCreateMasterKeyFile("/etc/moat/master.key", { dataDir, from: "--master-key-file" });
 * const inMemory = generateMasterKey(); // tests
 */
export { generateMasterKey, loadMasterKey, openOrCreateMasterKeyFile } from "./master-key.ts";
export type { MasterKey } from "./master-key.ts";

/**
 * Encrypts and decrypts PEM private keys under the master key (encrypted PKCS#8, PBES2 with AES-256-CBC).
 *
 * @example
 * await writeKeyFileAtomic(path, sealPrivateKey(keyPem, masterKey));
 * const { keyPem } = openPrivateKey(await readFile(path, "utf8"), masterKey, path); // MasterKeyWrongError if it does not decrypt
 */
export { isSealedPrivateKey, openPrivateKey, sealPrivateKey } from "./key-vault.ts";

/** Called with the path of each plaintext key file (from before keys were encrypted) that was just encrypted in place: log it. */
export type KeyFileEncryptedListener = (path: string) => void;

export interface CertificateAuthorityInitOptions {
  /** Moat's data directory; the CA goes in `<dataDir>/ca/`. */
  dataDir: string;
  /** Algorithm of the root, the intermediate and (by default) every leaf. Default `ecdsa-p256`. */
  keyAlgorithm?: KeyAlgorithm;
  /** Names the CA: subjects `CN=<name> Root CA, O=<name>` and `CN=<name> Intermediate CA, O=<name>`. Default `Moat`. */
  name?: string;
  clock?: Clock;
  /** The two private keys are written encrypted under it. */
  masterKey: MasterKey;
  /**
   * Written to `<dataDir>/ca/publication.json` (see writeCaPublication): the intermediate and every leaf
   * then carry a CRL Distribution Point. Checked before anything is written (CrlBaseUrlInvalidError). Default: none.
   */
  crlBaseUrl?: string | null;
}

export interface CertificateAuthorityOpenOptions {
  dataDir: string;
  /** The key the CA's private keys were encrypted under. */
  masterKey: MasterKey;
  clock?: Clock;
  /** Told about each plaintext key file that opening encrypted in place. */
  onKeyFileEncrypted?: KeyFileEncryptedListener;
}

const systemClock: Clock = () => new Date();

/**
 * Creates a new CA: `<dataDir>/ca/{root.pem,root.key,intermediate.pem,intermediate.key,bundle.pem}`,
 * keys encrypted under the master key, 0600 in a 0700 directory, all five files appearing at once.
 * Never overwrites: throws CaAlreadyExistsError if `<dataDir>/ca` holds anything.
 *
 * @example
 * const ca = await initCertificateAuthority({ dataDir: "/var/lib/moat", masterKey });
 * await writeFile("moat-ca.pem", ca.bundlePem); // give this to origins
 */
export function initCertificateAuthority(options: CertificateAuthorityInitOptions): Promise<CertificateAuthority> {
  return initCaFiles({
    dataDir: options.dataDir,
    keyAlgorithm: options.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM,
    name: options.name ?? DEFAULT_CA_NAME,
    clock: options.clock ?? systemClock,
    masterKey: options.masterKey,
    crlBaseUrl: options.crlBaseUrl ?? null,
  });
}

/**
 * Opens the CA in `<dataDir>/ca`. Throws CaNotFoundError (fix: `moat ca init`) if there is none,
 * MasterKeyWrongError if a key does not decrypt under `masterKey` (nothing is changed then),
 * CaCorruptError if a file is missing, does not parse, or a key does not match its certificate,
 * KeyFileInsecureError if a key file is readable by others. A key file still in plaintext (a CA
 * made before keys were encrypted) is encrypted in place once every check has passed, and
 * reported to `onKeyFileEncrypted`.
 *
 * @example
 * const ca = await openCertificateAuthority({ dataDir: "/var/lib/moat", masterKey, onKeyFileEncrypted: (path) => log.warn({ path }, "encrypted a plaintext key") });
 * const cert = await ca.issueServerCertificate({ dnsNames: ["shop.example.test"], validityMs: 7 * 86_400_000 });
 */
export async function openCertificateAuthority(options: CertificateAuthorityOpenOptions): Promise<CertificateAuthority> {
  const { ca, encryptedKeyFiles } = await openCaFiles({ dataDir: options.dataDir, clock: options.clock ?? systemClock, masterKey: options.masterKey });
  for (const path of encryptedKeyFiles) options.onKeyFileEncrypted?.(path);
  return ca;
}

/**
 * The CA bundle (`<dataDir>/ca/bundle.pem`) exactly as on disk: what origins and viewers trust.
 * Needs no master key. Throws CaNotFoundError or CaCorruptError.
 *
 * @example
 * process.stdout.write(await readCaBundle("/var/lib/moat"));
 */
export function readCaBundle(dataDir: string): Promise<string> {
  return readCaBundleFile(dataDir);
}

/**
 * Opens the CA, creating it first if there is none (what `moat demo` and first start want).
 *
 * @example
 * const { ca, created } = await openOrInitCertificateAuthority({ dataDir: ".moat", masterKey });
 * if (created) log.info("created a new CA; distribute .moat/ca/bundle.pem");
 */
export async function openOrInitCertificateAuthority(
  options: CertificateAuthorityInitOptions & Pick<CertificateAuthorityOpenOptions, "onKeyFileEncrypted">,
): Promise<{ ca: CertificateAuthority; created: boolean }> {
  try {
    return { ca: await openCertificateAuthority(options), created: false };
  } catch (error) {
    if (!(error instanceof CaNotFoundError)) throw error;
  }
  try {
    return { ca: await initCertificateAuthority(options), created: true };
  } catch (error) {
    // Another process created it between our open and our init: use theirs.
    if (!(error instanceof CaAlreadyExistsError)) throw error;
    return { ca: await openCertificateAuthority(options), created: false };
  }
}

/**
 * A CA that lives only in memory, for tests: each suite makes its own, so no PEM or key is ever committed.
 *
 * @example
 * const ca = await createEphemeralCertificateAuthority();
 * const server = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
 * tls.createServer({ key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem, requestCert: true });
 */
export async function createEphemeralCertificateAuthority(
  options: { keyAlgorithm?: KeyAlgorithm; name?: string; clock?: Clock } = {},
): Promise<CertificateAuthority> {
  const clock = options.clock ?? systemClock;
  const { material } = await generateCa({
    keyAlgorithm: options.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM,
    name: options.name ?? `${DEFAULT_CA_NAME} Ephemeral`,
    now: clock(),
  });
  return createCertificateAuthority(material, clock);
}

/**
 * What a process opened of its stored certificates, kept across its builds (see createIssuedCertificateStore's `opened`).
 * @example
 * const opened = createOpenedCertificates(); // once per edge
 * const store = createIssuedCertificateStore({ ca, dataDir, masterKey, opened }); // each build
 */
export { createOpenedCertificates } from "./opened-certificates.ts";
export type { OpenedCertificates } from "./opened-certificates.ts";

/**
 * Certificates kept under `<dataDir>/certs/`, reused while issued by this CA's current intermediate,
 * naming exactly the requested identity, and with more than a third of their life left; otherwise
 * issued anew and written atomically (key encrypted under the master key, 0600; directories 0700).
 * A stored key that does not decrypt under `masterKey` throws MasterKeyWrongError; one stored in
 * plaintext (from before keys were encrypted) is not reused: a fresh key replaces it.
 *
 * @example
 * const store = createIssuedCertificateStore({ ca, dataDir: "/var/lib/moat", masterKey });
 * const client = await store.originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 86_400_000 });
 * const viewer = await store.serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example.test"], validityMs: 7 * 86_400_000 });
 */
export function createIssuedCertificateStore(options: {
  ca: CertificateAuthority;
  dataDir: string;
  /** Leaf keys are written encrypted under it. */
  masterKey: MasterKey;
  clock?: Clock;
  /** Renew at this fraction of the life, less a per-certificate jitter (see renewalTime). Default 2/3. */
  renewAtFraction?: number;
  /** Serials from the revocation registry: a stored certificate with one is replaced at once, never kept. */
  revokedSerials?: ReadonlySet<string>;
  /** Serials an operator asked to rotate now (readRotationRequests): re-issued as if due. */
  rotateSerials?: ReadonlySet<string>;
  /** Told (directory, reason) when a stored certificate is unusable and will be replaced: log it. */
  onDiscard?: (dir: string, reason: string) => void;
  /** A worker's store: it reads the active certificates and never writes (StoredCertificateMissingError when none is usable). */
  isReadOnly?: boolean;
  /** Certificates an earlier store of this process opened (createOpenedCertificates, kept across builds): unchanged files are not opened again. */
  opened?: OpenedCertificates;
}): IssuedCertificateStore {
  return createCertStore({ ...options, clock: options.clock ?? systemClock });
}

/**
 * The log-safe facts of the first certificate in a PEM: serial, SHA-256 fingerprint, names, dates,
 * usages. Log these, never the PEM or a key. Throws CertificateUnreadableError.
 *
 * @example
 * const { serialHex, fingerprint256, sans, notAfter } = describeCertificate(issued.certPem);
 * log.info({ serial: serialHex, fingerprint256, sans, notAfter }, "issued origin client certificate");
 */
export function describeCertificate(pem: string): CertificateDescription {
  return describe(pem);
}

/**
 * Revocation (see revocation.ts; each function has its own example): the registry
 * `<dataDir>/ca/revoked.json`, final and idempotent.
 *
 * @example
 * const { revocation, wasAlreadyRevoked, storedAt } = await revokeCertificate({ dataDir, serialHex: "4A:0B:…", reason: "keyCompromise", ca });
 * const revoked = await readRevocations(dataDir); // [{ serialHex: "4a0b…", reason: "keyCompromise", revokedAt: Date }]
 */
export {
  findStoredCertificates,
  parseRevocationReason,
  parseSerialHex,
  readRevocations,
  readRevocationTimes,
  REVOCATION_REASONS,
  revocationRegistryPath,
  revokeCertificate,
} from "./revocation.ts";
export type { RevokeResult } from "./revocation.ts";

/**
 * CRLs (see crl.ts): `<dataDir>/ca/crl.{pem,der}` signed by the intermediate, and `crl-bundle.pem`
 * (that CRL + the root's) for origins. Refresh at half the validity.
 *
 * @example
 * const crl = await publishCrl({ ca, dataDir, masterKey }); // after every revocation
 * const { crl: current } = await ensureFreshCrl({ ca, dataDir, masterKey }); // on a timer: republishes when due
 * setTimeout(check, crlRefreshAt(current).getTime() - Date.now());
 * https.createServer({ ..., crl: splitCrlPem(current.bundlePem) }); // an origin (Node reads one CRL per entry)
 */
export {
  createCrl,
  CRL_FILES,
  crlRefreshAt,
  DEFAULT_CRL_VALIDITY_MS,
  ensureFreshCrl,
  isCrlRefreshDue,
  publishCrl,
  readCaCertificates,
  readFreshCrl,
  readPublishedCrl,
  splitCrlPem,
} from "./crl.ts";
export type { CaCertificates, PublishCrlOptions, PublishedCrl } from "./crl.ts";
export type { CrlSigningOptions, Revocation, RevocationReason, SignedCrl } from "./types.ts";

/**
 * Certificates users bring from other CAs (PEM chain + key, or PKCS#12), validated for a use
 * (`viewer-server` or `origin-client`); refusals are CertificateImportError with a stable code.
 *
 * @example
 * const imported = await importCertificate({ use: "origin-client", source: { kind: "pkcs12", data: p12 }, passphrase, now: clock() });
 * const warning = expiryWarning(imported.notAfter, clock()); // { thresholdDays: 7, daysLeft: 5 } or null
 */
export { checkImport, expiryWarning, importCertificate, pkcs12ChainPem } from "./import/index.ts";
/** Splits PEM text into labelled blocks with their DER; throws CertificateImportError (import-pem-malformed) naming the block. */
export { readPemBlocks } from "./import/pem-blocks.ts";
export type { PemBlock } from "./import/pem-blocks.ts";
export type { CertificateUse, CheckedImport, ExpiryWarning, ImportedCertificate, ImportRequest, ImportSource } from "./import/index.ts";

/**
 * Every certificate Moat holds (CA, issued leaves with their active/next/retired state, imported ones a
 * config names), with revocations and expiry warnings; reads certificates only, never keys.
 *
 * @example
 * for (const e of await listCertificates({ dataDir, now: new Date() })) console.log(e.use, e.name, e.serialHex, e.state);
 */
export { listCertificateRecords, listCertificates } from "./inventory.ts";
export type { ImportedCertificateRef, InventoryEntry, RecordedInventoryEntry, InventoryState, InventoryUse } from "./inventory.ts";

/**
 * CA rotation (see ca-rotation.ts): the intermediate renews under the same root; a root rolls
 * over in three steps (prepare: both roots in bundle.pem; activate: the new one issues; finish:
 * the old one leaves the bundle). Each step is crash-safe; `maintainCertificateAuthority` runs
 * whatever is due, which is what a running edge does.
 *
 * @example
 * const { performed, nextAt } = await maintainCertificateAuthority({ dataDir, masterKey, clock: () => new Date(), policy: DEFAULT_CA_ROTATION_POLICY });
 * await prepareRootRollover({ dataDir, masterKey, clock, policy: { ...DEFAULT_CA_ROTATION_POLICY, rolloverOverlapMs: 7 * 86_400_000 } });
 */
export {
  activateRootRollover,
  caTrustOf,
  DEFAULT_CA_ROTATION_POLICY,
  DEFAULT_ROLLOVER_OVERLAP_MS,
  finishRootRollover,
  maintainCertificateAuthority,
  planCaRotation,
  prepareRootRollover,
  pruneRetired,
  renewIntermediate,
  rolloverNewRoot,
} from "./ca-rotation.ts";
export type { CaRotationPolicy, CaRotationResult, CaRotationStep, CaTrust, FleetGate } from "./ca-rotation.ts";
export { readCaGenerations } from "./ca-layout.ts";
export type { CaGenerations, RolloverState } from "./ca-layout.ts";

/**
 * What an operator does to the CA by hand, shared by `moat ca` and the admin API: revoke and publish
 * the CRL, take one rotation step (then publish a CRL), read the CA's generations and what is due.
 *
 * @example
 * const { revocation, crl } = await revokeAndPublishCrl({ dataDir, serialHex, reason: "keyCompromise", ca, masterKey });
 * const { result } = await runCaRotationStep("renew-intermediate", { dataDir, masterKey });
 * const { certificates, rollover, next } = await readCaStatus(dataDir);
 */
export { MANUAL_CA_ROTATION_STEPS, readCaStatus, revokeAndPublishCrl, runCaRotationStep } from "./ca-operations.ts";
export type { CaStatus, CaStatusEntry, ManualCaRotationStep } from "./ca-operations.ts";

/**
 * "Rotate now": `<dataDir>/certs/rotation-requests.json` names issued leaves in use to replace; a running
 * edge watches it and its store re-issues them (pass readRotationRequests' serials as `rotateSerials`).
 *
 * @example
 * await requestLeafRotation({ dataDir, serialHex: "4a0b…", now: new Date() });
 * const rotateSerials = new Set((await readRotationRequests(dataDir)).map((r) => r.serialHex));
 */
export { readRotationRequests, requestLeafRotation, ROTATION_REQUESTS_FILE, rotationRequestsPath } from "./rotation-requests.ts";
export type { RotationRequest } from "./rotation-requests.ts";

/**
 * A certificate from another CA kept in the data directory (the admin API's import): every import check first, then
 * the chain and the key sealed under the master key; a refusal writes nothing.
 *
 * @example
 * await storeImportedCertificate({ dataDir, masterKey, name: "shop-ev", use: "viewer-server", chainPem, keyPem, expectedNames: ["shop.example"], now: new Date() });
 */
export { importedSlotDir, readStoredImport, storeImportedCertificate } from "./imported-store.ts";

/**
 * The CA's CRL publication setting (`<dataDir>/ca/publication.json`): a base URL, http: only, that every
 * certificate issued from then on points at as its CRL Distribution Point, `<base>crl/<issuer serial>.der`
 * (the edge's plain-HTTP port serves `<dataDir>/ca/crls/` at `/.well-known/moat/crl/`). Read where the CA
 * is opened, so every issuing path agrees; certificates already issued keep theirs until renewed.
 *
 * @example
 * await writeCaPublication(dataDir, { crlBaseUrl: parseCrlBaseUrl("http://edge.example.com/.well-known/moat/") });
 * const { crlBaseUrl } = await readCaPublication(dataDir); // null when none is set
 * crlDistributionUrl(crlBaseUrl, "4a0b…") // "http://edge.example.com/.well-known/moat/crl/4a0b….der"
 */
export { CRLS_DIR, crlDistributionUrl, parseCrlBaseUrl, PUBLICATION_FILE, readCaPublication, writeCaPublication } from "./publication.ts";
export type { CaPublication } from "./publication.ts";

/**
 * A joined edge's data directory: the record of its join and its CA's public certificates (no CA key, ever).
 *
 * @example
 * await writeJoinedCa(dataDir, published); await writeJoinedEdge(dataDir, { name, region, store, joinedAt, sealingKeyId });
 * const joined = await readJoinedEdge(dataDir); // undefined: not a joined edge
 */
export { checkNoCaKeys, JOINED_EDGE_FILE, readJoinedEdge, writeJoinedCa, writeJoinedEdge, writeJoinedRevocations } from "./joined-edge-files.ts";
export type { JoinedEdgeRecord } from "./joined-edge-files.ts";

/**
 * Signed audit checkpoints (docs/explanation/audit-trail.md#signed-checkpoints): the data directory's signer (an ECDSA
 * P-256 key sealed under the master key, a certificate with Moat's audit-signing EKU), its record of the last
 * checkpoint, and the check of a checkpoint against the CA bundle.
 * @example
 * const signer = await openAuditSigner({ dataDir, masterKey, ca, name: "edge-1" });
 * const check = createAuditCheckpointCheck(await readCaBundle(dataDir));
 */
export { AUDIT_ANCHOR_FILE, AUDIT_DIR, AUDIT_SIGNER_CERT_FILE, AUDIT_SIGNER_KEY_FILE, AUDIT_SIGNER_VALIDITY_MS, createAuditCheckpointCheck, openAuditSigner, readAuditAnchor, writeAuditAnchor } from "./audit-signer.ts";
export type { AuditCheckpointAnchorFile, AuditCheckpointCheckResult, AuditCheckpointSigningKey, AuditSignerRevocations } from "./audit-signer.ts";
export { AUDIT_CHECKPOINT_SIGNING_EKU } from "./profiles.ts";
