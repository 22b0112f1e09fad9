// From a validated document to MoatConfig: defaults filled in, paths made absolute, names lowercased, one shape for every choice.

import { resolve } from "node:path";
import { normaliseCachePolicy, normaliseCacheStorage, DEFAULT_CACHE_POLICY } from "./cache-normalise.ts";
import { resolveDataDir } from "./data-dir.ts";
import { DEFAULTS, HTTP_METHODS } from "./defaults.ts";
import { ACCESS_LOG_KEEP, ACCESS_LOG_ROTATE_SIZE, accessLogSample } from "./log-schema.ts";
import { parseListenAddress } from "./metrics-schema.ts";
import { parseOriginUrl } from "./origin-url.ts";
import { defaultTlsPolicy } from "../tls/cipher-policy.ts";
import { normaliseTrustStores, normaliseViewerMtls } from "./normalise-viewer-mtls.ts";
import type { CertificateSourceDocument, ConfigDocument, DistributionDocument, OriginDocument } from "./schema.ts";
import type { AccessLogFileConfig, TracingConfig, BehaviorConfig, CertificateSource, ConnectionsConfig, DistributionConfig, ListenConfig, MoatConfig, OriginConfig, ShieldConfig, WebSocketConfig } from "./types.ts";

export interface NormaliseOptions {
  source: string;
  /** Absolute; relative paths in the document resolve against it. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

/** Assumes a document that passed the schema and the reference rules. */
export function normaliseConfig(document: ConfigDocument, options: NormaliseOptions): MoatConfig {
  const pki = document.pki ?? {};
  const dataDir = resolveDataDir(document.dataDir, options.env, options.baseDir);
  const inBaseDir = pathResolver(options.baseDir);
  const log = { level: document.log?.level ?? null, accessLogSample: accessLogSample(document.log?.accessLog, 1), accessLogFile: accessLogFile(document.log?.accessLog, options.baseDir) };
  return {
    source: options.source,
    dataDir,
    pki: {
      trustDomain: (pki.trustDomain ?? DEFAULTS.trustDomain).toLowerCase(),
      keyAlgorithm: pki.keyAlgorithm ?? DEFAULTS.keyAlgorithm,
      clientCertValidityMs: pki.clientCertValidity ?? DEFAULTS.clientCertValidityMs,
      serverCertValidityMs: pki.serverCertValidity ?? DEFAULTS.serverCertValidityMs,
      renewAtFraction: pki.renewAtFraction ?? DEFAULTS.renewAtFraction,
      masterKeyFile: pki.masterKeyFile === undefined ? null : resolve(options.baseDir, pki.masterKeyFile),
      ca: {
        autoRotate: pki.ca?.autoRotate ?? true,
        intermediateValidityMs: pki.ca?.intermediateValidity ?? DEFAULTS.intermediateValidityMs,
        rootValidityMs: pki.ca?.rootValidity ?? DEFAULTS.rootValidityMs,
        rolloverOverlapMs: pki.ca?.rolloverOverlap ?? DEFAULTS.rolloverOverlapMs,
      },
    },
    listen: normaliseListen(document.listen ?? {}),
    log,
    metrics: { listen: document.metrics === undefined ? null : (parseListenAddress(String(document.metrics.listen)) ?? null) },
    tracing: document.tracing === undefined ? null : normaliseTracing(document.tracing, inBaseDir),
    connections: normaliseConnections(document.connections ?? {}),
    cache: normaliseCacheStorage(document.cache, dataDir, options.baseDir),
    trustStores: normaliseTrustStores(document.trustStores, options.baseDir),
    distributions: document.distributions.map((distribution) => normaliseDistribution(distribution, inBaseDir, log.accessLogSample)),
    workers: document.workers ?? DEFAULTS.workers,
  };
}

function normaliseTracing(tracing: NonNullable<ConfigDocument["tracing"]>, inBaseDir: PathResolver): TracingConfig {
  const { otlp } = tracing;
  const defaults = DEFAULTS.tracing;
  return {
    serviceName: tracing.serviceName ?? defaults.serviceName,
    sampleRatio: tracing.sampleRatio ?? defaults.sampleRatio,
    otlp: {
      endpoint: otlp.endpoint,
      trustedCaFile: otlp.trustedCa === undefined ? null : inBaseDir(otlp.trustedCa),
      clientCertificate: otlp.clientCertificate === undefined ? null : { certFile: inBaseDir(otlp.clientCertificate.cert), keyFile: inBaseDir(otlp.clientCertificate.key) },
      headersFile: otlp.headersFile === undefined ? null : inBaseDir(otlp.headersFile),
      timeoutMs: otlp.timeout ?? defaults.exportTimeoutMs,
      batchDelayMs: otlp.batchDelay ?? defaults.batchDelayMs,
      maxBatchSpans: defaults.maxBatchSpans,
      maxQueuedSpans: defaults.maxQueuedSpans,
    },
  };
}

function normaliseListen(listen: NonNullable<ConfigDocument["listen"]>): ListenConfig {
  const http = listen.http === undefined ? DEFAULTS.httpPort : listen.http;
  return {
    host: listen.host ?? DEFAULTS.host,
    httpsPort: listen.https ?? DEFAULTS.httpsPort,
    httpPort: typeof http === "number" ? http : null,
    tls: { ciphers: listen.tls?.ciphers ?? defaultTlsPolicy().ciphers, ecdhCurves: listen.tls?.ecdhCurves ?? defaultTlsPolicy().ecdhCurves },
  };
}

function normaliseConnections(connections: NonNullable<ConfigDocument["connections"]>): ConnectionsConfig {
  const defaults = DEFAULTS.viewerConnections;
  return {
    handshakeMs: connections.timeouts?.handshake ?? defaults.handshakeMs,
    firstByteMs: connections.timeouts?.firstByte ?? defaults.firstByteMs,
    requestHeadMs: connections.timeouts?.requestHead ?? defaults.requestHeadMs,
    idleMs: connections.timeouts?.idle ?? defaults.idleMs,
    stalledMs: connections.timeouts?.stalled ?? defaults.stalledMs,
    maxConnections: connections.max?.total ?? defaults.maxConnections,
    maxConnectionsPerAddress: connections.max?.perAddress ?? defaults.maxConnectionsPerAddress,
  };
}

/** path.resolve against the config's directory, once per spelling: 10,000 distributions name the same few files. */
type PathResolver = (path: string) => string;

function pathResolver(baseDir: string): PathResolver {
  const resolved = new Map<string, string>();
  return (path) => {
    let absolute = resolved.get(path);
    if (absolute === undefined) resolved.set(path, (absolute = resolve(baseDir, path)));
    return absolute;
  };
}

function normaliseDistribution(distribution: DistributionDocument, inBaseDir: PathResolver, inheritedAccessLogSample: number): DistributionConfig {
  const origins = distribution.origins.map((origin) => normaliseOrigin(origin, inBaseDir));
  return {
    id: distribution.id,
    aliases: distribution.aliases.map((alias) => alias.toLowerCase()),
    viewerCertificate: normaliseCertificate(distribution.viewerCertificate ?? { issuedBy: "moat" }, inBaseDir),
    tls: { minVersion: distribution.tls?.minVersion ?? DEFAULTS.minTlsVersion },
    viewerMtls: normaliseViewerMtls(distribution.viewerMtls),
    underscoreHeaders: distribution.underscoreHeaders ?? DEFAULTS.underscoreHeaders,
    accessLogSample: accessLogSample(distribution.accessLog, inheritedAccessLogSample),
    origins,
    originGroups: (distribution.originGroups ?? []).map((group) => ({
      id: group.id,
      primary: group.members[0] ?? "",
      secondary: group.members[1] ?? "",
      failoverOn: group.failoverOn ?? [...DEFAULTS.failoverOn],
    })),
    behaviors: normaliseBehaviors(distribution.behaviors, origins),
    shield: distribution.shield === undefined ? null : normaliseShield(distribution.shield, distribution.aliases, inBaseDir),
  };
}

function normaliseShield(shield: NonNullable<DistributionDocument["shield"]>, aliases: readonly string[], inBaseDir: PathResolver): ShieldConfig {
  const parsed = parseOriginUrl(shield.url);
  if (!parsed.ok) throw new Error(`bug: shield URL ${shield.url} passed the schema but not parseOriginUrl`);
  // A wildcard alias names no host to ask for: references.ts asks for serverName then.
  const firstAlias = (aliases[0] ?? "").toLowerCase();
  return {
    url: parsed.url.origin,
    hostname: parsed.url.hostname,
    port: parsed.url.port,
    serverName: shield.serverName?.toLowerCase() ?? firstAlias,
    trustedCaFile: shield.trustedCa === undefined ? null : inBaseDir(shield.trustedCa),
  };
}

function normaliseOrigin(origin: OriginDocument, inBaseDir: PathResolver): OriginConfig {
  const parsed = parseOriginUrl(origin.url);
  if (!parsed.ok) throw new Error(`bug: origin URL ${origin.url} passed the schema but not parseOriginUrl`);
  const clientCertificate = origin.mtls?.clientCertificate ?? { issuedBy: "moat" };
  return {
    id: origin.id,
    url: parsed.url.origin,
    basePath: parsed.url.basePath,
    hostname: parsed.url.hostname,
    port: parsed.url.port,
    mtls: {
      clientCertificate: clientCertificate === "none" ? { kind: "none" } : normaliseCertificate(clientCertificate, inBaseDir),
      trustedCaFile: origin.mtls?.trustedCa === undefined ? null : inBaseDir(origin.mtls.trustedCa),
      serverName: origin.mtls?.serverName?.toLowerCase() ?? null,
    },
    timeouts: {
      connectMs: origin.timeouts?.connect ?? DEFAULTS.connectTimeoutMs,
      responseMs: origin.timeouts?.response ?? DEFAULTS.responseTimeoutMs,
    },
  };
}

function normaliseCertificate(source: CertificateSourceDocument, inBaseDir: PathResolver): CertificateSource {
  if (source.imported !== undefined) return { kind: "stored", name: source.imported };
  const passphraseFile = source.passphraseFile === undefined ? null : inBaseDir(source.passphraseFile);
  if (source.pkcs12 !== undefined) return { kind: "imported", format: "pkcs12", pkcs12File: inBaseDir(source.pkcs12), passphraseFile };
  if (source.cert === undefined || source.key === undefined) return { kind: "issued" };
  return { kind: "imported", format: "pem", certFile: inBaseDir(source.cert), keyFile: inBaseDir(source.key), passphraseFile };
}

// CloudFront evaluates behaviors in the order listed, and the default last whatever its place
// in the list; moving it last here lets the edge take the first match.
function normaliseBehaviors(behaviors: DistributionDocument["behaviors"], origins: readonly OriginConfig[]): BehaviorConfig[] {
  if (behaviors === undefined) {
    return [{ path: "*", target: origins[0]?.id ?? "", allowedMethods: [...HTTP_METHODS], cache: DEFAULT_CACHE_POLICY, requiresViewerCertificate: false, websocket: null }];
  }
  const normalised = behaviors.map((behavior) => ({
    path: behavior.path,
    target: behavior.target,
    allowedMethods: HTTP_METHODS.filter((method) => (behavior.allowedMethods ?? HTTP_METHODS).includes(method)),
    cache: normaliseCachePolicy(behavior.cache),
    requiresViewerCertificate: behavior.viewerMtls === "required",
    websocket: normaliseWebSocket(behavior.websocket),
  }));
  return [...normalised.filter((behavior) => behavior.path !== "*"), ...normalised.filter((behavior) => behavior.path === "*")];
}

// Off unless a behavior says so: a tunnel outlives the per-request checks, so an operator opts in path by path.
function normaliseWebSocket(websocket: NonNullable<DistributionDocument["behaviors"]>[number]["websocket"]): WebSocketConfig | null {
  if (websocket === undefined || websocket === false) return null;
  const limits = websocket === true ? {} : websocket;
  return {
    idleTimeoutMs: limits.idleTimeout ?? DEFAULTS.websocketIdleTimeoutMs,
    maxLifetimeMs: limits.maxLifetime ?? DEFAULTS.websocketMaxLifetimeMs,
  };
}

function accessLogFile(document: NonNullable<ConfigDocument["log"]>["accessLog"], baseDir: string): AccessLogFileConfig | null {
  if (typeof document !== "object" || document.file === undefined) return null;
  const rotate = document.rotate ?? {};
  return Object.freeze({
    path: resolve(baseDir, document.file),
    rotateBytes: rotate.size ?? ACCESS_LOG_ROTATE_SIZE,
    // A file rolled at no period would only ever roll by size: daily unless the config says hourly.
    frequency: rotate.frequency ?? "daily",
    keep: rotate.keep ?? ACCESS_LOG_KEEP,
  });
}
