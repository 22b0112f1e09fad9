// One origin's client in a snapshot: reused while nothing changed, and a renewed certificate proven before it goes live.
import { createHash } from "node:crypto";
import type { DistributionConfig, MoatConfig, OriginConfig, ShieldConfig } from "../../config/index.ts";
import { createOriginClient, probeOriginClient } from "../../origin/index.ts";
import type { OriginClient, OriginClientCertificate, OriginClientOptions } from "../../origin/index.ts";
import type { Logger } from "../../observe/index.ts";
import type { IssuedCertificate, IssuedCertificateStore } from "../../pki/index.ts";
import { clientIdentity, importedCredentials, readConfiguredFile, storedCredentials } from "./credentials.ts";
import type { CredentialMaterial } from "./credentials.ts";
import type { SnapshotMemo } from "./snapshot-memo.ts";

export interface OriginEntry {
  client: OriginClient;
  /** Everything that shapes the client's connections; equal keys share a client. */
  contentKey: string;
  /** The issued client certificate in use (null for imported or none): what renewal looks at. */
  issued: { serialHex: string; notBefore: Date; notAfter: Date } | null;
  /** The imported client certificate in use (null for issued or none): what expiry warnings look at. */
  imported: { serialHex: string; fingerprint256: string; notAfter: Date } | null;
  /** Set while the origin refuses the renewed certificate: the old one stays, and renewal retries at `at`. */
  retry: { attempts: number; at: Date } | null;
}

export interface OriginEntrySources {
  store: IssuedCertificateStore;
  caPem: string;
  caBundleFile: string;
  log: Logger;
  now: Date;
  previous: OriginEntry | undefined;
  /** The build's memo: an imported client certificate or trusted CA file many origins share is read and checked once. */
  memo: SnapshotMemo;
}

const maxRetryDelayMs = 5 * 60_000;
/** The memo's owner for origins that present no client certificate. */
const NO_CREDENTIALS = Object.freeze({});

/** Builds (or keeps) the client of one origin. `path` is the origin's config path, for errors. */
export async function buildOriginEntry(config: MoatConfig, distribution: DistributionConfig, origin: OriginConfig, path: string, sources: OriginEntrySources): Promise<OriginEntry> {
  const base = distribution.shield ? await shieldOptions(distribution.id, distribution.shield, origin, path, sources) : await clientOptions(distribution.id, origin, path, sources);
  const renewal = { refusal: null as string | null, probe: "" };
  // A renewed certificate goes live only if the origin accepts it; the store keeps the current one otherwise.
  const prove = async (candidate: IssuedCertificate) => {
    const failure = await probeOriginClient({ ...base, clientCertificate: clientCertificateOf({ ...candidate, isIssued: true }, sources.memo) });
    renewal.probe = failure ? failure.code : "accepted";
    if (failure?.code !== "origin-rejected-client-cert") return true;
    renewal.refusal = failure.message;
    return false;
  };
  const credentials = await originCredentials(config, distribution, origin, path, sources, prove);
  const options: OriginClientOptions = { ...base, clientCertificate: credentials && clientCertificateOf(credentials, sources.memo) };
  const contentKey = clientKey(options, credentials, sources.memo);
  const issued = credentials?.isIssued ? { serialHex: credentials.serialHex, notBefore: credentials.notBefore, notAfter: credentials.notAfter } : null;
  const previous = sources.previous?.contentKey === contentKey ? sources.previous : undefined;
  const entry: OriginEntry = previous ? { ...previous, retry: null } : { client: createOriginClient(options, sources.log), contentKey, issued, imported: importedFacts(credentials), retry: null };
  if (renewal.refusal !== null) return withRetry(entry, sources.previous?.retry?.attempts ?? 0, renewal.refusal, sources);
  const before = sources.previous?.issued?.serialHex;
  if (issued && before && before !== issued.serialHex) {
    sources.log.info({ distribution: distribution.id, origin: origin.id, from: before, to: issued.serialHex, probe: renewal.probe || "not needed" }, "origin client certificate renewed");
  }
  return entry;
}

// The origin refused the renewed certificate (it does not trust the new issuer yet, say): the
// current certificate, still valid, stays in use, and the renewal retries with a growing delay.
function withRetry(entry: OriginEntry, earlierAttempts: number, reason: string, sources: OriginEntrySources): OriginEntry {
  const attempts = earlierAttempts + 1;
  const delayMs = Math.min(1000 * 2 ** (attempts - 1), maxRetryDelayMs);
  const at = new Date(Math.min(sources.now.getTime() + delayMs, entry.issued?.notAfter.getTime() ?? Infinity));
  sources.log.error(
    { origin: entry.client.originId, distribution: entry.client.context.distributionId, keeping: entry.issued?.serialHex, validUntil: entry.issued?.notAfter.toISOString(), retryAt: at.toISOString(), attempts, reason },
    "renewed origin client certificate refused by the origin; the current certificate stays in use until it expires",
  );
  return { ...entry, retry: { attempts, at } };
}

const ISSUED = Object.freeze({ kind: "issued" as const });

