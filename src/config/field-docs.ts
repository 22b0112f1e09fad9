// What each key of a config file means, its default and an example: the text of the generated config reference (docs/reference/config-file.md).
// Keys are the schema's paths; `npm run docs:gen` refuses a schema key without an entry here, and an entry the schema lacks.

import { PREFERRED_GROUPS, TLS12_CIPHERS } from "../tls/cipher-policy.ts";
import { CACHE_DEFAULTS } from "./cache-normalise.ts";
import { formatByteSize } from "./byte-size.ts";
import { DEFAULTS } from "./defaults.ts";
import { formatDuration } from "./duration.ts";

export interface FieldDoc {
  description: string;
  /** What applies when the key is left out, as a user would write it. */
  default?: string;
  /** A value as it appears in YAML. */
  example?: string;
}

const d = formatDuration;
const size = formatByteSize;
const vc = DEFAULTS.viewerConnections;

function certificateSourceDocs(prefix: string, use: string): Record<string, FieldDoc> {
  return {
    [prefix]: { description: `${use}: \`{ issuedBy: moat }\` (Moat's CA issues and rotates it), or imported from another CA as \`{ cert, key }\`, \`{ pkcs12 }\` or \`{ imported: NAME }\` (imported through the admin API).`, default: "{ issuedBy: moat }", example: "{ cert: ./shop-fullchain.pem, key: ./shop.key }" },
    [`${prefix}.issuedBy`]: { description: "`moat`: Moat's own CA issues the certificate and renews it with a fresh key.", example: "moat" },
    [`${prefix}.cert`]: { description: "An imported PEM chain, leaf first, relative to the config file.", example: "./shop-fullchain.pem" },
    [`${prefix}.key`]: { description: "The imported certificate's private key (PKCS#8, PKCS#1 or SEC1 PEM).", example: "./shop.key" },
    [`${prefix}.pkcs12`]: { description: "An imported PKCS#12 (.p12/.pfx) holding certificate, chain and key.", example: "./edge.p12" },
    [`${prefix}.imported`]: { description: "The name a certificate was imported under through the admin API (POST /certificates): kept in the data directory, its key sealed under the master key.", example: "shop-ev" },
    [`${prefix}.passphraseFile`]: { description: "A file whose first line is the passphrase of an encrypted key or of the PKCS#12.", example: "./edge.pass" },
    "distributions[].shield": { description: "An [origin shield](../how-to/origin-shield.md): Moat edges that serve this same distribution and fetch from its origins. Misses (and every request the cache does not answer) go to the shield instead of the origins, over mTLS with the certificate the edge would present to the origin.", example: "{ url: \"https://shield.internal:8443\" }" },
  "distributions[].shield.url": { description: "The shield's `https://host:port`, without a path.", example: "https://shield.internal:8443" },
  "distributions[].shield.serverName": { description: "The SNI sent to the shield, and the name its certificate must carry: a name of this distribution, so the shield picks its TLS context. The Host sent is the viewer's.", default: "the distribution's first alias", example: "shop.example.test" },
  "distributions[].shield.trustedCa": { description: "The CA bundle that verifies the shield's certificate.", default: "Moat's CA bundle", example: "./shield-ca.pem" },
};
}

function accessLogDocs(prefix: string, description: string, fallback: string): Record<string, FieldDoc> {
  return {
    [prefix]: { description, default: fallback, example: "{ sample: 0.1 }" },
    [`${prefix}.sample`]: { description: "The share of requests, chosen at random, that get a line (more than 0, at most 1).", example: "0.01" },
    "distributions[].shield": { description: "An [origin shield](../how-to/origin-shield.md): Moat edges that serve this same distribution and fetch from its origins. Misses (and every request the cache does not answer) go to the shield instead of the origins, over mTLS with the certificate the edge would present to the origin.", example: "{ url: \"https://shield.internal:8443\" }" },
  "distributions[].shield.url": { description: "The shield's `https://host:port`, without a path.", example: "https://shield.internal:8443" },
  "distributions[].shield.serverName": { description: "The SNI sent to the shield, and the name its certificate must carry: a name of this distribution, so the shield picks its TLS context. The Host sent is the viewer's.", default: "the distribution's first alias", example: "shop.example.test" },
  "distributions[].shield.trustedCa": { description: "The CA bundle that verifies the shield's certificate.", default: "Moat's CA bundle", example: "./shield-ca.pem" },
};
}

