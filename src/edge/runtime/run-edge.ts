// Runs an edge: builds a snapshot from a config, listens, swaps snapshots on reload and renewal, drains on stop.
// Under `moat start` with workers, the same code runs as the primary (certificates, CA, revocations; no port)
// and as each worker (ports and cache; rebuilds only when its primary says).
import { join } from "node:path";
import type { BeforeBatch, CachePeers, Clock, NumberedInvalidation } from "../../cache/index.ts";
import type { MoatConfig } from "../../config/index.ts";
import { createRequestTracing, edgeMetrics } from "../../observe/index.ts";
import type { Logger } from "../../observe/index.ts";
import type { OriginClient } from "../../origin/index.ts";
import { createIssuedCertificateStore, createOpenedCertificates } from "../../pki/index.ts";
import type { CaRotationResult, CertificateAuthority, ExpiryWarning, FleetGate, MasterKey, PublishedCrl } from "../../pki/index.ts";
import { buildEdgeSnapshot } from "../snapshot/build-snapshot.ts";
import { followCaOnDisk, PUBLISHED_CA_POLL_MS, startCaRotation, watchPublishedCa } from "./ca-rotation-watch.ts";
import { certificatesInUse, originPoolsOf } from "../snapshot/certificates-in-use.ts";
import type { BuiltSnapshot } from "../snapshot/build-snapshot.ts";
import type { EdgeSnapshot } from "../snapshot/edge-snapshot.ts";
import { scheduleExpiryWarnings } from "./expiry-warnings.ts";
import type { ImportedCertificateInUse } from "./expiry-warnings.ts";
import { releaseMemoryWhenIdle } from "./idle-memory.ts";
import { holdTickObjectShape } from "../../tick-shape.ts";
import { createRenewalScheduler } from "./renewal-scheduler.ts";
import { revokedSerials, watchPublishedRevocations, watchRevocations } from "./revocation-watch.ts";
import { rotateSerials, watchRotationRequests } from "./rotation-request-watch.ts";
import type { RevocationWatch } from "./revocation-watch.ts";
import { watchConfiguredFiles } from "../snapshot/configured-files-watch.ts";
import type { ConfiguredFilesWatch } from "../snapshot/configured-files-watch.ts";
import { createTicketKeys } from "../viewers/ticket-keys.ts";

export interface RunningEdge {
  /** Bound ports (useful when the config asked for port 0); 0 and null for a primary, which binds none. */
  readonly httpsPort: number;
  readonly httpPort: number | null;
  current(): EdgeSnapshot;
  /** Builds a snapshot from `config` and swaps it in; on failure the running snapshot stays. */
  apply(config: MoatConfig): Promise<EdgeSnapshot>;
  /** Stops accepting, lets requests in flight finish, closes origin pools. */
  stop(): Promise<void>;
  /** A primary's session ticket keys, for its workers (undefined alone: the listener keeps its own). */
  ticketKeys(): Buffer | undefined;
  /** A worker takes its primary's session ticket keys: a session issued by any worker resumes on every other. */
  setTicketKeys(keys: Buffer): void;
  /** A worker deletes the primary keys a sibling deleted (relayed by its primary): from memory before it returns, from disk when it resolves (see EdgeCache.dropRelayed). */
  dropRelayedCacheKeys(primaryKeys: readonly string[]): Promise<void>;
  /** Applies invalidations a store delivered (an edge started with `storeInvalidations`); nothing on a primary, which has no cache. */
  applyInvalidations(requests: readonly NumberedInvalidation[]): void;
}

