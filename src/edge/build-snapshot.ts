// Builds an immutable EdgeSnapshot from a validated config: certificates, secure contexts, routers and origin clients.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import tls from "node:tls";
import type { CertificateSource, DistributionConfig, MoatConfig, OriginConfig } from "../config/index.ts";
import { ConfiguredFileError } from "../errors.ts";
import { createOriginClient } from "../origin/index.ts";
import type { OriginClient, OriginClientCertificate, OriginTarget } from "../origin/index.ts";
import { describeCertificate } from "../pki/index.ts";
import type { CertificateAuthority, IssuedCertificateStore } from "../pki/index.ts";
import { createAliasIndex } from "./alias-index.ts";
import { compileBehaviorRouter } from "./behavior-router.ts";
import type { DistributionRuntime, EdgeSnapshot, RoutedBehavior } from "./edge-snapshot.ts";

export interface SnapshotSources {
  ca: CertificateAuthority;
  /** Where the CA bundle lives, for messages. */
  caBundleFile: string;
  store: IssuedCertificateStore;
  generation: number;
  /** Origin clients of the snapshot being replaced: reused when nothing about the origin changed. */
  previousClients?: ReadonlyMap<string, OriginClient>;
}

export interface BuiltSnapshot {
  snapshot: EdgeSnapshot;
  /** Every origin client, keyed by everything that shapes its connections. */
  clients: ReadonlyMap<string, OriginClient>;
  /** The earliest time an issued certificate of this snapshot should be renewed. */
  renewAt: Date | null;
}

interface CredentialMaterial {
  chainPem: string;
  keyPem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  isIssued: boolean;
}

/**
 * @example
 * const built = await buildEdgeSnapshot(config, { ca, caBundleFile, store, generation: 1 });
 * listener = createViewerListener({ currentSnapshot: () => built.snapshot, log });
 */
export async function buildEdgeSnapshot(config: MoatConfig, sources: SnapshotSources): Promise<BuiltSnapshot> {
  const clients = new Map<string, OriginClient>();
  const renewals: Date[] = [];
  const distributions: DistributionRuntime[] = [];
  for (const [index, distribution] of config.distributions.entries()) {
    distributions.push(await buildDistribution(config, distribution, `distributions[${index}]`, sources, clients, renewals));
  }
  const aliases = createAliasIndex(distributions);
  const snapshot: EdgeSnapshot = Object.freeze({
    generation: sources.generation,
    distributions: Object.freeze(distributions),
    distributionForHost: (hostname: string) => aliases.find(hostname),
  });
  const renewAt = renewals.length ? new Date(Math.min(...renewals.map((d) => d.getTime()))) : null;
  return { snapshot, clients, renewAt };
}

async function buildDistribution(
  config: MoatConfig,
  distribution: DistributionConfig,
  path: string,
  sources: SnapshotSources,
  clients: Map<string, OriginClient>,
  renewals: Date[],
): Promise<DistributionRuntime> {
  const viewer = await viewerCredentials(config, distribution, path, sources);
  if (viewer.isIssued) renewals.push(renewalPoint(viewer));
  const secureContext = createViewerContext(distribution, viewer, `${path}.viewerCertificate`);

  const targets = new Map<string, OriginTarget>();
  for (const [index, origin] of distribution.origins.entries()) {
    const client = await originClient(config, distribution, origin, `${path}.origins[${index}]`, sources, clients, renewals);
    targets.set(origin.id, { kind: "origin", id: origin.id, client });
  }
  for (const group of distribution.originGroups) {
    const primary = targets.get(group.primary);
    const secondary = targets.get(group.secondary);
    // The config validator guarantees both members are origins of this distribution.
    if (primary?.kind !== "origin" || secondary?.kind !== "origin") throw new Error(`origin group ${group.id}: members not built`);
    targets.set(group.id, { kind: "group", id: group.id, primary: primary.client, secondary: secondary.client, failoverOn: new Set(group.failoverOn) });
  }
  const behaviors: RoutedBehavior[] = distribution.behaviors.map((behavior) => ({
    path: behavior.path,
    allowedMethods: new Set(behavior.allowedMethods),
    target: targets.get(behavior.target) as OriginTarget,
  }));
  return Object.freeze({
    id: distribution.id,
    aliases: distribution.aliases,
    secureContext,
    minVersion: distribution.tls.minVersion,
    viewerCertificateSerial: viewer.serialHex,
    route: compileBehaviorRouter(behaviors),
  });
}

function createViewerContext(distribution: DistributionConfig, viewer: CredentialMaterial, path: string): tls.SecureContext {
  try {
    return tls.createSecureContext({
      cert: viewer.chainPem,
      key: viewer.keyPem,
      minVersion: distribution.tls.minVersion,
    });
  } catch (error) {
    // OpenSSL's words ("key values mismatch") are clear enough; the key itself never appears in them.
    throw new ConfiguredFileError(path, "viewer certificate", (error as Error).message, { fix: "check that the key belongs to the certificate", cause: error });
  }
}