export const CONFIG_FIELD_DOCS: Readonly<Record<string, FieldDoc>> = {
  dataDir: { description: "Where Moat keeps its CA, certificates, cache and invalidations. Relative to the config file.", default: `$${DEFAULTS.dataDirEnv}, else ./${DEFAULTS.dataDir}`, example: "/var/lib/moat" },
  pki: { description: "Moat's private CA and the certificates it issues." },
  "pki.trustDomain": { description: "The trust domain of the SPIFFE-style URIs in origin client certificates: `spiffe://<trustDomain>/distribution/<id>/origin/<id>`.", default: DEFAULTS.trustDomain, example: "moat.internal" },
  "pki.keyAlgorithm": { description: "The key algorithm of the certificates Moat issues.", default: DEFAULTS.keyAlgorithm, example: "ecdsa-p384" },
  "pki.clientCertValidity": { description: "The life of an origin client certificate: short, with a fresh key at each renewal.", default: d(DEFAULTS.clientCertValidityMs), example: "24h" },
  "pki.serverCertValidity": { description: "The life of a viewer-facing certificate Moat issues (at most 398 days).", default: d(DEFAULTS.serverCertValidityMs), example: "30d" },
  "pki.renewAtFraction": { description: "Renew at this fraction of a certificate's life, less up to 10% jitter per certificate; the CA too (0.5 to 0.95).", default: "0.67 (2/3)", example: "0.67" },
  "pki.masterKeyFile": { description: "The file holding the master key that encrypts private keys at rest; outside dataDir, mode 0600. `MOAT_MASTER_KEY` and `MOAT_MASTER_KEY_FILE` come first.", example: "/etc/moat/master.key" },
  "pki.ca": { description: "Rotation of the CA itself: the intermediate's renewal and the root's rollover." },
  "pki.ca.autoRotate": { description: "The edge renews the intermediate and rolls the root over when due.", default: "true", example: "false" },
  "pki.ca.intermediateValidity": { description: "A new intermediate's life, never past its root.", default: d(DEFAULTS.intermediateValidityMs), example: "1826d" },
  "pki.ca.rootValidity": { description: "A new root's life, at rollover.", default: d(DEFAULTS.rootValidityMs), example: "3652d" },
  "pki.ca.rolloverOverlap": { description: "How long both roots are trusted before the new one issues, and again after.", default: d(DEFAULTS.rolloverOverlapMs), example: "30d" },
  listen: { description: "The viewer ports." },
  "listen.host": { description: "The address to listen on.", default: DEFAULTS.host, example: "127.0.0.1" },
  "listen.https": { description: "The viewer port (TLS, HTTP/2 and HTTP/1.1). 0 asks the OS for a free port.", default: String(DEFAULTS.httpsPort), example: "443" },
  "listen.http": { description: "The plain-HTTP port: redirects to HTTPS, serves the CA bundle and CRLs. `off` disables it; 0 asks for a free port.", default: String(DEFAULTS.httpPort), example: "off" },
  "listen.tls": { description: "The viewer port's TLS, one list for the whole port (OpenSSL keeps the listener's ciphers when SNI picks a certificate). Read at start." },
  "listen.tls.ciphers": { description: "TLS 1.2 ciphers (ECDHE with AES-GCM or ChaCha20-Poly1305 only; a list may reorder or shorten them) and, with `TLS_*` names, the TLS 1.3 suites.", default: TLS12_CIPHERS.join(", "), example: "[ECDHE-ECDSA-AES128-GCM-SHA256, TLS_AES_128_GCM_SHA256]" },
  "listen.tls.ecdhCurves": { description: "Key-exchange groups, in order of preference.", default: `${PREFERRED_GROUPS.join(", ")} (those this OpenSSL has)`, example: "[X25519, P-256]" },
  log: { description: "The log level and the access log." },
  "log.level": { description: "The log level; `moat start --log-level` wins over it. Read at start.", default: "info", example: "warn" },
  ...accessLogDocs("log.accessLog", "One `request` line per request at level info: `on`, `off` or `{ sample }`. Read at every reload.", "on"),
  "log.accessLog.file": {
    description: "Write the request lines to this file (relative to the config file; its directory is made) instead of stdout; the edge's own event lines stay on stdout. Mode 0640. pino-roll numbers the files (`access.1.log`, `access.2.log`…); with workers, each writes its own (`access-w1.1.log`, `access-w2.1.log`…). Read at start.",
    example: "/var/log/moat/access.log",
  },
  "log.accessLog.rotate": { description: "When the file rolls over to the next number: at a size, at a period, whichever comes first. Needs `file`." },
  "log.accessLog.rotate.size": { description: "Roll over once the file reaches this size.", default: "100MiB", example: "1GiB" },
  "log.accessLog.rotate.frequency": { description: "Roll over at the start of each day or hour (local time), whatever the size.", default: "daily", example: "hourly" },
  "log.accessLog.rotate.keep": { description: "Rolled files kept besides the current one (of this process's name, earlier runs included); older ones are deleted.", default: "7", example: "30" },
  metrics: { description: "The Prometheus endpoint ([Metrics](metrics.md)): off unless `listen` is set or `moat start --metrics HOST:PORT` asks for it (the flag wins). Read at start." },
  "metrics.listen": { description: "Where `GET /metrics` is served, as plain HTTP with no authentication: keep it on loopback (the edge warns at start when it is not) and let Prometheus scrape through the host. A bare port listens on 127.0.0.1; 0 takes a free port (logged in \"metrics listening\").", example: "127.0.0.1:9464" },
  connections: { description: "Deadlines and caps for viewer connections on the HTTPS port (and, counted apart, the plain-HTTP port). Read at start." },
  "connections.timeouts": { description: "Deadlines for a connection that does not speak; they run one after another." },
  "connections.timeouts.handshake": { description: "The TLS handshake, from the accept.", default: d(vc.handshakeMs), example: "5s" },
  "connections.timeouts.firstByte": { description: "After the handshake, until the first byte of a request.", default: d(vc.firstByteMs), example: "10s" },
  "connections.timeouts.requestHead": { description: "Then this much more to complete the request head (HTTP/1.1: answered 408).", default: d(vc.requestHeadMs), example: "20s" },
  "connections.timeouts.idle": { description: "Keep-alive: HTTP/1.1 between requests, HTTP/2 with no open stream.", default: d(vc.idleMs), example: "60s" },
  "connections.timeouts.stalled": { description: "While a request is open: an HTTP/1.1 connection silent both ways is closed after this (or after `idle`, if longer); an HTTP/2 stream whose response bytes wait unsent (a viewer that never opens its flow-control window, however many PINGs it sends) is reset within twice this.", default: d(vc.stalledMs), example: "2m" },
  "connections.max": { description: "Caps on open connections; one more is closed as it is accepted, before any TLS work." },
  "connections.max.total": { description: "Open connections on the port (keep `ulimit -n` above it).", default: String(vc.maxConnections), example: "20000" },
  "connections.max.perAddress": { description: "Open connections from one client address.", default: String(vc.maxConnectionsPerAddress), example: "1024" },
  cache: { description: "Cache storage: tiers, object size, collapsed forwarding, compression. Read at start." },
  "cache.memory": { description: "The memory tier (one per worker), bounded in bytes, least recently used evicted first." },
  "cache.memory.maxSize": { description: "Bytes the memory tier holds.", default: size(CACHE_DEFAULTS.memoryMaxBytes), example: "256MiB" },
  "cache.memory.maxObjectSize": { description: "The largest response held in memory.", default: size(CACHE_DEFAULTS.memoryMaxObjectBytes), example: "8MiB" },
  "cache.disk": { description: "The disk tier, or `off`.", default: "{ dir: <dataDir>/cache }", example: "off" },
  "cache.disk.dir": { description: "The disk tier's directory, relative to the config file.", default: "<dataDir>/cache", example: "./cache" },
  "cache.disk.maxSize": { description: "Bytes the disk tier holds (shared by all workers).", default: size(CACHE_DEFAULTS.diskMaxBytes), example: "10GiB" },
  "cache.maxObjectSize": { description: "Larger responses are streamed to the viewer without being stored.", default: size(CACHE_DEFAULTS.maxObjectBytes), example: "1GiB" },
  "cache.collapseTimeout": { description: "How long a request waits for the headers of an identical one in flight.", default: d(CACHE_DEFAULTS.collapseTimeoutMs), example: "5s" },
  "cache.compression": { description: "What the edge compresses for a behavior with `compress: true`." },
  "cache.compression.encodings": { description: "Encodings offered, in order of preference.", default: CACHE_DEFAULTS.encodings.join(", "), example: "[gzip]" },
  "cache.compression.types": { description: "Compressible media types (`text/*` matches a whole type).", default: CACHE_DEFAULTS.compressibleTypes.join(", "), example: "[text/*, application/json]" },
  "cache.compression.minSize": { description: "Smaller responses are not compressed.", default: size(CACHE_DEFAULTS.compressMinBytes), example: "1000B" },
  trustStores: { description: "Named CA bundles (with CRLs) that verify viewers' client certificates; distributions name them in `viewerMtls.trustStore`.", example: "{ partners: { caBundle: ./partners-ca.pem } }" },
  "trustStores.<name>.caBundle": { description: "PEM: the CAs that issue viewer certificates (roots and intermediates).", example: "./partners-ca.pem" },
  "trustStores.<name>.crl": { description: "CRLs of the bundle's CAs, one file or a list, PEM or DER. With CRLs, every CA of the bundle needs its current CRL.", example: "./partners.crl" },
  "trustStores.<name>.allowNoEku": { description: "Accept viewer certificates without an EKU extension.", default: "false", example: "true" },
  workers: { description: "`auto` (one process per core) or a count: processes serving the viewer ports of `moat start`. Read at start.", default: DEFAULTS.workers, example: "4" },
  distributions: { description: "The sites this edge serves (at least one)." },
  "distributions[].id": { description: "The distribution's id: it goes into the origin client certificates' URIs.", example: "shop" },
  "distributions[].aliases": { description: "Host names, matched by SNI and by Host; `*.` wildcards allowed; at most 100 (each is a name in the viewer certificate).", example: "[shop.example.test, \"*.cdn.example.test\"]" },
  ...certificateSourceDocs("distributions[].viewerCertificate", "The certificate viewers see"),
  "distributions[].tls": { description: "The distribution's TLS policy." },
  "distributions[].tls.minVersion": { description: "The oldest TLS version accepted; an older connection is closed after the handshake (`tls-version-too-old`).", default: DEFAULTS.minTlsVersion, example: "TLSv1.3" },
  "distributions[].viewerMtls": { description: "Viewer client certificates: see [Viewer mTLS](viewer-mtls.md).", default: "{ mode: off }" },
  "distributions[].viewerMtls.mode": { description: "`off`: no certificate requested; `optional`: verified when sent; `required`: a verified certificate or no connection; `passthrough`: requested, not verified, the origin decides.", example: "optional" },
  "distributions[].viewerMtls.trustStore": { description: "The trust store (a key of `trustStores`); required with `optional` and `required`, refused with `off` and `passthrough`.", example: "partners" },
  "distributions[].viewerMtls.edgesOnly": { description: "The shield side of an [origin shield](../how-to/origin-shield.md): only edges of this fleet for this distribution, whose verified certificate carries `spiffe://<pki.trustDomain>/distribution/<this id>/origin/<id>`; any other certificate gets 403 `edge-identity-not-accepted`. Takes mode `required`, with a trust store holding Moat's CA bundle. The certificate headers such an edge sends about its own viewer go on to the origin as it made them (`forward` does not apply).", default: "false", example: "true" },
  "distributions[].viewerMtls.forward": { description: "Which certificate headers the origin gets (see [HTTP headers](headers.md))." },
  "distributions[].viewerMtls.forward.moat": { description: "`Moat-Viewer-Cert-*` headers.", default: "true", example: "false" },
  "distributions[].viewerMtls.forward.rfc9440": { description: "RFC 9440 `Client-Cert` and `Client-Cert-Chain`.", default: "true", example: "false" },
  "distributions[].viewerMtls.forward.xfcc": { description: "Envoy's `X-Forwarded-Client-Cert`.", default: "false", example: "true" },
  "distributions[].underscoreHeaders": { description: "Viewer headers whose name holds `_`: dropped (as nginx's `underscores_in_headers off`) or forwarded. A name Moat sets is never forwarded.", default: DEFAULTS.underscoreHeaders, example: "forward" },
  ...accessLogDocs("distributions[].accessLog", "This distribution's access log; wins over `log.accessLog`.", "log.accessLog"),
  "distributions[].origins": { description: "Where requests go (at least one, at most 100)." },
  "distributions[].origins[].id": { description: "The origin's id: it goes into its client certificate's URI.", example: "api" },
  "distributions[].origins[].url": { description: "`https://` only, with an optional base path.", example: "https://api.internal:9443/base" },
  "distributions[].origins[].mtls": { description: "The mutual TLS between the edge and this origin." },
  ...certificateSourceDocs("distributions[].origins[].mtls.clientCertificate", "The client certificate the edge presents to this origin, or `none`"),
  "distributions[].origins[].mtls.trustedCa": { description: "The CA bundle that verifies the origin's own certificate.", default: "Moat's CA bundle", example: "./origin-ca.pem" },
  "distributions[].origins[].mtls.serverName": { description: "The name the origin's certificate must carry (and the SNI sent).", default: "the URL's host", example: "api.internal" },
  "distributions[].origins[].timeouts": { description: "Deadlines towards this origin (a timeout is a 504)." },
  "distributions[].origins[].timeouts.connect": { description: "TCP and TLS handshake.", default: d(DEFAULTS.connectTimeoutMs), example: "5s" },
  "distributions[].origins[].timeouts.response": { description: "Until the response headers.", default: d(DEFAULTS.responseTimeoutMs), example: "30s" },
  "distributions[].originGroups": { description: "Primary and secondary origins: GET, HEAD and OPTIONS fail over on a connection or TLS failure, a timeout, or a `failoverOn` status." },
  "distributions[].originGroups[].id": { description: "The group's id, named by a behavior's `target`.", example: "api-ha" },
  "distributions[].originGroups[].members": { description: "Exactly two origin ids: primary, then secondary.", example: "[api, api-dr]" },
  "distributions[].originGroups[].failoverOn": { description: "Statuses from the primary that send the request to the secondary.", default: DEFAULTS.failoverOn.join(", "), example: "[502, 503]" },
  "distributions[].behaviors": { description: "Path patterns (CloudFront-style `*` and `?`); the most specific match wins, `\"*\"` is the default. A distribution with one origin needs none; at most 200.", default: "every path to the only origin" },
  "distributions[].behaviors[].path": { description: "`*`, or a pattern starting with `/`; at most 2048 characters, no control characters.", example: "/static/*" },
  "distributions[].behaviors[].target": { description: "An origin or origin group id.", example: "api" },
  "distributions[].behaviors[].allowedMethods": { description: "Methods served on this path (GET and HEAD always); others get 405.", default: "all seven", example: "[GET, HEAD]" },
  "distributions[].behaviors[].cache": { description: "`off`, or a cache policy. See [the cache](../explanation/cache.md).", default: "RFC 9111 as the origin's headers say, the whole URL as key", example: "off" },
  "distributions[].behaviors[].cache.minTtl": { description: "The origin's lifetime is clamped to minTtl..maxTtl.", default: "0s", example: "0s" },
  "distributions[].behaviors[].cache.defaultTtl": { description: "The lifetime when the origin states none (replaces the Last-Modified heuristic).", example: "1d" },
  "distributions[].behaviors[].cache.maxTtl": { description: "The longest lifetime.", default: d(CACHE_DEFAULTS.maxTtlMs), example: "365d" },
  "distributions[].behaviors[].cache.honorOriginTtl": { description: "`false`: defaultTtl whatever the origin says.", default: "true", example: "false" },
  "distributions[].behaviors[].cache.key": { description: "What goes into the cache key besides the path." },
  "distributions[].behaviors[].cache.key.query": { description: "Query parameters in the key: `none`, `all` or a list (sorted before keying).", default: "all", example: "[v]" },
  "distributions[].behaviors[].cache.key.headers": { description: "Request headers in the key (not those carrying the whole viewer certificate).", default: "[]", example: "[x-tenant, moat-viewer-cert-sha256]" },
  "distributions[].behaviors[].cache.key.cookies": { description: "Cookies in the key.", default: "[]", example: "[lang]" },
  "distributions[].behaviors[].cache.compress": { description: "Compress compressible responses for viewers that accept it.", default: "true", example: "false" },
  "distributions[].behaviors[].viewerMtls": { description: "`required`: this path needs a verified viewer certificate (on an `optional` distribution).", example: "required" },
  "distributions[].behaviors[].websocket": { description: "Accept WebSocket connections on this path: `true`, or limits.", default: "false", example: "true" },
  "distributions[].behaviors[].websocket.idleTimeout": { description: "Close a tunnel that carried no byte either way for this long (1s to 1h).", default: d(DEFAULTS.websocketIdleTimeoutMs), example: "10m" },
  "distributions[].behaviors[].websocket.maxLifetime": { description: "Close any tunnel open this long, so the viewer is checked again (1s to 24h).", default: d(DEFAULTS.websocketMaxLifetimeMs), example: "2h" },
  "distributions[].shield": { description: "An [origin shield](../how-to/origin-shield.md): Moat edges that serve this same distribution and fetch from its origins. Misses (and every request the cache does not answer) go to the shield instead of the origins, over mTLS with the certificate the edge would present to the origin.", example: "{ url: \"https://shield.internal:8443\" }" },
  "distributions[].shield.url": { description: "The shield's `https://host:port`, without a path.", example: "https://shield.internal:8443" },
  "distributions[].shield.serverName": { description: "The SNI sent to the shield, and the name its certificate must carry: a name of this distribution, so the shield picks its TLS context. The Host sent is the viewer's.", default: "the distribution's first alias", example: "shop.example.test" },
  "distributions[].shield.trustedCa": { description: "The CA bundle that verifies the shield's certificate.", default: "Moat's CA bundle", example: "./shield-ca.pem" },
};
