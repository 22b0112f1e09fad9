// `moat start --config FILE | --store ADDRESS`: runs an edge from a config file or a store until SIGTERM, in one process or as a primary and its workers.
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
// From their own files, not config/index.ts: that one re-exports the schema, and a start from a file validates it in a
// thread (config-thread.ts), so this process never loads zod or yaml.
import { resolveDataDir } from "../../config/data-dir.ts";
import { parseListenAddress } from "../../config/listen-address.ts";
import type { ListenAddress } from "../../config/listen-address.ts";
import { givenEdgeName, resolveEdgeName, resolveStoreAddress } from "../../config/store-address.ts";
import type { AppliedInvalidations, NumberedInvalidation } from "../../cache/invalidations.ts";
import type { MoatConfig } from "../../config/index.ts";
import { runEdge } from "../../edge/index.ts";
import type { RunEdgeOptions } from "../../edge/index.ts";
import { CliUsageError, ListenError, StoreUnavailableError } from "../../errors.ts";
import { createLogger, installEdgeMetrics, loadMetrics } from "../../observe/index.ts";
import type { LoggerOptions, MetricJson, MetricsEndpoint, ProcessMetrics } from "../../observe/index.ts";
import { caTrustOf, openCertificateAuthority } from "../../pki/index.ts";
import type { CaRotationPolicy, CertificateAuthority, MasterKey } from "../../pki/index.ts";
import type { Logger } from "../../observe/index.ts";
import type { Store } from "../../store/index.ts";
import type { CertificateRecorder } from "../../control/certificate-records.ts";
import { parseCliArgs } from "../cli-args.ts";
import { describeMasterKey, loadCommandMasterKey, logKeyFileEncrypted } from "../master-key.ts";
import { createFileConfigSource } from "./config-source.ts";
import type { ConfigSource } from "./config-source.ts";
import type { StoreInvalidationFeed } from "./store-config-source.ts";
import { holdStopSignals, serveEdge } from "./serve-edge.ts";
import { startWorkerGroup } from "./worker-group.ts";
import { caFollowIntervalMs, findJoinedEdge, openJoinedCa } from "./joined-edge-start.ts";
import type { JoinedEdgeStart } from "./joined-edge-start.ts";

/** The admin API to start beside the edge: where, and the store it changes. */
export interface ApiStart {
  host: string;
  port: number;
  store: Store;
}

/** `auto`: one per core, as nginx's `worker_processes auto`. */
export function workerCount(workers: MoatConfig["workers"]): number {
  return workers === "auto" ? availableParallelism() : workers;
}