async function viewerCredentials(config: MoatConfig, distribution: DistributionConfig, path: string, sources: SnapshotSources): Promise<CredentialMaterial> {
  if (distribution.viewerCertificate.kind === "imported") {
    return importedCredentials(distribution.viewerCertificate, `${path}.viewerCertificate`);
  }
  const issued = await sources.store.serverCertificate({
    name: `viewer-${distribution.id}`,
    dnsNames: distribution.aliases,
    validityMs: config.pki.serverCertValidityMs,
    keyAlgorithm: config.pki.keyAlgorithm,
  });
  return { ...issued, isIssued: true };
}

async function originClient(
  config: MoatConfig,
  distribution: DistributionConfig,
  origin: OriginConfig,
  path: string,
  sources: SnapshotSources,
  clients: Map<string, OriginClient>,
  renewals: Date[],
): Promise<OriginClient> {
  const credentials = await originCredentials(config, distribution.id, origin, path, sources);
  if (credentials?.isIssued) renewals.push(renewalPoint(credentials));
  const caPem = origin.mtls.trustedCaFile ? await readConfiguredFile(`${path}.mtls.trustedCa`, origin.mtls.trustedCaFile) : sources.ca.bundlePem;
  const serverName = origin.mtls.serverName ?? origin.hostname;
  const key = clientKey(distribution.id, origin, serverName, caPem, credentials);
  const reused = sources.previousClients?.get(key);
  if (reused) {
    clients.set(key, reused);
    return reused;
  }
  const clientCertificate: OriginClientCertificate | null = credentials && {
    chainPem: credentials.chainPem,
    keyPem: credentials.keyPem,
    identity: clientIdentity(credentials),
  };
  const client = createOriginClient({
    distributionId: distribution.id,
    originId: origin.id,
    url: origin.url,
    basePath: origin.basePath,
    hostHeader: origin.port === 443 ? origin.hostname : `${hostForUrl(origin.hostname)}:${origin.port}`,
    serverName,
    caPem,
    trustedCaLabel: origin.mtls.trustedCaFile ?? `Moat's CA bundle (${sources.caBundleFile})`,
    clientCertificate,
    connectTimeoutMs: origin.timeouts.connectMs,
    responseTimeoutMs: origin.timeouts.responseMs,
  });
  clients.set(key, client);
  return client;
}

async function originCredentials(config: MoatConfig, distributionId: string, origin: OriginConfig, path: string, sources: SnapshotSources): Promise<CredentialMaterial | null> {
  const source = origin.mtls.clientCertificate;
  if (source.kind === "none") return null;
  if (source.kind === "imported") return importedCredentials(source, `${path}.mtls.clientCertificate`);
  const issued = await sources.store.originClientCertificate({
    trustDomain: config.pki.trustDomain,
    distributionId,
    originId: origin.id,
    validityMs: config.pki.clientCertValidityMs,
    keyAlgorithm: config.pki.keyAlgorithm,
  });
  return { ...issued, isIssued: true };
}

async function importedCredentials(source: Extract<CertificateSource, { kind: "imported" }>, path: string): Promise<CredentialMaterial> {
  const chainPem = await readConfiguredFile(`${path}.cert`, source.certFile);
  const keyPem = await readConfiguredFile(`${path}.key`, source.keyFile);
  let facts;
  try {
    facts = describeCertificate(chainPem);
  } catch (error) {
    throw new ConfiguredFileError(`${path}.cert`, source.certFile, "is not a PEM certificate", { fix: "give the PEM certificate chain, leaf first", cause: error });
  }
  return { chainPem, keyPem, serialHex: facts.serialHex, notBefore: facts.notBefore, notAfter: facts.notAfter, isIssued: false };
}

async function readConfiguredFile(path: string, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new ConfiguredFileError(path, file, `cannot be read (${(error as { code?: string }).code ?? error})`, { cause: error });
  }
}

/** Renew at two thirds of the life, the point at which the store stops reusing a certificate. */
function renewalPoint(material: CredentialMaterial): Date {
  const life = material.notAfter.getTime() - material.notBefore.getTime();
  return new Date(material.notBefore.getTime() + (life * 2) / 3 + 1000);
}

function clientIdentity(material: CredentialMaterial): string {
  const facts = describeCertificate(material.chainPem);
  const uri = facts.sans.find((san) => san.startsWith("URI:"));
  return `${uri ? uri.slice(4) : facts.subject} (serial ${facts.serialHex})`;
}

// Everything that shapes an origin's connections; a change in any of them needs a new pool.
function clientKey(distributionId: string, origin: OriginConfig, serverName: string, caPem: string, credentials: CredentialMaterial | null): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([distributionId, origin.id, origin.url, origin.basePath, serverName, origin.timeouts]));
  hash.update(caPem);
  hash.update(credentials ? credentials.chainPem + credentials.keyPem : "-");
  return hash.digest("hex");
}

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
