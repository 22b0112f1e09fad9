// The normalised, deep-frozen config that every other part of Moat reads.

import type { ConnectionLimits } from "../connections/index.ts";
import type { CachePolicyConfig, CacheStorageConfig } from "./cache-types.ts";

export type KeyAlgorithm = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-3072";
export type TlsVersion = "TLSv1.2" | "TLSv1.3";
/**
 * Viewer request headers whose name holds "_": dropped (nginx's `underscores_in_headers off`) or
 * forwarded. A name Moat sets or an origin may trust is dropped in every spelling either way.
 */
export type UnderscoreHeaders = "drop" | "forward";
export type HttpMethod = "GET" | "HEAD" | "OPTIONS" | "PUT" | "POST" | "PATCH" | "DELETE";

/** Where a certificate comes from: issued and rotated by Moat's CA, or imported from files (absolute paths). */
export type CertificateSource = { readonly kind: "issued" } | ImportedCertificateSource | StoredCertificateSource;

/** A certificate imported into the data directory through the admin API (`{ imported: NAME }`): its key sealed under the master key, checked as any import each time the edge loads it. */
export interface StoredCertificateSource {
  readonly kind: "stored";
  readonly name: string;
}

/**
 * A certificate from another CA, checked (key, chain, usage, validity, names) each time the edge
 * loads it: PEM files (the chain, leaf first, and its key in PKCS#8, PKCS#1 or SEC1) or one
 * PKCS#12 file. `passphraseFile` holds the passphrase of an encrypted key or of the PKCS#12 (its
 * first line); null when none is needed. Its owner renews it: Moat only warns before it expires.
 */
export type ImportedCertificateSource =
  | { readonly kind: "imported"; readonly format: "pem"; readonly certFile: string; readonly keyFile: string; readonly passphraseFile: string | null }
  | { readonly kind: "imported"; readonly format: "pkcs12"; readonly pkcs12File: string; readonly passphraseFile: string | null };

export interface MoatConfig {
  /** The config file's absolute path, or a label for a config built in code. */
  readonly source: string;
  /** Absolute. */
  readonly dataDir: string;
  readonly pki: PkiConfig;
  readonly listen: ListenConfig;
  readonly log: LogConfig;
  /** The Prometheus endpoint; read at start. */
  readonly metrics: MetricsConfig;
  /** OpenTelemetry export of request spans; null: off (the default). Read at every reload. */
  readonly tracing: TracingConfig | null;
  /** Viewer connections on the HTTPS port: read at start. */
  readonly connections: ConnectionsConfig;
  /** Cache tiers, object size limit, compression: read at start. */
  readonly cache: CacheStorageConfig;
  /** Sorted by name. */
  readonly trustStores: readonly TrustStoreConfig[];
  readonly distributions: readonly DistributionConfig[];
  /** Processes serving the viewer ports of `moat start`: `auto` is one per core (os.availableParallelism()). Read at start. */
  readonly workers: "auto" | number;
}

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface MetricsConfig {
  /** Where GET /metrics is served (plain HTTP); null: no endpoint unless `moat start --metrics` asks for one. */
  readonly listen: { readonly host: string; readonly port: number } | null;
}

/** OpenTelemetry export of one span per viewer request to an OTLP/HTTP collector (JSON encoding). */
export interface TracingConfig {
  /** The resource's service.name. */
  readonly serviceName: string;
  /** Share of new traces (a request without a valid traceparent) sampled; a viewer's traceparent's flag decides for its own. */
  readonly sampleRatio: number;
  readonly otlp: OtlpExportConfig;
}

export interface OtlpExportConfig {
  /** The collector's traces URL (https://, or http:// to a loopback address). */
  readonly endpoint: string;
  /** Absolute; null: the system's root CAs verify the collector. */
  readonly trustedCaFile: string | null;
  /** Absolute paths of the PEM certificate chain and key presented to the collector; null: none. */
  readonly clientCertificate: { readonly certFile: string; readonly keyFile: string } | null;
  /** Absolute path of a file of `Name: value` lines sent with every export (an API key, a tenant); null: none. */
  readonly headersFile: string | null;
  /** One export request's deadline. */
  readonly timeoutMs: number;
  /** The longest a finished span waits before it is sent. */
  readonly batchDelayMs: number;
  /** Spans sent in one request (not configurable: DEFAULTS.tracing). */
  readonly maxBatchSpans: number;
  /** Spans waiting to be sent, at most: past it new ones are dropped (not configurable: DEFAULTS.tracing). */
  readonly maxQueuedSpans: number;
}

