// Builds an immutable EdgeSnapshot from a validated config: certificates, secure contexts, routers and origin clients.
import type tls from "node:tls";
import type { DistributionConfig, MoatConfig } from "../../config/index.ts";
import { ConfiguredFileError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";
import type { OriginTarget } from "../../origin/index.ts";
import { renewalTime } from "../../pki/index.ts";
import type { CertificateAuthority, IssuedCertificateStore } from "../../pki/index.ts";
import { createAliasIndex } from "../pipeline/alias-index.ts";
import { cacheStatusNameOf } from "../pipeline/cache-status-name.ts";
import { compileBehaviorRouter } from "../pipeline/behavior-router.ts";
import { BUILD_CONCURRENCY, buildEach } from "./build-each.ts";
import { importedCredentials, importedFiles, storedCredentials, storedFiles } from "./credentials.ts";
import type { CredentialMaterial } from "./credentials.ts";
import type { DistributionRuntime, EdgeSnapshot, RoutedBehavior } from "./edge-snapshot.ts";
import type { ImportedCertificateInUse } from "../runtime/expiry-warnings.ts";
import { buildOriginEntry } from "./origin-entries.ts";
import type { OriginEntry } from "./origin-entries.ts";
import { createSnapshotMemo } from "./snapshot-memo.ts";
import type { SnapshotMemo, SnapshotMemoCounts } from "./snapshot-memo.ts";
import { loadUsedTrustStores, verifyingContextOptions, viewerMtlsRuntime, viewerPolicyId } from "./viewer-mtls-snapshot.ts";
import type { LoadedTrustStore } from "../../tls/index.ts";

export interface SnapshotSources {
  ca: CertificateAuthority;
  /** Where the CA bundle lives, for messages. */
  caBundleFile: string;
  store: IssuedCertificateStore;
  generation: number;
  log: Logger;
  now: Date;
  /** Origins of the snapshot being replaced, keyed "distribution/origin": reused when nothing changed. */
  previousOrigins?: ReadonlyMap<string, OriginEntry>;
  /** Imported certificates of the snapshot being replaced: one that expired in service stays rather than failing the rebuild. */
  previousImported?: readonly ImportedCertificateInUse[];
  /** Viewer contexts of the snapshot being replaced (its `secureContexts`): one made from the very same material is taken again. */
  previousContexts?: ReadonlyMap<string, tls.SecureContext>;
  /** The name the edge was given (`--edge-name`, MOAT_EDGE_NAME), for its Cache-Status identifier; null: none. */
  edgeName?: string | null;
}

export interface BuiltSnapshot {
  snapshot: EdgeSnapshot;
  /** Every origin's client, keyed "distribution/origin". */
  origins: ReadonlyMap<string, OriginEntry>;
  /** The earliest time an issued certificate of this snapshot renews, or a refused renewal retries. */
  renewAt: Date | null;
  /** The imported certificates it serves and presents, which only their owner can renew: what expiry warnings watch. */
  imported: readonly ImportedCertificateInUse[];
  /** What this build read, checked and created once for all the distributions that share it: files, imports, viewer contexts. */
  memoCounts: SnapshotMemoCounts;
  /** Its viewer contexts by a digest of their material, for the next build. */
  secureContexts: ReadonlyMap<string, tls.SecureContext>;
  /** Each distribution's viewer certificate (for the not-after gauge; origin client certificates are in `origins`). */
  viewerCertificates: readonly ViewerCertificateInUse[];
}

export interface ViewerCertificateInUse {
  distribution: string;
  serialHex: string;
  notAfter: Date;
}

/**
 * @example
 * const built = await buildEdgeSnapshot(config, { ca, caBundleFile, store, generation: 1, log, now: new Date() });
 * listener = createViewerListener({ currentSnapshot: () => built.snapshot, log });
 */
export async function buildEdgeSnapshot(config: MoatConfig, sources: SnapshotSources): Promise<BuiltSnapshot> {
  // Loaded before anything is issued: a bad trust store refuses the whole snapshot, and the running one stays.
  const trustStores = await loadUsedTrustStores(config, sources.now);
  // This build's alone: files are read again, and certificates checked again, by the next one.
  const memo = createSnapshotMemo({ previousContexts: sources.previousContexts });
  // By config path, looked up once per distribution: a scan of the array per distribution was O(N²) (14 s of a 10,000-distribution reload).
  const inService = new Map((sources.previousImported ?? []).map((certificate) => [certificate.path, certificate]));
  const building: BuildSources = { ...sources, memo, inService, trustStores };
  const built = await buildEach(config.distributions, BUILD_CONCURRENCY, (distribution, index) => buildDistribution(config, distribution, `distributions[${index}]`, building));
  // Gathered in config order, whatever order the distributions finished in: expiry warnings list places in config order.
  const distributions = built.map((one) => one.runtime);
  const origins = new Map(built.flatMap((one) => one.origins));
  const imported = built.flatMap((one) => one.imported);
  const renewals = built.flatMap((one) => one.renewals);
  for (const entry of origins.values()) {
    if (entry.issued) renewals.push(renewalTime(entry.issued, config.pki.renewAtFraction));
    if (entry.retry) renewals.push(entry.retry.at);
  }
  const aliases = createAliasIndex(distributions);
  const snapshot: EdgeSnapshot = Object.freeze({
    generation: sources.generation,
    distributions: Object.freeze(distributions),
    viewerPolicyId: viewerPolicyId(distributions),
    accessLogSample: config.log.accessLogSample,
    cacheStatusName: cacheStatusNameOf(sources.edgeName ?? null, false),
    distributionForHost: (hostname: string) => aliases.find(hostname),
  });
  // A loop, not Math.min(...spread): ten thousand arguments are near the engine's limit.
  let earliest = Infinity;
  for (const renewal of renewals) earliest = Math.min(earliest, renewal.getTime());
  const renewAt = earliest === Infinity ? null : new Date(earliest);
  const viewerCertificates = built.map((one) => one.viewerCertificate);
  return { snapshot, origins, renewAt, imported, memoCounts: memo.counts(), secureContexts: memo.contexts(), viewerCertificates };
}

/** A build's sources with what it made for all its distributions: the memo, the trust stores, and the previous snapshot's imported certificates by config path. */
type BuildSources = SnapshotSources & { memo: SnapshotMemo; inService: ReadonlyMap<string, ImportedCertificateInUse>; trustStores: ReadonlyMap<string, LoadedTrustStore> };

/** One distribution's part of a snapshot. */
interface BuiltDistribution {
  runtime: DistributionRuntime;
  /** Its origins' clients, keyed "distribution/origin". */
  origins: Array<[string, OriginEntry]>;
  /** Its imported certificates, in config order. */
  imported: ImportedCertificateInUse[];
  /** Its issued viewer certificate's renewal time (its origins' are read from `origins`). */
  renewals: Date[];
  viewerCertificate: ViewerCertificateInUse;
}

async function buildDistribution(config: MoatConfig, distribution: DistributionConfig, path: string, sources: BuildSources): Promise<BuiltDistribution> {
  const viewer = await viewerCredentials(config, distribution, path, sources);
  const found: Omit<BuiltDistribution, "runtime"> = { origins: [], imported: [], renewals: [], viewerCertificate: { distribution: distribution.id, serialHex: viewer.serialHex, notAfter: viewer.notAfter } };
  if (viewer.isIssued) found.renewals.push(renewalTime(viewer, config.pki.renewAtFraction));
  if (distribution.viewerCertificate.kind === "imported") {
    found.imported.push(inUse(`${path}.viewerCertificate`, "viewer-server", importedFiles(distribution.viewerCertificate), viewer));
  } else if (distribution.viewerCertificate.kind === "stored") {
    found.imported.push(inUse(`${path}.viewerCertificate`, "viewer-server", storedFiles(config.dataDir, distribution.viewerCertificate, "viewer-server"), viewer));
  }
  const viewerMtls = viewerMtlsRuntime(distribution, sources.trustStores, config.pki.trustDomain);
  const secureContext = createViewerContext(distribution, viewer, `${path}.viewerCertificate`, verifyingContextOptions(viewerMtls), sources.memo);

  const targets = new Map<string, OriginTarget>();
  for (const [index, origin] of distribution.origins.entries()) {
    const key = `${distribution.id}/${origin.id}`;
    const entry = await buildOriginEntry(config, distribution, origin, `${path}.origins[${index}]`, {
      store: sources.store,
      caPem: sources.ca.bundlePem,
      caBundleFile: sources.caBundleFile,
      log: sources.log,
      now: sources.now,
      previous: sources.previousOrigins?.get(key),
      memo: sources.memo,
    });
    found.origins.push([key, entry]);
    targets.set(origin.id, { kind: "origin", id: origin.id, client: entry.client });
    const clientSource = origin.mtls.clientCertificate;
    if (entry.imported && clientSource.kind === "imported") {
      found.imported.push(inUse(`${path}.origins[${index}].mtls.clientCertificate`, "origin-client", importedFiles(clientSource), entry.imported));
    } else if (entry.imported && clientSource.kind === "stored") {
      found.imported.push(inUse(`${path}.origins[${index}].mtls.clientCertificate`, "origin-client", storedFiles(config.dataDir, clientSource, "origin-client"), entry.imported));
    }
  }
  for (const group of distribution.originGroups) {
    const primary = targets.get(group.primary);
    const secondary = targets.get(group.secondary);
    // The config validator guarantees both members are origins of this distribution.
    if (primary?.kind !== "origin" || secondary?.kind !== "origin") throw new Error(`origin group ${group.id}: members not built`);
    // Behind a shield the group fails over on the shield, which has the same group: the edge asking twice would send the origin two requests.
    if (distribution.shield) {
      targets.set(group.id, primary);
      continue;
    }
    targets.set(group.id, { kind: "group", id: group.id, primary: primary.client, secondary: secondary.client, failoverOn: new Set(group.failoverOn) });
  }
  const behaviors: RoutedBehavior[] = distribution.behaviors.map((behavior) => ({
    path: behavior.path,
    allowedMethods: new Set(behavior.allowedMethods),
    target: targets.get(behavior.target) as OriginTarget,
    viaShield: distribution.shield !== null,
    cache: behavior.cache,
    requiresViewerCertificate: behavior.requiresViewerCertificate,
    websocket: behavior.websocket,
  }));
  const runtime: DistributionRuntime = Object.freeze({
    id: distribution.id,
    aliases: distribution.aliases,
    secureContext,
    minVersion: distribution.tls.minVersion,
    viewerCertificateSerial: viewer.serialHex,
    viewerMtls,
    underscoreHeaders: distribution.underscoreHeaders,
    accessLogSample: distribution.accessLogSample,
    cacheStatusName: cacheStatusNameOf(sources.edgeName ?? null, viewerMtls.edgeIdentityPrefix !== null),
    route: compileBehaviorRouter(behaviors),
  });
  return { runtime, ...found };
}

// Distributions with the same certificate, key, TLS policy and trust store share one context (and OpenSSL's copy of the key).
function createViewerContext(distribution: DistributionConfig, viewer: CredentialMaterial, path: string, verifying: { ca?: string; crl?: readonly string[] }, memo: SnapshotMemo): tls.SecureContext {
  try {
    return memo.secureContext({ cert: viewer.chainPem, key: viewer.keyPem, minVersion: distribution.tls.minVersion, ...verifying });
  } catch (error) {
    // OpenSSL's words ("key values mismatch") are clear enough; the key itself never appears in them.
    throw new ConfiguredFileError(path, "viewer certificate", (error as Error).message, { fix: "check that the key belongs to the certificate", cause: error });
  }
}

function inUse(path: string, use: ImportedCertificateInUse["use"], files: string[], facts: { serialHex: string; fingerprint256: string; notAfter: Date }): ImportedCertificateInUse {
  return { path, use, files, serialHex: facts.serialHex, fingerprint256: facts.fingerprint256, notAfter: facts.notAfter };
}

async function viewerCredentials(config: MoatConfig, distribution: DistributionConfig, path: string, sources: BuildSources): Promise<CredentialMaterial> {
  if (distribution.viewerCertificate.kind === "imported") {
    // Browsers check the SANs against the name they asked for, so every alias must be covered.
    const inService = sources.inService.get(`${path}.viewerCertificate`);
    return importedCredentials(distribution.viewerCertificate, `${path}.viewerCertificate`, { use: "viewer-server", expectedNames: distribution.aliases, now: sources.now, inService }, sources.memo);
  }
  if (distribution.viewerCertificate.kind === "stored") {
    const inService = sources.previousImported?.find((certificate) => certificate.path === `${path}.viewerCertificate`);
    const check = { use: "viewer-server" as const, expectedNames: distribution.aliases, now: sources.now, inService };
    return storedCredentials(distribution.viewerCertificate, `${path}.viewerCertificate`, check, { store: sources.store, dataDir: config.dataDir }, sources.memo);
  }
  const issued = await sources.store.serverCertificate({
    name: `viewer-${distribution.id}`,
    dnsNames: distribution.aliases,
    validityMs: config.pki.serverCertValidityMs,
    keyAlgorithm: config.pki.keyAlgorithm,
  });
  return { ...issued, isIssued: true };
}
