// What a config means when it leaves something out, and the bounds of what it may say.

import type { HttpMethod, KeyAlgorithm, TlsVersion, UnderscoreHeaders } from "./types.ts";

export const KEY_ALGORITHMS = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"] as const satisfies readonly KeyAlgorithm[];
export const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"] as const satisfies readonly TlsVersion[];
/** Canonical order, also the order of BehaviorConfig.allowedMethods. */
export const UNDERSCORE_HEADERS = ["drop", "forward"] as const satisfies readonly UnderscoreHeaders[];
export const HTTP_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"] as const satisfies readonly HttpMethod[];

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULTS = {
  dataDir: ".moat",
  dataDirEnv: "MOAT_DATA_DIR",
  /** A store to run from or apply to, when no --store flag names one (moat start, apply, diff, export, store log). */
  storeEnv: "MOAT_STORE",
  /** The name an edge records its applied invalidations under in a store, when no --edge-name flag gives one (the host name otherwise). */
  edgeNameEnv: "MOAT_EDGE_NAME",
  masterKeyEnv: "MOAT_MASTER_KEY",
  masterKeyFileEnv: "MOAT_MASTER_KEY_FILE",
  trustDomain: "moat.internal",
  keyAlgorithm: "ecdsa-p256",
  clientCertValidityMs: 24 * HOUR,
  serverCertValidityMs: 30 * DAY,
  // cert-manager and SPIRE renew at two thirds of a certificate's life too.
  renewAtFraction: 2 / 3,
  // A new intermediate lives 5 years (never past its root), a new root 10; both renew at renewAtFraction.
  intermediateValidityMs: Math.round(5 * 365.25 * DAY),
  rootValidityMs: Math.round(10 * 365.25 * DAY),
  // Long enough for every origin's trust bundle to be updated by whatever deploys it.
  rolloverOverlapMs: 30 * DAY,
  // One process per core, as nginx's `worker_processes auto`; on one core, one process and no cluster.
  workers: "auto",
  host: "0.0.0.0",
  httpsPort: 8443,
  httpPort: 8080,
  minTlsVersion: "TLSv1.2",
  connectTimeoutMs: 5 * SECOND,
  responseTimeoutMs: 30 * SECOND,
  failoverOn: [500, 502, 503, 504],
  viewerConnections: {
    // Node's default is 120 s: half-open handshakes (no ClientHello, no certificate, no Finished) would pile up for minutes.
    handshakeMs: 10 * SECOND,
    // A browser sends its request in the handshake's last flight; Chrome closes an unused
    // preconnected socket after 10 s itself. More only serves a peer that holds sockets open.
    firstByteMs: 10 * SECOND,
    // Apache's mod_reqtimeout default (header=20): a head is a few kilobytes, even a slow mobile link sends it in seconds.
    requestHeadMs: 20 * SECOND,
    // Below nginx's 75 s keepalive_timeout: an idle viewer's descriptor comes back within a minute;
    // browsers reconnect (with a resumed session) when they need to.
    idleMs: 60 * SECOND,
    // Node's own server timeout: a viewer that stopped reading (or an upload that stopped) for two
    // minutes is gone; slower links than that keep at least a window's worth of bytes moving.
    stalledMs: 2 * MINUTE,
    // Below a typical descriptor limit (raise `ulimit -n` above it): every connection also holds an origin socket at times.
    maxConnections: 20_000,
    // A carrier-grade NAT puts many viewers behind one address; a browser opens at most 6 HTTP/1.1
    // connections per host (1 with HTTP/2). One client holding more than this is a flood, not a viewer.
    maxConnectionsPerAddress: 256,
  },
  // The guard's peers are a few edges with connection pools: fewer addresses, more connections each.
  guardConnections: { handshakeMs: 10 * SECOND, firstByteMs: 10 * SECOND, requestHeadMs: 20 * SECOND, idleMs: 60 * SECOND, maxConnections: 10_000, maxConnectionsPerAddress: 1_024 },
  // Origin hosts enrol and renew a few times a day: a handful of short connections.
  enrolConnections: { handshakeMs: 10 * SECOND, firstByteMs: 10 * SECOND, requestHeadMs: 20 * SECOND, idleMs: 30 * SECOND, maxConnections: 1_024, maxConnectionsPerAddress: 16 },
  // nginx's underscores_in_headers off: CGI, PHP, WSGI and Rack read "_" as "-", so such a name could pose as another.
  underscoreHeaders: "drop",
  // CloudFront closes a WebSocket after 10 minutes without a byte either way.
  websocketIdleTimeoutMs: 10 * MINUTE,
  // API Gateway's WebSocket limit: a tunnel is re-opened (and its viewer re-checked) at least this often.
  websocketMaxLifetimeMs: 2 * HOUR,
  tracing: {
    serviceName: "moat",
    // OpenTelemetry's own default (parent-based, always on): set a ratio below 1 for a busy edge.
    sampleRatio: 1,
    // OpenTelemetry's OTLP exporter default: a collector that takes longer is treated as down for that batch.
    exportTimeoutMs: 10 * SECOND,
    // OpenTelemetry's BatchSpanProcessor defaults: a span waits at most this long to be sent, 512 go per request,
    // and past 2048 waiting (a collector down or slow) new spans are dropped rather than held in memory.
    batchDelayMs: 5 * SECOND,
    maxBatchSpans: 512,
    maxQueuedSpans: 2048,
  },
} as const;

export const LIMITS = {
  // Client certificates are short-lived by design; seconds are allowed so tests can watch rotation.
  clientCertValidityMs: { min: SECOND, max: 90 * DAY },
  // CA/Browser Forum Baseline Requirements §6.3.2: at most 398 days for a TLS server certificate.
  serverCertValidityMs: { min: SECOND, max: 398 * DAY },
  // Renewing before half the life wastes keys; after 95% leaves no time to retry a failed renewal.
  renewAtFraction: { min: 0.5, max: 0.95 },
  timeoutMs: { min: 1, max: 10 * MINUTE },
  // Milliseconds are allowed so that tests can watch a deadline run out.
  connectionTimeoutMs: { min: 1, max: 10 * MINUTE },
  connectionCount: { min: 1, max: 1_000_000 },
  // More processes than this serve no machine better than one per core would.
  workers: { min: 1, max: 256 },
  // Leaves never outlive their intermediate, so an intermediate shorter than a day would shorten every leaf.
  intermediateValidityMs: { min: DAY, max: Math.round(20 * 365.25 * DAY) },
  rootValidityMs: { min: DAY, max: Math.round(30 * 365.25 * DAY) },
  rolloverOverlapMs: { min: HOUR, max: 2 * 365 * DAY },
  websocketIdleTimeoutMs: { min: SECOND, max: HOUR },
  websocketMaxLifetimeMs: { min: SECOND, max: DAY },
  // Milliseconds are allowed so that tests can watch an export give up; a minute is longer than any batch needs.
  traceExportTimeoutMs: { min: 1, max: MINUTE },
  traceBatchDelayMs: { min: 1, max: MINUTE },
  // Lists of one distribution: far more than any real one needs, few enough that a document (or an API body) cannot
  // ask for a certificate with 60 000 names or a behavior table scanned at every request that long.
  aliasesPerDistribution: 100,
  originsPerDistribution: 100,
  behaviorsPerDistribution: 200,
} as const;

/** Connection deadlines and caps per listener, for the parts configured by flags rather than a file. */
export const CONNECTION_DEFAULTS = {
  viewerConnections: DEFAULTS.viewerConnections,
  guardConnections: DEFAULTS.guardConnections,
  enrolConnections: DEFAULTS.enrolConnections,
} as const;