export interface RunEdgeOptions {
  config: MoatConfig;
  ca: CertificateAuthority;
  /** The key issued certificates' private keys are encrypted under in the data directory. */
  masterKey: MasterKey;
  log: Logger;
  /** The cache's clock (freshness, Age); tests move it. */
  clock?: Clock;
  /** Tests pause the disk cache's background index loader here (see DiskTierOptions.beforeBatch). */
  beforeDiskBatch?: BeforeBatch;
  /**
   * `alone` (the default): one process does everything. `primary`: keeps certificates, the CA, the CRL and
   * configured files in step and rebuilds, but opens no port and no cache; `onApplied` tells its workers.
   * `worker`: serves the ports with its own memory tier, runs no renewal or watch, and on `apply` first
   * takes the CA on disk (its primary rotated it): only one process ever issues or rotates.
   */
  role?: "alone" | "primary" | "worker";
  /** A worker's number (1…N): its disk tier writes temporary files in a directory of its own. */
  worker?: number;
  /** How many workers the group has: they share the disk tier's directory and its byte bound. */
  workers?: number;
  /** A worker's session ticket keys, made by its primary. */
  ticketKeys?: Buffer;
  /** A worker's siblings, through its primary: its cache deletions reach their memory tiers, its applied invalidations its primary. */
  cachePeers?: CachePeers;
  /** Run from a store: every invalidation it held at start (later ones come by applyInvalidations); the data directory's file is then not watched. */
  storeInvalidations?: readonly NumberedInvalidation[];
  /** Run from a store, alone or as the primary (a worker issues nothing): told after every certificate event this edge makes. */
  certificateEvents?: EdgeCertificateEvents;
  /** Run from a store, alone or as the primary: the gate of a root rollover's activation this edge runs by itself (ca-rotation-watch.ts). */
  fleetGate?: FleetGate;
  /** The name the edge was given (`moat start --edge-name`, MOAT_EDGE_NAME): its Cache-Status entries say `moat-<name>`. Not a host name it guessed. */
  edgeName?: string | null;
  /** Told the CA this edge uses, at start and after each CA change it applied: a store records what it trusts in its `edges` row. */
  onCaInUse?(ca: CertificateAuthority): void;
  /**
   * A joined edge (`moat edge join`): its `ca` sends CSRs to the CA node and holds no CA key, so this edge neither
   * rotates the CA nor publishes CRLs (the CA node does both); it issues and renews its own certificates through `ca`.
   */
  isJoined?: boolean;
  /**
   * A joined edge, alone or the primary: asked every minute for a CA the CA node published since `current` (its public
   * certificates already written to the data directory), or undefined; a new one is swapped in as a rotation's is.
   */
  followPublishedCa?(current: CertificateAuthority): Promise<CertificateAuthority | undefined>;
  /** How often followPublishedCa is asked; default a minute. */
  followPublishedCaMs?: number;
  /** A joined edge: takes the revocations the CA node published into the data directory; true when the revoked serials changed (asked every followPublishedCaMs). */
  followPublishedRevocations?(): Promise<boolean>;
  /** Called after each snapshot is applied, with the config it was built from and the session ticket keys now in use: a primary hands both to its workers. */
  onApplied?(config: MoatConfig, ticketKeys: Buffer | undefined): void;
}

/**
 * Where an edge run from a store tells its certificate events (src/control/certificate-records.ts keeps the store's
 * records and audit trail). Each call is told and not awaited: none waits on the store, none throws.
 */
export interface EdgeCertificateEvents {
  /** The certificates in the data directory may have changed (a build issued, renewed, rotated or replaced one). */
  sync(): Promise<unknown>;
  caStepsPerformed(results: readonly CaRotationResult[]): Promise<unknown>;
  crlPublished(crl: PublishedCrl): Promise<unknown>;
  expiryWarned(warned: { serialHex: string; fingerprint256: string; notAfter: Date; use: string; path: string; warning: ExpiryWarning; isExpired: boolean }): Promise<unknown>;
}

const noCaRotation = { stop: async () => {} };

/** How long a clean stop waits for the last spans to reach the collector: within the drain limit (serve-edge.ts), never the whole of it. */
export const TRACE_FLUSH_LIMIT_MS = 5_000;

/**
 * @example
 * const edge = await runEdge({ config, ca, log });
 * await edge.apply(await loadConfigFile(file)); // reload
 * await edge.stop();
 */
