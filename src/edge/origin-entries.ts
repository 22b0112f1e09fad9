// One origin's client in a snapshot: reused while nothing changed, and a renewed certificate proven before it goes live.
import { createHash } from "node:crypto";
import type { DistributionConfig, MoatConfig, OriginConfig } from "../config/index.ts";
import { createOriginClient, probeOriginClient } from "../origin/index.ts";
import type { OriginClient, OriginClientOptions } from "../origin/index.ts";
import type { Logger } from "../observe/index.ts";
import type { IssuedCertificateStore } from "../pki/index.ts";
import { clientIdentity, importedCredentials, readConfiguredFile } from "./credentials.ts";
import type { CredentialMaterial } from "./credentials.ts";

export interface OriginEntry {
  client: OriginClient;
  /** Everything that shapes the client's connections; equal keys share a client. */
  contentKey: string;
  /** The issued client certificate in use (null for imported or none): what renewal looks at. */
  issued: { serialHex: string; notBefore: Date; notAfter: Date } | null;
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
}

const maxRetryDelayMs = 5 * 60_000;

/** Builds (or keeps) the client of one origin. `path` is the origin's config path, for errors. */
export async function buildOriginEntry(config: MoatConfig, distribution: DistributionConfig, origin: OriginConfig, path: string, sources: OriginEntrySources): Promise<OriginEntry> {
  const credentials = await originCredentials(config, distribution.id, origin, path, sources.store);
  const options = await clientOptions(distribution.id, origin, path, credentials, sources);
  const contentKey = clientKey(options, credentials);
  const previous = sources.previous;
  if (previous?.contentKey === contentKey) return { ...previous, retry: null };
  const issued = credentials?.isIssued ? { serialHex: credentials.serialHex, notBefore: credentials.notBefore, notAfter: credentials.notAfter } : null;
  if (issued && previous?.issued && previous.issued.serialHex !== issued.serialHex && previous.issued.notAfter > sources.now) {
    const failure = await probeOriginClient(options);
    if (failure?.code === "origin-rejected-client-cert") return keepPrevious(previous, failure.message, sources);
    sources.log.info({ distribution: distribution.id, origin: origin.id, from: previous.issued.serialHex, to: issued.serialHex, probe: failure ? failure.code : "accepted" }, "origin client certificate renewed");
  }
  return { client: createOriginClient(options), contentKey, issued, retry: null };
}

// The origin refused the renewed certificate (it does not trust the new issuer yet, say): the old
// certificate, still valid, stays in use, and the renewal retries with a growing delay.
function keepPrevious(previous: OriginEntry, reason: string, sources: OriginEntrySources): OriginEntry {
  const attempts = (previous.retry?.attempts ?? 0) + 1;
  const delayMs = Math.min(1000 * 2 ** (attempts - 1), maxRetryDelayMs);
  const at = new Date(Math.min(sources.now.getTime() + delayMs, previous.issued?.notAfter.getTime() ?? Infinity));
  sources.log.error(
    { origin: previous.client.originId, distribution: previous.client.context.distributionId, keeping: previous.issued?.serialHex, validUntil: previous.issued?.notAfter.toISOString(), retryAt: at.toISOString(), attempts, reason },
    "renewed origin client certificate refused by the origin; the current certificate stays in use until it expires",
  );
  return { ...previous, retry: { attempts, at } };
}

async function originCredentials(config: MoatConfig, distributionId: string, origin: OriginConfig, path: string, store: IssuedCertificateStore): Promise<CredentialMaterial | null> {
  const source = origin.mtls.clientCertificate;
  if (source.kind === "none") return null;
  if (source.kind === "imported") return importedCredentials(source, `${path}.mtls.clientCertificate`);
  const issued = await store.originClientCertificate({
    trustDomain: config.pki.trustDomain,
    distributionId,
    originId: origin.id,
    validityMs: config.pki.clientCertValidityMs,
    keyAlgorithm: config.pki.keyAlgorithm,
  });
  return { ...issued, isIssued: true };
}

async function clientOptions(distributionId: string, origin: OriginConfig, path: string, credentials: CredentialMaterial | null, sources: OriginEntrySources): Promise<OriginClientOptions> {
  const caPem = origin.mtls.trustedCaFile ? await readConfiguredFile(`${path}.mtls.trustedCa`, origin.mtls.trustedCaFile) : sources.caPem;
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
    clientCertificate: credentials && { chainPem: credentials.chainPem, keyPem: credentials.keyPem, identity: clientIdentity(credentials) },
    connectTimeoutMs: origin.timeouts.connectMs,
    responseTimeoutMs: origin.timeouts.responseMs,
  };
}

// Everything that shapes an origin's connections; a change in any of them needs a new pool.
function clientKey(options: OriginClientOptions, credentials: CredentialMaterial | null): string {
  const { clientCertificate: _, caPem, ...shape } = options;
  const hash = createHash("sha256");
  hash.update(JSON.stringify(shape));
  hash.update(caPem);
  hash.update(credentials ? credentials.chainPem + credentials.keyPem : "-");
  return hash.digest("hex");
}