export async function runStart(args: string[]): Promise<number> {
  const { values } = parseCliArgs("start", args, { config: { type: "string", short: "c" }, store: { type: "string" }, api: { type: "string" }, "log-level": { type: "string" }, "edge-name": { type: "string" }, region: { type: "string" }, metrics: { type: "string" }, ca: { type: "boolean", default: false } });
  const api = values.api === undefined ? undefined : parseApiAddress(values.api);
  const metricsFlag = values.metrics === undefined ? undefined : parseMetricsAddress(values.metrics);
  if (values["edge-name"] !== undefined && values.config !== undefined) {
    throw new CliUsageError("start: --edge-name names an edge in a store; an edge run from --config FILE records nothing there.", { fix: "drop --edge-name, or run from a store: `moat start --store ADDRESS --edge-name NAME`" });
  }
  if (values.region !== undefined && values.config !== undefined) {
    throw new CliUsageError("start: --region is what an edge reports in a store's edges table; an edge run from --config FILE reports nothing there.", { fix: "drop --region, or run from a store: `moat start --store ADDRESS --edge-name NAME --region eu-west`" });
  }
  if (values.ca && values.config !== undefined) {
    throw new CliUsageError("start: --ca signs the certificate requests of joined edges, which come through a store; an edge run from --config FILE has none.", { fix: "run the CA node from the fleet's store: `moat start --store ADDRESS --ca`" });
  }
  // A data directory `moat edge join` wrote is a joined edge's: its name, region and data directory are the join's.
  const joined = values.config === undefined ? await findJoinedEdge(values.store) : undefined;
  if (joined) checkJoinedFlags(joined, values["edge-name"], values.ca, values.api !== undefined);
  const edgeName = joined?.edge.name ?? resolveEdgeName(values["edge-name"]);
  const region = resolveRegion(values.region) ?? joined?.edge.region ?? undefined;
  const { source, store, feed } = await openConfigSource(values.config, values.store, edgeName, region, joined?.dataDir);
  if (api && !store) {
    await source.close().catch(() => undefined);
    if (feed) throw new StoreUnavailableError(source.describe().store as string, "it did not answer at start, and --api needs it (the admin API reads and changes the store)", { fix: "bring the store up and start again; without --api, an edge starts from its local copy while the store is down" });
    throw new CliUsageError("start: --api needs --store: the admin API changes the store, and a config file is not one.", { fix: "put the file into a store first (`moat apply -f moat.yaml --store /var/lib/moat`), then `moat start --store /var/lib/moat --api 127.0.0.1:8444`" });
  }
  try {
    const config = await source.load();
    const invalidations = feed && { feed, edge: edgeName, initial: await feed.initialInvalidations() };
    // The flag wins over the config's metrics.listen.
    if (values.ca && !store) throw new StoreUnavailableError(source.describe().store as string, "it did not answer at start, and --ca needs it (the CA node reads certificate requests from it)", { fix: "bring the store up and start the CA node again" });
    const roles = { ...(joined ? { joined } : {}), isCaNode: values.ca };
    return await runFrom(source, config, values["log-level"], api && store ? { ...api, store } : undefined, invalidations, metricsFlag ?? config.metrics.listen ?? undefined, store && { store, edge: edgeName }, joined ? joined.edge.name : givenEdgeName(values["edge-name"]), roles);
  } catch (error) {
    // A start that fails lets go of the store (a PostgreSQL pool would keep the process up); once serving, serveEdge closes it.
    await source.close().catch(() => undefined);
    throw error;
  }
}

/** A joined edge's start takes its name from the join, and never runs the CA (it holds no CA key). */
function checkJoinedFlags(joined: JoinedEdgeStart, edgeNameFlag: string | undefined, isCaNode: boolean, hasApi: boolean): void {
  if (hasApi) {
    throw new CliUsageError(`start: --api runs the admin API, which manages the CA and the data directory it is in; ${joined.dataDir} is the joined edge ${joined.edge.name}'s, which holds no CA.`, { fix: "run the admin API beside the CA node (`moat start --store ADDRESS --ca --api 127.0.0.1:8444`); the joined edge needs none" });
  }
  if (isCaNode) {
    throw new CliUsageError(`start: --ca runs the CA node, where the master key and the CA's keys are; ${joined.dataDir} is the data directory of the joined edge ${joined.edge.name}, which holds neither.`, { fix: "start the CA node on the host that holds the CA (`moat start --store ADDRESS --ca` with its MOAT_DATA_DIR), and this edge without --ca" });
  }
  if (edgeNameFlag !== undefined && edgeNameFlag !== joined.edge.name) {
    throw new CliUsageError(`start: --edge-name ${edgeNameFlag}, but ${joined.dataDir} joined the fleet as ${joined.edge.name}.`, { fix: `drop --edge-name (a joined edge runs under the name it joined as), or join again under the new name with a new token` });
  }
}

/** `HOST:PORT` (or a bare port, on 127.0.0.1) of the admin API; port 0 takes a free one (logged in "admin API listening"). */
function parseApiAddress(text: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/i.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new CliUsageError(`start: --api ${JSON.stringify(text)} is not HOST:PORT.`, { fix: "give the address the admin API listens on, e.g. --api 127.0.0.1:8444 (keep it on loopback unless clients elsewhere need it)" });
  }
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