export async function runEdge(options: RunEdgeOptions): Promise<RunningEdge> {
  const { log } = options;
  // Before any collection can run idle: every later request's nextTicks depend on it (src/tick-shape.ts).
  holdTickObjectShape();
  const role = options.role ?? "alone";
  const startConfig = options.config;
  const certificateEvents = role === "worker" ? undefined : options.certificateEvents;
  const caBundleFile = join(startConfig.dataDir, "ca", "bundle.pem");
  let generation = 0;
  let currentConfig = startConfig;
  // One build at a time: a reload, a renewal and a CA rotation must not both build on the same previous snapshot.
  let applying: Promise<unknown> = Promise.resolve();
  let revocations: RevocationWatch | undefined;
  // The CA changes when it rotates (this edge's own maintenance, or `moat ca` in another process).
  let ca = options.ca;
  const onCaChange = async (next: CertificateAuthority) => {
    // ca-rotation-watch.ts logs what changed; the store re-issues only what a retired intermediate signed.
    ca = next;
    await apply(currentConfig);
    // Told once the snapshot on the new bundle serves: what the edge reports trusting is what it verifies with.
    options.onCaInUse?.(next);
    await revocations?.refreshCrl();
  };
  // A joined edge follows what the CA node publishes; an edge with the CA's keys maintains the CA itself.
  const joinedCaWatch = () => ({ ca, watch: options.followPublishedCa ? watchPublishedCa({ next: options.followPublishedCa, current: () => ca, log: log.child({ part: "ca-rotation" }), onChange: onCaChange, ...(options.followPublishedCaMs ? { intervalMs: options.followPublishedCaMs } : {}) }) : noCaRotation });
  const caRotation = role === "worker" ? { ca, watch: noCaRotation } : options.isJoined ? joinedCaWatch() : await startCaRotation({
    dataDir: startConfig.dataDir,
    masterKey: options.masterKey,
    rotation: startConfig.pki.ca,
    renewAtFraction: startConfig.pki.renewAtFraction,
    log: log.child({ part: "ca-rotation" }),
    current: () => ca,
    onStepsPerformed: certificateEvents && ((results) => void certificateEvents.caStepsPerformed(results)),
    ...(options.fleetGate ? { fleetGate: options.fleetGate } : {}),
    onChange: onCaChange,
  });
  ca = caRotation.ca;
  if (role !== "worker") options.onCaInUse?.(ca);
  // Kept across builds: a rebuild does not decrypt, parse and verify again the stored certificates whose files did not change.
  const opened = createOpenedCertificates();
  const build = async (config: MoatConfig, revoked: ReadonlySet<string>, previous?: BuiltSnapshot) =>
    buildEdgeSnapshot(config, {
      ca,
      caBundleFile,
      store: createIssuedCertificateStore({ ca, dataDir: startConfig.dataDir, masterKey: options.masterKey, renewAtFraction: config.pki.renewAtFraction, revokedSerials: revoked, rotateSerials: role === "worker" ? new Set() : await rotateSerials(startConfig.dataDir), onDiscard: (dir, reason) => log.warn({ dir, reason }, "stored certificate unusable; issuing a new one"), isReadOnly: role === "worker", opened }),
      generation: ++generation,
      log: log.child({ part: "rotation" }),
      now: new Date(),
      previousOrigins: previous?.origins,
      previousImported: previous?.imported,
      previousContexts: previous?.secureContexts,
      edgeName: options.edgeName ?? null,
    });
  let built: BuiltSnapshot = await build(startConfig, await revokedSerials(startConfig.dataDir));
  // Each process that serves exports its own requests' spans; a primary serves none. Off, the SDK is never loaded.
  const tracing = role === "primary" ? undefined : createRequestTracing(log.child({ part: "tracing" }));
  (await tracing?.prepare(startConfig.tracing))?.commit();
  // A primary serves nothing: it never loads the viewer listeners, the cache or the origin pools (node:http2, undici).
  const serving = role === "primary" ? null : await (await import("../viewers/serve-viewers.ts")).serveViewers(startConfig, () => built.snapshot, options, tracing).catch(async (error: unknown) => {
    await tracing?.stop(0);
    throw error;
  });
  const viewer = serving?.viewer;
  // Under workers, one set of keys for the group, made here by the primary and rotated with the viewer policy
  // or a revocation; alone, the listener makes and rotates its own.
  let ticketKeys = role === "primary" ? createTicketKeys() : options.ticketKeys;
  if (ticketKeys) viewer?.server.setTicketKeys(ticketKeys);
  const isMaintaining = role !== "worker";
  // Under workers the primary keeps the certificates: it alone reports them (and the generation it built).
  if (isMaintaining) edgeMetrics?.snapshotApplied(built.snapshot.generation, certificatesInUse(built, ca));
  edgeMetrics?.watch({
    cacheStats: serving ? () => serving.cache.stats() : undefined,
    reportsDiskTier: role !== "worker" || options.worker === 1,
    originPools: () => originPoolsOf(built),
  });
  // Renewal rebuilds the snapshot from the running config: the store re-issues what is due, the rest is reused.
  const renewal = createRenewalScheduler({ renew: async () => void (await apply(currentConfig)), log });
  if (isMaintaining) renewal.plan(built.renewAt);
  const onWarning = certificateEvents && ((certificate: ImportedCertificateInUse, warning: ExpiryWarning, isExpired: boolean) =>
    void certificateEvents.expiryWarned({ serialHex: certificate.serialHex, fingerprint256: certificate.fingerprint256, notAfter: certificate.notAfter, use: certificate.use, path: certificate.path, warning, isExpired }));
  const expiryWarnings = scheduleExpiryWarnings(built, log, onWarning ? { onWarning } : {});
  if (!isMaintaining) expiryWarnings.stop();
  // A revocation rebuilds at once; the store replaces whatever revoked certificate was in use.
  if (isMaintaining && !options.isJoined) revocations = await watchRevocations({
    dataDir: startConfig.dataDir,
    ca: () => ca,
    masterKey: options.masterKey,
    log: log.child({ part: "revocation" }),
    onRevocation: () => void apply(currentConfig).catch((error: Error) => log.error({ error: { message: error.message } }, "rebuild after a revocation failed")),
    onCrlPublished: certificateEvents && ((crl) => void certificateEvents.crlPublished(crl)),
  });

  // A joined edge takes what the CA node revoked: a revoked certificate of its own is replaced at once, through a new CSR.
  const publishedRevocations =
    isMaintaining && options.isJoined && options.followPublishedRevocations
      ? watchPublishedRevocations({
          next: options.followPublishedRevocations,
          log: log.child({ part: "revocation" }),
          onRevocation: () => apply(currentConfig).catch((error: Error) => log.error({ error: { message: error.message } }, "rebuild after a revocation failed")),
          intervalMs: options.followPublishedCaMs ?? PUBLISHED_CA_POLL_MS,
        })
      : undefined;

  // A rotation asked through the admin API rebuilds at once; the store re-issues the certificates it names.
  const rotationRequests = isMaintaining
    ? watchRotationRequests({
        dataDir: startConfig.dataDir,
        log: log.child({ part: "rotation" }),
        onRequest: () => void apply(currentConfig).catch((error: Error) => log.error({ error: { message: error.message } }, "rebuild after a rotation request failed")),
      })
    : { stop() {} };

  // A replaced CA bundle, CRL, imported certificate or key rebuilds from the running config; a bad one
  // is refused (with the config path and the check) and the running snapshot stays.
  const onConfiguredFileChange = (file: string) => {
    log.info({ file }, "a configured file changed: rebuilding");
    apply(currentConfig).catch((error: Error & { code?: string }) =>
      log.error({ file, error: { code: error.code, message: error.message } }, "the changed file was refused; the running snapshot stays"),
    );
  };
  const watchFiles = (config: MoatConfig): ConfiguredFilesWatch => (isMaintaining ? watchConfiguredFiles(config, log, onConfiguredFileChange) : { stop() {} });
  let filesWatch = watchFiles(startConfig);
  // Startup (a primary's validation and issuance) and every burst of requests leave V8's young generation large.
  const idleMemory = releaseMemoryWhenIdle(log.child({ part: "memory" }));

  function apply(config: MoatConfig): Promise<EdgeSnapshot> {
    const result = applying.then(() => applyNow(config));
    applying = result.catch(() => void edgeMetrics?.snapshotFailed());
    return result;
  }

  async function applyNow(config: MoatConfig): Promise<EdgeSnapshot> {
    warnAboutRestartOnlySettings(config, startConfig, log);
    const startedAt = performance.now();
    // A worker's primary has rotated the CA (if it changed) before it said to rebuild.
    if (role === "worker") ca = await followCaOnDisk({ dataDir: startConfig.dataDir, masterKey: options.masterKey, current: ca });
    const revoked = await revokedSerials(startConfig.dataDir);
    // Made before the build and put in place with it: a collector file that cannot be used refuses the reload as a whole.
    const nextTracing = await tracing?.prepare(config.tracing);
    let next: BuiltSnapshot;
    try {
      next = await build(config, revoked, built);
    } catch (error) {
      await nextTracing?.discard();
      throw error;
    }
    nextTracing?.commit();
    const previous = built;
    built = next;
    if (config !== currentConfig) {
      filesWatch.stop();
      filesWatch = watchFiles(config);
    }
    currentConfig = config;
    // Sessions judged under another certificate policy resume nowhere: their viewers handshake again.
    const isPolicyChanged = next.snapshot.viewerPolicyId !== previous.snapshot.viewerPolicyId;
    if (isPolicyChanged) viewer?.rotateTicketKeys();
    retireClients(previous, next, revoked);
    const hasRevokedInUse = dropRevokedViewerConnections(previous, revoked);
    // The workers' listeners rotated keys of their own just now; the primary's new ones replace them once they have applied.
    if (role === "primary" && (isPolicyChanged || hasRevokedInUse)) ticketKeys = createTicketKeys();
    if (isMaintaining) {
      renewal.plan(next.renewAt);
      expiryWarnings.plan(next);
      edgeMetrics?.snapshotApplied(next.snapshot.generation, certificatesInUse(next, ca));
    }
    // A build may have issued, renewed or rotated certificates, or replaced a revoked one: the store's records follow (not awaited).
    void certificateEvents?.sync();
    log.info({ ...describeSnapshot(next), buildMs: Math.round(performance.now() - startedAt) }, "snapshot applied");
    options.onApplied?.(config, ticketKeys);
    return next.snapshot;
  }

  // Connections whose handshake used a now-revoked viewer certificate go, with every session ticket.
  // Says whether such a certificate was in use (a primary, which has no connections, then rotates the group's keys).
  function dropRevokedViewerConnections(previous: BuiltSnapshot, revoked: ReadonlySet<string>): boolean {
    const revokedInUse = new Set(previous.snapshot.distributions.map((d) => d.viewerCertificateSerial).filter((serial) => revoked.has(serial)));
    if (revokedInUse.size === 0) return false;
    if (!viewer) return true;
    const dropped = viewer.dropConnectionsServedWith(revokedInUse);
    log.warn({ serials: [...revokedInUse], droppedConnections: dropped }, "revoked viewer certificate replaced; its connections and session tickets are dropped");
    return true;
  }

  async function stop(): Promise<void> {
    idleMemory.stop();
    renewal.stop();
    expiryWarnings.stop();
    revocations?.stop();
    const publishedRevocationsStopped = publishedRevocations?.stop();
    rotationRequests.stop();
    const caRotationStopped = caRotation.watch.stop();
    filesWatch.stop();
    // A renewal that is writing certificates finishes first: stopping never leaves half a rotation.
    await caRotationStopped;
    await publishedRevocationsStopped;
    await applying;
    await serving?.stop();
    // After the drain: the spans of the last requests are in the queue, and go before the process does (bounded).
    await tracing?.stop(TRACE_FLUSH_LIMIT_MS);
    await Promise.allSettled([...built.origins.values()].map((entry) => entry.client.close()));
    log.info("edge stopped");
  }

  // Logged last: whoever waits for this line (an operator, a test, the CLI's signal handling
  // installed right after runEdge returns) finds the edge fully started.
  const httpsPort = serving?.httpsPort ?? 0;
  const httpPort = serving?.httpPort ?? null;
  // A worker's line is not the group's: its primary says "edge listening" once signals and reloads are handled.
  if (serving) log.info({ httpsPort, httpPort, ...describeSnapshot(built) }, role === "worker" ? "worker edge listening" : "edge listening");
  else log.info(describeSnapshot(built), "primary ready: certificates issued, the workers build from them");
  const setTicketKeys = (keys: Buffer) => {
    ticketKeys = keys;
    viewer?.server.setTicketKeys(keys);
  };
  const dropRelayedCacheKeys = (primaryKeys: readonly string[]) => serving?.cache.dropRelayed(primaryKeys) ?? Promise.resolve();
  const applyInvalidations = (requests: readonly NumberedInvalidation[]) => serving?.cache.applyInvalidations(requests);
  return { httpsPort, httpPort, current: () => built.snapshot, apply, stop, ticketKeys: () => ticketKeys, setTicketKeys, dropRelayedCacheKeys, applyInvalidations };
}