export interface LogConfig {
  /** null: not set in the file; `--log-level` or info decides (read at start). */
  readonly level: LogLevel | null;
  /** Share of requests with an access-log line (0 off, 1 every request) where a distribution does not say. */
  readonly accessLogSample: number;
  /** Where access lines go instead of stdout; null: stdout. Read at start. */
  readonly accessLogFile: AccessLogFileConfig | null;
}

/** The access log's own file, rolled over by size and period (pino-roll). */
export interface AccessLogFileConfig {
  /** Absolute. With workers, each writes its own file: `-w<N>` before the extension. */
  readonly path: string;
  readonly rotateBytes: number;
  readonly frequency: "daily" | "hourly";
  /** Rolled files kept besides the one being written. */
  readonly keep: number;
}

export interface PkiConfig {
  readonly trustDomain: string;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly clientCertValidityMs: number;
  readonly serverCertValidityMs: number;
  /** Issued certificates renew at this fraction of their life (less a per-certificate jitter). */
  readonly renewAtFraction: number;
  /** Absolute path of the file holding the master key that encrypts private keys at rest; null when the config names none. */
  readonly masterKeyFile: string | null;
  readonly ca: CaRotationConfig;
}

/** How a running edge rotates the CA in its data directory (see pki/ca-rotation.ts). */
export interface CaRotationConfig {
  /** Renew the intermediate and roll the root over when due. Off: only `moat ca` commands rotate. */
  readonly autoRotate: boolean;
  readonly intermediateValidityMs: number;
  readonly rootValidityMs: number;
  /** Both roots are trusted this long before the new one issues, and again before the old one leaves the bundle. */
  readonly rolloverOverlapMs: number;
}

/**
 * Where the master key comes from (see resolveMasterKeySource). An inline key is
 * behind a function so that logging or serialising a source never prints it.
 */
export type MasterKeySource =
  | { readonly kind: "env"; readonly name: string; readonly value: () => string }
  | { readonly kind: "file"; readonly path: string; /** What named the file: "MOAT_MASTER_KEY_FILE", "--master-key-file", "pki.masterKeyFile in <config>". */ readonly from: string };

export interface ListenConfig {
  readonly host: string;
  readonly httpsPort: number;
  /** null when the plain-HTTP redirect port is off. */
  readonly httpPort: number | null;
  /** The viewer port's ciphers and key-exchange groups (defaults: src/tls/cipher-policy.ts). */
  readonly tls: ListenerTlsConfig;
}

export interface ListenerTlsConfig {
  /** OpenSSL names in order of preference; TLS_* ones set the TLS 1.3 suites (none named: OpenSSL's defaults). */
  readonly ciphers: readonly string[];
  readonly ecdhCurves: readonly string[];
}

/** The HTTPS port's deadlines and caps: the same shape as every listener's (src/connections), one definition, plus the stalled-exchange deadline. */
export type ConnectionsConfig = ConnectionLimits & {
  /**
   * While a request is open: an HTTP/1.1 connection with no byte either way, or an HTTP/2 stream whose
   * response makes no progress (a viewer that never opens its flow-control window), is closed after this.
   */
  readonly stalledMs: number;
};

export interface DistributionConfig {
  readonly id: string;
  /** Lowercased. */
  readonly aliases: readonly string[];
  readonly viewerCertificate: CertificateSource;
  // No per-distribution cipher list: OpenSSL keeps the listener's ciphers when SNI swaps the
  // context (checked on Node 24 / OpenSSL 3), so such a setting would be silently ignored.
  readonly tls: { readonly minVersion: TlsVersion };
  readonly viewerMtls: ViewerMtlsConfig;
  /** Share of this distribution's requests with an access-log line: 0 off, 1 every request. */
  readonly accessLogSample: number;
  readonly underscoreHeaders: UnderscoreHeaders;
  readonly origins: readonly OriginConfig[];
  readonly originGroups: readonly OriginGroupConfig[];
  /** In order of precedence, the default ("*") last; includes the implicit default when one was implied. */
  readonly behaviors: readonly BehaviorConfig[];
  /** The origin shield misses go to instead of the origins; null: straight to the origins. */
  readonly shield: ShieldConfig | null;
}