/** `--metrics HOST:PORT` (or a bare port, on 127.0.0.1). */
function parseMetricsAddress(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (address === undefined) {
    throw new CliUsageError(`start: --metrics ${JSON.stringify(text)} is not HOST:PORT.`, { fix: "give the address Prometheus scrapes, e.g. --metrics 127.0.0.1:9464 (plain HTTP with no authentication: keep it on loopback)" });
  }
  return address;
}

// A worker that has not sent its metrics within this long is left out of the scrape (moat_metrics_workers_answered says so).
const WORKER_METRICS_LIMIT_MS = 2_000;

/** The process's metrics, made and installed before the edge is built, so that its first snapshot is counted. */
async function openMetrics(address: ListenAddress | undefined): Promise<{ metrics: ProcessMetrics; module: Awaited<ReturnType<typeof loadMetrics>>; address: ListenAddress } | undefined> {
  if (address === undefined) return undefined;
  const module = await loadMetrics();
  const metrics = module.createProcessMetrics();
  installEdgeMetrics(metrics.recorder);
  return { metrics, module, address };
}

/** Closes whatever of the admin API and the metrics endpoint runs beside the edge, when it stops. */
function closing(...parts: Array<{ close(): Promise<void> } | undefined>): (() => Promise<void>) | undefined {
  const running = parts.filter((part) => part !== undefined);
  return running.length === 0 ? undefined : async () => void (await Promise.all(running.map((part) => part.close())));
}

/** Starts the admin API beside the edge, on the same CA and store; loaded only when asked for. */
export async function startApi(
  api: ApiStart,
  config: MoatConfig,
  ca: CertificateAuthority,
  masterKey: MasterKey,
  log: Logger,
  certificateRecords?: CertificateRecorder,
  traffic?: () => Promise<readonly MetricJson[]>,
): Promise<{ url: string; useCa(next: CertificateAuthority): Promise<void>; close(): Promise<void> }> {
  const [{ startAdminApi }, { readRevocations }] = await Promise.all([import("../../control/index.ts"), import("../../pki/index.ts")]);
  const running = await startAdminApi({
    store: api.store,
    ca,
    listen: { host: api.host, port: api.port },
    logger: log,
    trustDomain: config.pki.trustDomain,
    isRevoked: async (serialHex) => (await readRevocations(config.dataDir)).some((revocation) => revocation.serialHex === serialHex),
    // Certificates and the CA live in the data directory the edge watches (invalidations, in the store it polls): a change reaches it without a restart.
    dataDir: { dataDir: config.dataDir, masterKey, caRotationPolicy: caRotationPolicyOf(config) },
    // The edge's own recorder: the API's syncs after an import or a revocation queue with the edge's, under its name.
    ...(certificateRecords ? { certificateRecords } : {}),
    // With metrics on, the console's traffic page reads the same counters /metrics shows.
    ...(traffic ? { traffic } : {}),
  });
  return running;
}

/** The CA rotation policy the edge maintains by (config.pki.ca), for the API's CA status and manual steps. */
function caRotationPolicyOf(config: MoatConfig): CaRotationPolicy {
  const { intermediateValidityMs, rootValidityMs, rolloverOverlapMs } = config.pki.ca;
  return { intermediateValidityMs, rootValidityMs, rolloverOverlapMs, renewAtFraction: config.pki.renewAtFraction };
}

/** Run from a store: its invalidations (every one at start, then the feed's), and the name this edge records them under. */
interface StoreInvalidations {
  feed: StoreInvalidationFeed;
  edge: string;
  initial: readonly NumberedInvalidation[];
}