function warnAboutRestartOnlySettings(config: MoatConfig, running: MoatConfig, log: Logger): void {
  const { listen } = config;
  const isTlsChanged = JSON.stringify(listen.tls) !== JSON.stringify(running.listen.tls);
  if (listen.host !== running.listen.host || listen.httpsPort !== running.listen.httpsPort || listen.httpPort !== running.listen.httpPort || isTlsChanged) {
    log.warn({ listen }, "listen settings changed: they take effect at the next restart; the running ports stay");
  }
  if (JSON.stringify(config.connections) !== JSON.stringify(running.connections)) {
    log.warn({ connections: config.connections }, "connections settings changed: they take effect at the next restart");
  }
  if (JSON.stringify(config.metrics) !== JSON.stringify(running.metrics)) {
    log.warn({ metrics: config.metrics }, "metrics settings changed: they take effect at the next restart");
  }
  if (JSON.stringify(config.cache) !== JSON.stringify(running.cache)) {
    log.warn({ cache: config.cache }, "cache storage settings changed: they take effect at the next restart");
  }
  if (config.dataDir !== running.dataDir) {
    log.warn({ dataDir: config.dataDir, running: running.dataDir }, "dataDir changed: it takes effect at the next restart; the running edge keeps its data directory");
  }
}

// Pools that the new snapshot no longer uses close once their requests in flight are done:
// undici's close() waits for them. A failover to a retired pool's secondary is still served,
// because the grace period outlasts a response timeout. A pool whose client certificate was
// revoked is destroyed at once, with its cached TLS sessions: no resumed session outlives a revocation.
function retireClients(previous: BuiltSnapshot, next: BuiltSnapshot, revoked: ReadonlySet<string>): void {
  const kept = new Set<OriginClient>([...next.origins.values()].map((entry) => entry.client));
  const leaving = [...previous.origins.values()].filter((entry) => !kept.has(entry.client));
  for (const entry of leaving.filter((e) => e.issued && revoked.has(e.issued.serialHex))) void entry.client.destroy();
  const retired = leaving.filter((e) => !(e.issued && revoked.has(e.issued.serialHex))).map((entry) => entry.client);
  if (retired.length === 0) return;
  const graceMs = Math.max(...retired.map((client) => client.context.responseTimeoutMs + client.context.connectTimeoutMs)) + 1000;
  setTimeout(() => void Promise.allSettled(retired.map((client) => client.close())), graceMs).unref();
}