/**
 * An origin shield: a Moat edge (or several behind one name) that serves the same distribution and fetches from its
 * origins, so that many edges make one origin request per miss. The edge presents the same client certificate it
 * would present to the origin (`spiffe://<trustDomain>/distribution/<id>/origin/<id>`, always issued by Moat's CA).
 */
export interface ShieldConfig {
  /** "https://host:port", always with the port. */
  readonly url: string;
  /** Lowercased; an IPv6 address without brackets. */
  readonly hostname: string;
  readonly port: number;
  /** SNI and the name the shield's certificate must carry: the distribution's first alias unless set, so that the shield picks this distribution's TLS context. */
  readonly serverName: string;
  /** null: verify the shield against Moat's own CA bundle. */
  readonly trustedCaFile: string | null;
}

export interface OriginConfig {
  readonly id: string;
  /** "https://host:port", always with the port. */
  readonly url: string;
  /** "" or "/optional/base/path", without a trailing slash. */
  readonly basePath: string;
  /** Lowercased; an IPv6 address without brackets. */
  readonly hostname: string;
  readonly port: number;
  readonly mtls: OriginMtlsConfig;
  readonly timeouts: { readonly connectMs: number; readonly responseMs: number };
}

export interface OriginMtlsConfig {
  readonly clientCertificate: CertificateSource | { readonly kind: "none" };
  /** null: verify the origin against Moat's own CA bundle. */
  readonly trustedCaFile: string | null;
  /** null: the URL's hostname. */
  readonly serverName: string | null;
}

export interface OriginGroupConfig {
  readonly id: string;
  readonly primary: string;
  readonly secondary: string;
  readonly failoverOn: readonly number[];
}

export interface BehaviorConfig {
  readonly path: string;
  /** An origin or origin group id of the same distribution. */
  readonly target: string;
  /** In the canonical order GET HEAD OPTIONS PUT POST PATCH DELETE. */
  readonly allowedMethods: readonly HttpMethod[];
  readonly cache: CachePolicyConfig;
  /** This path needs a verified viewer certificate (on an `optional` distribution). */
  readonly requiresViewerCertificate: boolean;
  /** WebSocket upgrades on this path and their limits; null: refused (the default). */
  readonly websocket: WebSocketConfig | null;
}

/** The limits of a WebSocket tunnel through the edge; the edge closes it when either is reached. */
export interface WebSocketConfig {
  /** No byte either way for this long. */
  readonly idleTimeoutMs: number;
  /** Open for this long, busy or not. */
  readonly maxLifetimeMs: number;
}

// ---------------------------------------------------------------- viewer mTLS

/**
 * off: no certificate is asked for. optional: one may be sent, and must be valid if it is.
 * required: no valid certificate, no connection. passthrough: any certificate is taken,
 * unverified, and handed to the origin, which checks it itself.
 */
export type ViewerMtlsMode = "off" | "optional" | "required" | "passthrough";

/** A named CA bundle (and the CRLs of its CAs) that verifies viewers' client certificates. */
export interface TrustStoreConfig {
  readonly name: string;
  /** Absolute. */
  readonly caBundleFile: string;
  /** Absolute; empty when revocation is not checked. */
  readonly crlFiles: readonly string[];
  /** Accept a client certificate with no EKU extension at all (one with an EKU must list clientAuth). */
  readonly allowNoEku: boolean;
}

export interface ViewerMtlsConfig {
  readonly mode: ViewerMtlsMode;
  /** The trust store's name: set for optional and required, null otherwise. */
  readonly trustStore: string | null;
  /**
   * Only edges of this fleet for this distribution (the shield side of an origin shield): a verified certificate must
   * carry the URI SAN spiffe://<pki.trustDomain>/distribution/<this id>/origin/<id>. Needs mode required.
   */
  readonly edgesOnly: boolean;
  /** Which headers tell the origin about the viewer's certificate. */
  readonly forward: {
    /** Moat-Viewer-Cert-* (present, subject, issuer, serial, SHA-256, validity, SANs, verification, PEM). */
    readonly moat: boolean;
    /** RFC 9440 Client-Cert and Client-Cert-Chain. */
    readonly rfc9440: boolean;
    /** Envoy's x-forwarded-client-cert. */
    readonly xfcc: boolean;
  };
}