async function runFrom(
  source: ConfigSource,
  config: MoatConfig,
  logLevelFlag: string | undefined,
  api: ApiStart | undefined,
  invalidations: StoreInvalidations | undefined,
  metricsAddress: ListenAddress | undefined,
  records: { store: Store; edge: string } | undefined,
  /** The name the operator gave this edge (`--edge-name`, MOAT_EDGE_NAME), for its Cache-Status entries; null: none. */
  edgeName: string | null,
  roles: { joined?: JoinedEdgeStart; isCaNode: boolean } = { isCaNode: false },
): Promise<number> {
  // The flag wins over the config's log.level, which wins over info.
  const logLevel = (logLevelFlag ?? config.log.level ?? "info") as NonNullable<LoggerOptions["level"]>;
  const workers = workerCount(config.workers);
  const baseLog = createLogger({ level: logLevel, worker: workers > 1 ? 0 : undefined });
  // Edges sharing a store tell themselves apart by name: every line of this one (its start line too) carries it.
  const log = invalidations ? baseLog.child({ edge: invalidations.edge }) : baseLog;
  // From here on a stop signal is held until the edge can drain (before this, nothing runs that needs draining).
  const heldSignals = holdStopSignals(log);
  const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
  log.info({ masterKey: describeMasterKey(masterKey) }, "master key loaded");
  // A joined edge holds no CA key: its CA sends CSRs to the CA node through the store.
  const joinedCa = roles.joined && (await openJoinedCa(roles.joined, masterKey, records?.store, log));
  const ca = joinedCa ? joinedCa.ca : await openCertificateAuthority({ dataDir: config.dataDir, masterKey, onKeyFileEncrypted: logKeyFileEncrypted(log) });
  const isJoined = joinedCa !== undefined;
  // Run from a store, this process (alone, or the primary: never a worker) keeps the store's certificate records and the trail of its certificate events.
  const recorder = records && (await import("../../control/certificate-records.ts")).createCertificateRecorder({ ...records, dataDir: config.dataDir, log: log.child({ part: "certificate-records" }) });
  const certificateEvents = recorder && { certificateEvents: recorder };
  // The store holds this edge's certificates before the API answers for them (bounded: an outage is logged and retried, the edge starts anyway).
  const startRecords = async () => void (await recorder?.sync());
  const recordsClosing = recorder && { close: async () => recorder.stop() };
  // Run from a store: this edge reports the CA it trusts, and activates a root rollover by itself only once the whole fleet trusts the new root.
  const fleetCa = await fleetCaOptions(records?.store, invalidations?.feed);
  // The CA node signs joined edges' requests with the CA in use, which a rotation replaces (told through onCaInUse).
  let caInUse = ca;
  // The admin API beside the edge follows the CA in use too (its server certificate, the bundle admin certificates verify against).
  let apiFollowsCa: ((next: CertificateAuthority) => Promise<void>) | undefined;
  const followCa = (next: CertificateAuthority) => {
    caInUse = next;
    void apiFollowsCa?.(next).catch((error: unknown) => log.error({ err: error }, "the admin API could not take the rotated CA; restart it if admin clients are refused"));
  };
  const followMs = isJoined ? caFollowIntervalMs() : undefined;
  const caNodeOptions = { ...fleetCa, isJoined, ...(joinedCa ? { followPublishedCa: joinedCa.follow, followPublishedRevocations: joinedCa.followRevocations } : {}), ...(followMs ? { followPublishedCaMs: followMs } : {}), onCaInUse: (next: CertificateAuthority) => (followCa(next), fleetCa.onCaInUse?.(next)) };
  const startSigning = async () => (roles.isCaNode && records ? (await import("../../control/certificate-requests.ts")).startCertificateSigning({ store: records.store, ca: () => caInUse, log: log.child({ part: "certificate-requests" }), dataDir: config.dataDir }) : undefined);
  // The process that holds the CA and writes to the store (the CA node, or an edge with the admin API beside it) signs audit
  // checkpoints: every interval while the trail grows, and once more before the store closes at a clean stop. The interval
  // is checked here, before the edge starts, so that a bad one fails the start rather than a running edge.
  const checkpointing = records && !isJoined && (roles.isCaNode || api) ? await import("../../control/audit-checkpoints.ts") : undefined;
  const checkpointIntervalMs = checkpointing && auditCheckpointIntervalMs(checkpointing, "start");
  const startCheckpoints = async () => {
    if (!checkpointing || !records) return undefined;
    const checkpoints = checkpointing.startAuditCheckpoints({ audit: records.store.audit, label: records.store.label, dataDir: config.dataDir, masterKey, ca: () => caInUse, name: records.edge, log: log.child({ part: "audit-checkpoints" }), intervalMs: checkpointIntervalMs as number });
    return { beforeSourceClose: () => checkpoints.close() };
  };
  const metrics = await openMetrics(metricsAddress);
  if (workers === 1) {
    const edge = await runEdge({ config, ca, masterKey, log, edgeName, storeInvalidations: invalidations?.initial, ...certificateEvents, ...caNodeOptions });
    await startRecords();
    const signing = await startSigning();
    const checkpoints = await startCheckpoints();
    if (invalidations) {
      const { feed } = invalidations;
      // Alone, applying is synchronous: once applied here, applied by the whole edge.
      feed.feedInvalidations({ edge: invalidations.edge, deliver: (requests) => (edge.applyInvalidations(requests), feed.invalidationsApplied(requests.at(-1)!.seq)) });
      feed.invalidationsApplied(invalidations.initial.at(-1)?.seq ?? 0);
    }
    const traffic = metrics && (() => metrics.metrics.json());
    const adminApi = api ? await startApi(api, config, caInUse, masterKey, log, recorder, traffic).catch(async (error) => { await edge.stop(); throw error; }) : undefined;
    apiFollowsCa = adminApi?.useCa;
    const endpoint = metrics && (await startEndpoint(metrics, () => metrics.module.processPage(metrics.metrics), log, async () => { await Promise.all([edge.stop(), adminApi?.close()]); }));
    await serveEdge({ edge, source, log, heldSignals, onStopping: closing(adminApi, endpoint, recordsClosing, signing && { close: signing.stop }, joinedCa), ...checkpoints });
    return 0;
  }
  // The primary issues and renews every certificate before any worker builds: workers find them in the store.
  let group: Awaited<ReturnType<typeof startWorkerGroup>> | undefined;
  const edge = await runEdge({ config, ca, masterKey, log, edgeName, role: "primary", onApplied: (applied, ticketKeys) => group?.apply(applied, ticketKeys!), ...certificateEvents, ...caNodeOptions });
  await startRecords();
  const signing = await startSigning();
  const checkpoints = await startCheckpoints();
  try {
    group = await startWorkerGroup({ count: workers, config, edgeName, ticketKeys: edge.ticketKeys()!, log, logLevel, store: invalidations && groupInvalidations(invalidations, workers), metrics: metrics !== undefined });
  } catch (error) {
    await edge.stop();
    throw error;
  }
  const running = group;
  if (invalidations) invalidations.feed.feedInvalidations({ edge: invalidations.edge, deliver: (requests) => running.invalidate(requests) });
  void running.failed.catch(async (error: Error) => {
    await Promise.all([running.stop(), edge.stop()]);
    // serveEdge's file watch and signal handlers would keep the primary up: a group that cannot serve exits, non-zero.
    process.stderr.write(`moat: ${error.message}\n`);
    process.exit(1);
  });
  // "config reloaded" is logged once every worker serves the new config, as a lone edge logs it once it does.
  const groupEdge = {
    ...edge,
    apply: async (next: MoatConfig) => {
      const snapshot = await edge.apply(next);
      await running.settled();
      return snapshot;
    },
    // The primary's "edge stopped" comes after every worker has drained and exited.
    stop: async () => {
      await running.stop();
      await edge.stop();
    },
  };
  // Logged last, as a lone edge logs it: serveEdge handles signals and reloads from its first synchronous step.
  log.info({ workers, httpsPort: running.httpsPort, httpPort: running.httpPort }, "edge listening");
  const traffic = metrics && (() => metrics.module.groupJson(metrics.metrics, () => running.collectMetrics(WORKER_METRICS_LIMIT_MS)));
  const adminApi = api ? await startApi(api, config, caInUse, masterKey, log, recorder, traffic).catch(async (error) => { await groupEdge.stop(); throw error; }) : undefined;
  apiFollowsCa = adminApi?.useCa;
  // One endpoint for the group, on the primary: each scrape asks every worker over the IPC channel.
  const endpoint = metrics && (await startEndpoint(metrics, () => metrics.module.groupPage(metrics.metrics, () => running.collectMetrics(WORKER_METRICS_LIMIT_MS)), log, async () => { await Promise.all([groupEdge.stop(), adminApi?.close()]); }));
  await serveEdge({ edge: groupEdge, source, log, heldSignals, onStopping: closing(adminApi, endpoint, recordsClosing, signing && { close: signing.stop }, joinedCa), ...checkpoints });
  return 0;
}