/** Distributions and origin clients a start or reload line lists in full; the rest are counted. */
const LISTED_IN_LOG = 10;

/**
 * What an operator wants to see after a start or reload: which certificates are in use, and when they renew.
 * Bounded: the first LISTED_IN_LOG distributions and origin clients in full, and counts of everything (ten thousand
 * distributions made a 3 MB line, logged at every start and every rebuild).
 */
function describeSnapshot(built: Pick<BuiltSnapshot, "snapshot" | "origins" | "renewAt">): Record<string, unknown> {
  const { distributions } = built.snapshot;
  const origins = [...built.origins.values()];
  const listed = distributions.slice(0, LISTED_IN_LOG);
  const listedOrigins = origins.slice(0, LISTED_IN_LOG);
  return {
    snapshot: built.snapshot.generation,
    renewAt: built.renewAt?.toISOString() ?? null,
    distributionCount: distributions.length,
    aliasCount: distributions.reduce((sum, d) => sum + d.aliases.length, 0),
    viewerCertificateCount: new Set(distributions.map((d) => d.viewerCertificateSerial)).size,
    distributions: listed.map((d) => ({ id: d.id, aliases: d.aliases, viewerCertificateSerial: d.viewerCertificateSerial, viewerMtls: d.viewerMtls.mode, trustStore: d.viewerMtls.trustStore?.name ?? null })),
    ...(distributions.length > listed.length ? { distributionsNotListed: distributions.length - listed.length } : {}),
    originClientCount: origins.length,
    originClients: listedOrigins.map(({ client }) => ({ distribution: client.context.distributionId, origin: client.originId, identity: client.context.clientIdentity })),
    ...(origins.length > listedOrigins.length ? { originClientsNotListed: origins.length - listedOrigins.length } : {}),
  };
}