async function originCredentials(
  config: MoatConfig,
  distribution: DistributionConfig,
  origin: OriginConfig,
  path: string,
  sources: Pick<OriginEntrySources, "store" | "memo" | "now" | "previous">,
  prove: (candidate: IssuedCertificate) => Promise<boolean>,
): Promise<CredentialMaterial | null> {
  // Towards a shield, the edge's identity is always Moat's: the shield checks its URI SAN names this distribution.
  const source = distribution.shield ? ISSUED : origin.mtls.clientCertificate;
  if (source.kind === "none") return null;
  if (source.kind === "imported") return importedCredentials(source, `${path}.mtls.clientCertificate`, { use: "origin-client", now: sources.now, inService: sources.previous?.imported }, sources.memo);
  if (source.kind === "stored") {
    const check = { use: "origin-client" as const, now: sources.now, inService: sources.previous?.imported };
    return storedCredentials(source, `${path}.mtls.clientCertificate`, check, { store: sources.store, dataDir: config.dataDir }, sources.memo);
  }
  const request = {
    trustDomain: config.pki.trustDomain,
    distributionId: distribution.id,
    originId: origin.id,
    validityMs: config.pki.clientCertValidityMs,
    keyAlgorithm: config.pki.keyAlgorithm,
  };
  return { ...(await sources.store.originClientCertificate(request, { prove })), isIssued: true };
}

/**
 * The options the edge's client of `origin` would have now: its server name, trusted CA, timeouts and the client
 * certificate it presents, read from the store as they are (a read-only store issues nothing). For `moat doctor`,
 * which must connect exactly as the edge does.
 */
export async function originClientOptionsFor(
  config: MoatConfig,
  distribution: DistributionConfig,
  origin: OriginConfig,
  path: string,
  sources: Pick<OriginEntrySources, "store" | "caPem" | "caBundleFile" | "memo" | "now">,
): Promise<OriginClientOptions> {
  const base = await clientOptions(distribution.id, origin, path, sources);
  // The origin's own client certificate even behind a shield: the doctor checks the hop the shield makes.
  const credentials = await originCredentials(config, { ...distribution, shield: null }, origin, path, { ...sources, previous: undefined }, async () => true);
  return { ...base, clientCertificate: credentials && clientCertificateOf(credentials, sources.memo) };
}

function importedFacts(credentials: CredentialMaterial | null): OriginEntry["imported"] {
  return credentials && !credentials.isIssued ? { serialHex: credentials.serialHex, fingerprint256: credentials.fingerprint256, notAfter: credentials.notAfter } : null;
}

// Origins that present the same certificate share its name (read once per build) and the object itself.
function clientCertificateOf(credentials: CredentialMaterial, memo: SnapshotMemo): OriginClientCertificate {
  return memo.valueOnce("client-certificate", credentials, "", () =>
    Object.freeze({ chainPem: credentials.chainPem, keyPem: credentials.keyPem, identity: clientIdentity(credentials), serialHex: credentials.serialHex }),
  );
}

async function clientOptions(distributionId: string, origin: OriginConfig, path: string, sources: Pick<OriginEntrySources, "caPem" | "caBundleFile" | "memo">): Promise<OriginClientOptions> {
  const caPem = origin.mtls.trustedCaFile ? await readConfiguredFile(`${path}.mtls.trustedCa`, origin.mtls.trustedCaFile, sources.memo) : sources.caPem;
  const hostname = origin.hostname.includes(":") ? `[${origin.hostname}]` : origin.hostname;
  return {
    distributionId,
    originId: origin.id,
    url: origin.url,
    basePath: origin.basePath,
    hostHeader: origin.port === 443 ? hostname : `${hostname}:${origin.port}`,
    serverName: origin.mtls.serverName ?? origin.hostname,
    caPem,
    trustedCaLabel: origin.mtls.trustedCaFile ?? `Moat's CA bundle (${sources.caBundleFile})`,
    clientCertificate: null,
    connectTimeoutMs: origin.timeouts.connectMs,
    responseTimeoutMs: origin.timeouts.responseMs,
  };
}

/**
 * Towards the distribution's origin shield: its URL and name, the viewer's Host (the shield routes by it to the same
 * distribution, then by path to this origin), no base path (the shield adds the origin's), this origin's deadlines.
 */
async function shieldOptions(distributionId: string, shield: ShieldConfig, origin: OriginConfig, path: string, sources: Pick<OriginEntrySources, "caPem" | "caBundleFile" | "memo">): Promise<OriginClientOptions> {
  const shieldPath = path.replace(/\.origins\[\d+\]$/, ".shield");
  const caPem = shield.trustedCaFile ? await readConfiguredFile(`${shieldPath}.trustedCa`, shield.trustedCaFile, sources.memo) : sources.caPem;
  return {
    distributionId,
    originId: origin.id,
    url: shield.url,
    basePath: "",
    hostHeader: null,
    serverName: shield.serverName,
    caPem,
    trustedCaLabel: shield.trustedCaFile ?? `Moat's CA bundle (${sources.caBundleFile})`,
    clientCertificate: null,
    connectTimeoutMs: origin.timeouts.connectMs,
    responseTimeoutMs: origin.timeouts.responseMs,
    isShield: true,
  };
}

// Everything that shapes an origin's connections; a change in any of them needs a new pool.
// The TLS material's digest is taken once per build for origins that share it.
function clientKey(options: OriginClientOptions, credentials: CredentialMaterial | null, memo: SnapshotMemo): string {
  const { clientCertificate: _, caPem, ...shape } = options;
  const materialDigest = memo.valueOnce("material-digest", credentials ?? NO_CREDENTIALS, caPem, () =>
    createHash("sha256").update(caPem).update(credentials ? credentials.chainPem + credentials.keyPem : "-").digest("hex"),
  );
  return createHash("sha256").update(JSON.stringify(shape)).update(materialDigest).digest("hex");
}