/** The fleet's side of CA rotation for an edge run from a store (none for a file: a single edge has no fleet to wait for). */
async function fleetCaOptions(store: Store | undefined, feed: StoreInvalidationFeed | undefined): Promise<Pick<RunEdgeOptions, "fleetGate" | "onCaInUse">> {
  if (!store || !feed) return {};
  const { requireFleetTrusts } = await import("../../store/index.ts");
  return {
    fleetGate: (newRoot) => requireFleetTrusts(store.edges, newRoot, new Date()),
    onCaInUse: (ca) => feed.caInUse(caTrustOf(ca)),
  };
}

/** Listens for scrapes; a port that cannot be bound stops what started before it, and the start fails. */
async function startEndpoint(opened: NonNullable<Awaited<ReturnType<typeof openMetrics>>>, render: () => Promise<{ contentType: string; body: string }>, log: Logger, stopStarted: () => Promise<void>): Promise<MetricsEndpoint> {
  try {
    return await opened.module.startMetricsEndpoint(opened.address, render, log.child({ part: "metrics" }));
  } catch (error) {
    await stopStarted();
    throw new ListenError("the metrics endpoint (--metrics or metrics.listen)", opened.address.host, opened.address.port, error);
  }
}

/** A group's applied invalidations go to the store once every worker has reported: the edge applied one when all of its workers have. */
function groupInvalidations(invalidations: StoreInvalidations, workers: number) {
  return {
    invalidations: invalidations.initial,
    onApplied: (summary: AppliedInvalidations) => {
      if ((summary.workers?.length ?? 0) >= workers) invalidations.feed.invalidationsApplied(summary.applied);
    },
  };
}

/** `--config FILE`, or a store from `--store` or MOAT_STORE (a flag beats the variable: `--config` wins over MOAT_STORE). */
const REGION_ENV = "MOAT_EDGE_REGION";

/** `--region`, else MOAT_EDGE_REGION, else none: a name as `moat edge list` shows it (letters, digits, `.`, `_`, `-`). */
function resolveRegion(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const [text, where] = flag !== undefined ? [flag, "--region"] : [env[REGION_ENV], REGION_ENV];
  if (text === undefined || (text === "" && flag === undefined)) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(text)) {
    throw new CliUsageError(`start: ${where} ${JSON.stringify(text)} is not a region name: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit.`, { fix: "name the region as your provider does, e.g. --region eu-west-1" });
  }
  return text;
}

async function openConfigSource(configFlag: string | undefined, storeFlag: string | undefined, edge: string, region?: string, ownDataDir?: string): Promise<{ source: ConfigSource; store?: Store; feed?: StoreInvalidationFeed }> {
  if (configFlag !== undefined && storeFlag !== undefined) {
    throw new CliUsageError("start: give --config FILE or --store ADDRESS, not both.", { fix: "a file is one source and a store another; `moat apply -f FILE --store ADDRESS` puts a file into a store" });
  }
  if (configFlag !== undefined) return { source: createFileConfigSource(resolve(configFlag)) };
  const address = resolveStoreAddress(storeFlag);
  if (address === undefined) {
    throw new CliUsageError("start: --config FILE or --store ADDRESS is required.", { fix: "run `moat start --config ./moat.yaml`, `moat start --store /var/lib/moat`, or `npm start` for the demo" });
  }
  // Loaded only for a store: an edge run from a file loads neither Kysely nor pg.
  const [{ openStore, parseStoreAddress }, { FALLBACK_POLL_ENV, HEARTBEAT_ENV, LOCAL_COPY_FILE, openStoreConfigSource }, { validateStoredDocument }] = await Promise.all([
    import("../../store/index.ts"),
    import("./store-config-source.ts"),
    import("../../config/stored-document.ts"),
  ]);
  const { label, dataDir } = parseStoreAddress(address);
  // The local copy lives where the edge can find it before it reads the store: the store's directory, MOAT_DATA_DIR, or ./.moat.
  const localCopy = join(dataDir ?? resolveDataDir(undefined), LOCAL_COPY_FILE);
  const fallbackPollText = process.env[FALLBACK_POLL_ENV];
  const fallbackPollMs = fallbackPollText ? Number(fallbackPollText) : undefined;
  if (fallbackPollMs !== undefined && !(Number.isInteger(fallbackPollMs) && fallbackPollMs >= 1_000)) {
    throw new CliUsageError(`start: ${FALLBACK_POLL_ENV}=${JSON.stringify(fallbackPollText)} is not a number of milliseconds of at least 1000.`, { fix: `unset it (the default is 5000), or set a whole number such as ${FALLBACK_POLL_ENV}=10000` });
  }
  const heartbeatText = process.env[HEARTBEAT_ENV];
  const heartbeatMs = heartbeatText ? Number(heartbeatText) : undefined;
  if (heartbeatMs !== undefined && !(Number.isInteger(heartbeatMs) && heartbeatMs >= 1_000)) {
    throw new CliUsageError(`start: ${HEARTBEAT_ENV}=${JSON.stringify(heartbeatText)} is not a number of milliseconds of at least 1000.`, { fix: `unset it (the default is 10000), or set a whole number such as ${HEARTBEAT_ENV}=5000` });
  }
  const { source, store } = await openStoreConfigSource({
    open: () => openStore({ address, validate: validateStoredDocument }),
    label,
    dataDir,
    localCopy,
    edge,
    ...(region !== undefined ? { region } : {}),
    ...(ownDataDir !== undefined ? { ownDataDir } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    liveIntervalMs: fallbackPollMs,
  });
  return { source, store, feed: source };
}

/**
 * The audit checkpoints' interval: MOAT_AUDIT_CHECKPOINT_MS, else the default (5 minutes). Checked before the edge
 * starts, so that a bad value fails the start rather than a running edge.
 */
export function auditCheckpointIntervalMs(checkpointing: { AUDIT_CHECKPOINT_ENV: string; AUDIT_CHECKPOINT_INTERVAL_MS: number }, command: string): number {
  const text = process.env[checkpointing.AUDIT_CHECKPOINT_ENV];
  const intervalMs = text ? Number(text) : checkpointing.AUDIT_CHECKPOINT_INTERVAL_MS;
  if (!(Number.isInteger(intervalMs) && intervalMs >= 1_000)) {
    throw new CliUsageError(`${command}: ${checkpointing.AUDIT_CHECKPOINT_ENV}=${JSON.stringify(text)} is not a number of milliseconds of at least 1000.`, {
      fix: `unset it (the default is ${checkpointing.AUDIT_CHECKPOINT_INTERVAL_MS}, 5 minutes), or set a whole number such as ${checkpointing.AUDIT_CHECKPOINT_ENV}=60000`,
    });
  }
  return intervalMs;
}
