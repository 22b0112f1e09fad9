// The one catalog of Moat's errors: each class has a stable `code`, an HTTP status where one applies, and a message that says what failed and how to fix it.

export interface MoatErrorOptions {
  /** What the operator should do about it; appended to the message. */
  fix?: string;
  cause?: unknown;
}

export class MoatError extends Error {
  readonly code: string;
  /** HTTP status a viewer sees when this error ends a request. */
  readonly status: number;
  readonly fix: string | undefined;

  constructor(code: string, status: number, message: string, options: MoatErrorOptions = {}) {
    super(options.fix ? `${message} Fix: ${options.fix}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.fix = options.fix;
  }
}

// ---------------------------------------------------------------- config

export interface ConfigIssue {
  /** Where in the file, e.g. `distributions[0].origins[1].url`. */
  path: string;
  message: string;
}

/** The config file (or object) is invalid; every issue names its path. */
export class ConfigInvalidError extends MoatError {
  readonly issues: readonly ConfigIssue[];
  readonly source: string;

  constructor(source: string, issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  ${issue.path || "(root)"}: ${issue.message}`);
    super("config-invalid", 500, `${source} is not a valid Moat config:\n${lines.join("\n")}`);
    this.issues = issues;
    this.source = source;
  }
}

/** The config file could not be read or parsed as YAML/JSON. */
export class ConfigUnreadableError extends MoatError {
  constructor(source: string, detail: string, options: MoatErrorOptions = {}) {
    super("config-unreadable", 500, `cannot read config ${source}: ${detail}`, options);
  }
}

/**
 * The short-lived thread that reads and validates a config file (so that the serving thread never loads the schema)
 * crashed, exited without an answer or missed its deadline: this says nothing of the file itself.
 */
export class ConfigThreadError extends MoatError {
  constructor(source: string, problem: string, options: MoatErrorOptions = {}) {
    super("config-thread-failed", 500, `cannot load config ${source}: the thread that validates it ${problem}`, {
      fix: "try again (a reload: SIGHUP or touch the file); if it persists, run `moat config check FILE`, which validates it in its own process",
      ...options,
    });
  }
}

/** A duration such as "5s" or "24h" could not be parsed (no unit, unknown unit, not a number). */
export class InvalidDurationError extends MoatError {
  readonly text: string;
  /** What is wrong, without the text itself: "a unit is needed (ms, s, m, h or d)". */
  readonly detail: string;

  constructor(text: string, detail: string) {
    super("config-duration-invalid", 500, `${JSON.stringify(text)} is not a duration: ${detail}`, {
      fix: 'write a whole or decimal number followed by a unit: ms, s, m, h or d (e.g. "250ms", "5s", "24h", "30d")',
    });
    this.text = text;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------- pki

/** There is no CA under the data directory (`<dataDir>/ca`). */
export class CaNotFoundError extends MoatError {
  readonly path: string;

  constructor(path: string, options: MoatErrorOptions = {}) {
    super("ca-not-found", 500, `no certificate authority at ${path}.`, {
      fix: "run `moat ca init` to create one, or point the data directory at an existing CA",
      ...options,
    });
    this.path = path;
  }
}

/** `moat ca init` found a CA already there: Moat never overwrites one, since every certificate it issued would stop verifying. */
export class CaAlreadyExistsError extends MoatError {
  readonly path: string;

  constructor(path: string, options: MoatErrorOptions = {}) {
    super("ca-exists", 409, `a certificate authority already exists at ${path}; refusing to overwrite it.`, {
      fix: "use the existing CA (`moat ca bundle` prints its bundle), or move that directory away first if you really mean to start over",
      ...options,
    });
    this.path = path;
  }
}

/** The CA's files are there but unusable: missing, unparsable, or a key that does not match its certificate. Never carries key material. */
export class CaCorruptError extends MoatError {
  readonly path: string;

  constructor(path: string, detail: string, options: MoatErrorOptions = {}) {
    super("ca-corrupt", 500, `the certificate authority at ${path} is unusable: ${detail}.`, {
      fix: "restore the CA directory from a backup; if the CA is lost, move the directory away, run `moat ca init` and redistribute the new bundle",
      ...options,
    });
    this.path = path;
  }
}

/** A CRL distribution point base URL (`--crl-base-url`, publication.json) that certificates must not carry: names what is wrong with it. */
export class CrlBaseUrlInvalidError extends MoatError {
  readonly url: string;

  constructor(url: string, problem: string, options: MoatErrorOptions = {}) {
    super("crl-base-url-invalid", 400, `the CRL base URL ${JSON.stringify(url)} cannot go into certificates: ${problem}.`, {
      fix: "give an absolute http: URL of the edge's plain-HTTP port (or a mirror of <data dir>/ca/crls/), e.g. http://crl.example.com/.well-known/moat/ (no user name, query or fragment)",
      ...options,
    });
    this.url = url;
  }
}

/** The CA's intermediate has expired (or the clock is wrong): anything it signed now would not verify. */
export class CaExpiredError extends MoatError {
  readonly notAfter: Date;

  constructor(notAfter: Date, options: MoatErrorOptions = {}) {
    super("ca-expired", 500, `the CA's intermediate certificate expired at ${notAfter.toISOString()}; refusing to issue.`, {
      fix: "check this host's clock; if it is right, create a new intermediate (or a new CA) and redistribute the bundle",
      ...options,
    });
    this.notAfter = notAfter;
  }
}

/** A private key file is readable by group or others (or its mode could not be set to 0600). */
export class KeyFileInsecureError extends MoatError {
  readonly path: string;

  constructor(path: string, mode: number, options: MoatErrorOptions = {}) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    super("key-file-insecure", 500, `private key file ${path} has mode ${octal}; it must be 0600.`, {
      fix: `run \`chmod 600 ${path}\` and check who else could have read it`,
      ...options,
    });
    this.path = path;
  }
}

const MASTER_KEY_SOURCES =
  "MOAT_MASTER_KEY (base64 of 32 random bytes), MOAT_MASTER_KEY_FILE (a path), or pki.masterKeyFile in the config (a path)";
const MASTER_KEY_CREATE =
  "`moat ca init --master-key-file /etc/moat/master.key` creates one with a new CA, or run `(umask 077; openssl rand -base64 32 > /etc/moat/master.key)` and keep it outside the data directory";

/** No master key was given, and private keys at rest are encrypted under one. */
export class MasterKeyMissingError extends MoatError {
  constructor(options: MoatErrorOptions = {}) {
    super("master-key-missing", 500, `no master key: Moat encrypts its private keys at rest and needs one from ${MASTER_KEY_SOURCES}.`, {
      fix: `point Moat at the master key this data directory was created with; for a new data directory, ${MASTER_KEY_CREATE}`,
      ...options,
    });
  }
}

/** The master key's source exists but cannot be used: wrong length or encoding, unreadable, inside the data directory. Never quotes the key. */
export class MasterKeyInvalidError extends MoatError {
  /** Where the key was to come from, e.g. `MOAT_MASTER_KEY` or `/etc/moat/master.key (pki.masterKeyFile)`. */
  readonly source: string;

  constructor(source: string, detail: string, options: MoatErrorOptions = {}) {
    super("master-key-invalid", 500, `the master key from ${source} is unusable: ${detail}.`, {
      fix: `a master key is base64 of exactly 32 random bytes; ${MASTER_KEY_CREATE}`,
      ...options,
    });
    this.source = source;
  }
}

/** An encrypted private key does not decrypt under the master key given: another key, or a damaged file. Nothing was changed. */
export class MasterKeyWrongError extends MoatError {
  /** The key file that did not decrypt. */
  readonly path: string;
  readonly source: string;

  constructor(path: string, source: string, masterKeyId: string, options: MoatErrorOptions = {}) {
    super(
      "master-key-wrong",
      500,
      `cannot decrypt ${path} with the master key from ${source} (key id ${masterKeyId}): it was encrypted under another master key, or the file is damaged. Nothing was changed.`,
      {
        fix: "give Moat the master key this data directory was created with (its key id is logged at every start); if the key is lost, the CA cannot be recovered: move the data directory away and run `moat ca init`",
        ...options,
      },
    );
    this.path = path;
    this.source = source;
  }
}

/** A file that should hold a private key holds no PEM private key Moat can read. Never quotes the file. */
export class PrivateKeyUnreadableError extends MoatError {
  readonly path: string;

  constructor(path: string, options: MoatErrorOptions = {}) {
    super("key-unreadable", 500, `${path} is not a PEM private key.`, options);
    this.path = path;
  }
}

/** A certificate request names something that cannot go into a certificate (bad DNS name, IP, SPIFFE segment, validity). */
export class CertificateRequestInvalidError extends MoatError {
  constructor(message: string, options: MoatErrorOptions = {}) {
    super("cert-request-invalid", 400, message, options);
  }
}

/** A worker found no usable certificate in the store: only its primary issues, and it has not (yet). */
export class StoredCertificateMissingError extends MoatError {
  constructor(slot: string) {
    super("stored-cert-missing", 500, `no usable certificate is stored for ${slot}; a worker never issues one.`, { fix: "the primary issues it: check the primary's log for a failed renewal" });
  }
}

/** A PEM that should hold a certificate does not parse as one. */
export class CertificateUnreadableError extends MoatError {
  constructor(detail: string, options: MoatErrorOptions = {}) {
    super("cert-unreadable", 500, `cannot read certificate: ${detail}.`, options);
  }
}

/** Why a certificate brought from another CA (PEM chain + key, or PKCS#12) cannot be imported: stable, for the admin API and the CLI. */
export type CertificateImportCode =
  | "import-pem-malformed"
  | "import-key-unreadable"
  | "import-key-unsupported"
  | "import-passphrase-wrong"
  | "import-passphrase-missing"
  | "import-key-mismatch"
  | "import-chain-broken"
  | "import-chain-untrusted"
  | "import-wrong-usage"
  | "import-expired"
  | "import-not-yet-valid"
  | "import-names-not-covered"
  | "import-pkcs12-unreadable";

/** An imported certificate cannot be used; the message names the certificate and the fix, and never carries key material or the passphrase. */
export class CertificateImportError extends MoatError {
  declare readonly code: CertificateImportCode;
  /** For `import-names-not-covered`: the aliases that no SAN covers; empty otherwise. */
  readonly uncoveredNames: readonly string[];

  // No `cause`: a parser's error can carry bytes of the input (a key, a PKCS#12), and this error travels to logs and the admin API.
  constructor(code: CertificateImportCode, message: string, options: { fix: string; uncoveredNames?: readonly string[] }) {
    super(code, 400, message, { fix: options.fix });
    this.uncoveredNames = options.uncoveredNames ?? [];
  }
}

/** A revocation cannot be recorded: the serial is not a serial (hex, positive, at most 20 octets), the reason is not one Moat records, or the serial is the CA's own. */
export class RevocationInvalidError extends MoatError {
  constructor(message: string, options: MoatErrorOptions = {}) {
    super("revocation-invalid", 400, message, options);
  }
}

/** `<dataDir>/ca/revoked.json` does not parse: Moat refuses to read it as empty, since that would un-revoke every certificate in it. */
export class RevocationRegistryCorruptError extends MoatError {
  readonly path: string;

  constructor(path: string, detail: string, options: MoatErrorOptions = {}) {
    super("revocation-registry-corrupt", 500, `the revocation registry ${path} is unusable: ${detail}.`, {
      fix: "restore it from a backup, or repair the JSON by hand (a list of { serialHex, reason, revokedAt }); never delete it: that would un-revoke every certificate it lists",
      ...options,
    });
    this.path = path;
  }
}

/** Another process kept the revocation lock (`<dataDir>/ca/revocation.lock`) for longer than a revocation or a CRL takes. */
export class CaBusyError extends MoatError {
  readonly path: string;

  constructor(path: string, options: MoatErrorOptions = {}) {
    super("ca-busy", 503, `another Moat process is revoking, publishing a CRL or rotating the CA (${path} exists); gave up waiting.`, {
      fix: `try again; if no \`moat\` process is running, remove ${path} (Moat also takes over a lock older than 30 s by itself)`,
      ...options,
    });
    this.path = path;
  }
}

/** A CA rotation step that cannot run in the CA's current state (a rollover already in progress, nothing to activate…). */
export class CaRotationRefusedError extends MoatError {
  readonly path: string;

  constructor(path: string, detail: string, fix: string, options: MoatErrorOptions = {}) {
    super("ca-rotation-refused", 409, `cannot rotate the certificate authority at ${path}: ${detail}.`, { fix, ...options });
    this.path = path;
  }
}

/** An edge of the fleet that does not trust the new root yet: its name, its health, and the roots it reported (SHA-256, colon hex). */
export interface EdgeHoldingBack {
  name: string;
  health: string;
  /** The roots it trusts as it last reported; null when it never reported any (it runs a version that does not, or has not written a heartbeat since). */
  roots: readonly string[] | null;
}

/** A root rollover's activation (the new root issues) while a live edge of the store's fleet does not trust the new root yet. */
export class CaRolloverHeldBackError extends MoatError {
  readonly holdingBack: readonly EdgeHoldingBack[];

  constructor(newRoot: { serialHex: string; fingerprint256: string }, holdingBack: readonly EdgeHoldingBack[]) {
    const named = holdingBack.map((edge) => `${edge.name} (${edge.health}; trusts ${edge.roots === null ? "no roots it has reported" : edge.roots.length === 0 ? "no roots" : `only ${edge.roots.join(", ")}`})`);
    super(
      "ca-rollover-held-back",
      409,
      `cannot activate the new root (serial ${newRoot.serialHex}, SHA-256 ${newRoot.fingerprint256}): ${holdingBack.length} live edge(s) of the fleet do not trust it yet, and would refuse the certificates it issues: ${named.join("; ")}.`,
      {
        fix: "wait for them to pick up the new bundle (an edge reloads bundle.pem as soon as it changes and reports what it trusts at its next heartbeat: `moat edge list` / `moat ca status`); if one stays behind, check why in its log (an old Moat version, a data directory without the new bundle). An edge that stops reporting turns silent and no longer holds the rollover back. Nothing changed",
      },
    );
    this.holdingBack = holdingBack;
  }
}

/** A "rotate now" Moat cannot take: no such certificate, an imported or CA certificate, or one not in use. */
export class CertificateNotRotatableError extends MoatError {
  constructor(serialHex: string, reason: string, fix: string) {
    super("certificate-not-rotatable", 409, `certificate ${serialHex} cannot be rotated now: ${reason}.`, { fix });
  }
}

// ---------------------------------------------------------------- origin
// (origin error classes go here)

/** Why the edge could not get a response from an origin: the value of the `Moat-Error` response header. */
export type OriginFailureCode =
  | "origin-cert-untrusted"
  | "origin-cert-expired"
  | "origin-cert-not-yet-valid"
  | "origin-name-mismatch"
  | "origin-rejected-client-cert"
  | "origin-connect-refused"
  | "origin-connect-timeout"
  | "origin-response-timeout"
  | "origin-dns-failed"
  | "origin-connection-reset"
  | "origin-tls-failed"
  | "origin-bad-response";

/** What the operator learns about an origin: enough to find the right file or setting. */
export interface OriginFailureContext {
  distributionId: string;
  originId: string;
  url: string;
  serverName: string;
  /** Where the CA bundle that verifies the origin comes from (a path, or "Moat's CA bundle (<path>)"). */
  trustedCa: string;
  /** The client certificate the edge presents, e.g. "spiffe://moat.internal/distribution/shop/origin/api (serial 0a1b…)", or null. */
  clientIdentity: string | null;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface OriginFailureText {
  status: 502 | 504;
  /** Said to viewers: the cause without internal names (origin URLs and paths go to the log only). */
  summary: string;
  what: (o: OriginFailureContext, detail: string) => string;
  fix: (o: OriginFailureContext) => string;
}

/** Each origin failure's status, public summary, and the log's message and fix; read by the generated docs/reference too. */
export const originFailureCatalog: Readonly<Record<OriginFailureCode, OriginFailureText>> = {
  "origin-cert-untrusted": {
    status: 502,
    summary: "the origin's certificate does not chain to the CA the edge trusts for it",
    what: (o, d) => `the certificate of origin ${o.originId} (${o.url}) does not chain to the trusted CA ${o.trustedCa} (${d})`,
    fix: (o) => `issue the origin's server certificate from that CA (\`moat ca issue-server --dns ${o.serverName}\`), or point origins[].mtls.trustedCa at the CA that issued it`,
  },
  "origin-cert-expired": {
    status: 502,
    summary: "the origin's certificate has expired",
    what: (o, d) => `the certificate of origin ${o.originId} (${o.url}) has expired (${d})`,
    fix: () => "renew the origin's server certificate, and check the origin host's clock",
  },
  "origin-cert-not-yet-valid": {
    status: 502,
    summary: "the origin's certificate is not valid yet",
    what: (o, d) => `the certificate of origin ${o.originId} (${o.url}) is not valid yet (${d})`,
    fix: () => "check the clocks of the edge and the origin host, or wait until the certificate's notBefore",
  },
  "origin-name-mismatch": {
    status: 502,
    summary: "the origin's certificate does not name the server the edge expects",
    what: (o, d) => `the certificate of origin ${o.originId} (${o.url}) does not name ${o.serverName} (${d})`,
    fix: (o) => `issue the origin a certificate whose SANs include ${o.serverName}, or set origins[].mtls.serverName to a name the certificate covers`,
  },
  "origin-rejected-client-cert": {
    status: 502,
    summary: "the origin refused the edge's client certificate",
    what: (o, d) =>
      o.clientIdentity
        ? `origin ${o.originId} (${o.url}) refused the edge's client certificate ${o.clientIdentity} (${d})`
        : `origin ${o.originId} (${o.url}) requires a client certificate and the edge presented none (${d})`,
    fix: (o) =>
      o.clientIdentity
        ? `make the origin trust Moat's CA bundle (\`moat ca bundle\`) and accept distribution ${o.distributionId}`
        : `set origins[].mtls.clientCertificate to { issuedBy: moat } (or an imported certificate) for origin ${o.originId}`,
  },
  "origin-connect-refused": {
    status: 502,
    summary: "the origin refused the connection",
    what: (o, d) => `origin ${o.originId} (${o.url}) refused the TCP connection (${d})`,
    fix: () => "check that the origin server is running and listening on that host and port",
  },
  "origin-connect-timeout": {
    status: 504,
    summary: "the origin did not accept a connection in time",
    what: (o, d) => `origin ${o.originId} (${o.url}) did not complete the TCP and TLS handshake within ${o.connectTimeoutMs} ms (${d})`,
    fix: () => "check the network path and that the origin speaks TLS on that port, or raise origins[].timeouts.connect",
  },
  "origin-response-timeout": {
    status: 504,
    summary: "the origin did not answer in time",
    what: (o, d) => `origin ${o.originId} (${o.url}) did not send response headers within ${o.responseTimeoutMs} ms (${d})`,
    fix: () => "check the origin application's health, or raise origins[].timeouts.response",
  },
  "origin-dns-failed": {
    status: 502,
    summary: "the origin's host name did not resolve",
    what: (o, d) => `the host name of origin ${o.originId} (${o.url}) did not resolve (${d})`,
    fix: () => "check origins[].url and the edge's DNS resolver",
  },
  "origin-connection-reset": {
    status: 502,
    summary: "the origin closed the connection before answering",
    what: (o, d) => `origin ${o.originId} (${o.url}) closed the connection before answering (${d})`,
    fix: () => "check the origin's logs; if it sits behind a load balancer, check the balancer's idle timeouts",
  },
  "origin-tls-failed": {
    status: 502,
    summary: "the TLS handshake with the origin failed",
    what: (o, d) => `the TLS handshake with origin ${o.originId} (${o.url}) failed (${d})`,
    fix: () => "check that the origin serves TLS 1.2 or 1.3 on that port, and compare its cipher settings with the edge's",
  },
  "origin-bad-response": {
    status: 502,
    summary: "the origin's response was not valid HTTP",
    what: (o, d) => `origin ${o.originId} (${o.url}) sent a response that is not valid HTTP (${d})`,
    fix: () => "check that the URL points at an HTTP server",
  },
};

/** The edge could not get a response from an origin; `code` is what the viewer sees in `Moat-Error`. */
export class OriginFailureError extends MoatError {
  declare readonly code: OriginFailureCode;
  readonly originId: string;
  readonly distributionId: string;
  readonly summary: string;

  constructor(code: OriginFailureCode, context: OriginFailureContext, detail: string, cause?: unknown) {
    const text = originFailureCatalog[code];
    super(code, text.status, `${text.what(context, detail)}.`, { fix: text.fix(context), cause });
    this.originId = context.originId;
    this.distributionId = context.distributionId;
    this.summary = text.summary;
  }
}

// ---------------------------------------------------------------- edge

/** A file the config names (certificate, key, CA bundle) cannot be used; names the config path and the file. */
export class ConfiguredFileError extends MoatError {
  constructor(configPath: string, file: string, problem: string, options: MoatErrorOptions = {}) {
    super("configured-file-unusable", 500, `${configPath}: ${file}: ${problem}`, options);
  }
}

/**
 * A certificate the config imports fails an import check: the config path, the check's code
 * (kept as this error's code, e.g. `import-key-mismatch`), what failed, the files, and the fix.
 */
export class ImportedCertificateRefusedError extends MoatError {
  declare readonly code: CertificateImportCode;
  readonly configPath: string;
  readonly files: readonly string[];

  constructor(configPath: string, files: readonly string[], refusal: CertificateImportError) {
    const fixSuffix = ` Fix: ${refusal.fix ?? ""}`;
    const what = refusal.message.endsWith(fixSuffix) ? refusal.message.slice(0, -fixSuffix.length) : refusal.message;
    // No cause: the refusal's text is all there is to say, and it is already here.
    super(refusal.code, 500, `${configPath}: ${refusal.code}: ${what} Files: ${files.join(", ")}.`, { fix: refusal.fix });
    this.configPath = configPath;
    this.files = files;
  }
}

/** The edge could not bind a port it was configured to listen on. */
export class ListenError extends MoatError {
  constructor(what: string, host: string, port: number, cause: unknown) {
    const code = (cause as { code?: string })?.code;
    const fix =
      code === "EADDRINUSE"
        ? `stop the process using port ${port} (\`ss -ltnp 'sport = :${port}'\`) or change listen in the config`
        : code === "EACCES"
          ? `ports below 1024 need privileges: use a higher port, or grant CAP_NET_BIND_SERVICE`
          : "check listen.host and the port in the config";
    super("listen-failed", 500, `cannot listen for ${what} on ${host}:${port} (${code ?? String(cause)}).`, { fix, cause });
  }
}

/** The access log's file (log.accessLog.file) could not be opened: its directory cannot be made, or the file cannot be written. */
export class AccessLogFileError extends MoatError {
  constructor(path: string, detail: string, cause: unknown) {
    super("access-log-file-failed", 500, `cannot open the access log file ${path}: ${detail}.`, {
      fix: "make its directory writable by the user Moat runs as, point log.accessLog.file elsewhere, or remove file to log to stdout",
      cause,
    });
  }
}

/** The collector's files (tracing.otlp.trustedCa, clientCertificate) cannot be read or used: tracing is not started (or not changed, on a reload). */
export class TracingSetupError extends MoatError {
  constructor(detail: string, options: MoatErrorOptions = {}) {
    super("tracing-setup-failed", 500, `cannot set up trace export: ${detail}.`, {
      fix: "check the files tracing.otlp names: readable by the user Moat runs as, PEM, the key matching the certificate",
      ...options,
    });
  }
}

/** A batch of spans did not reach the collector (down, too slow, refused the edge, or its certificate is not trusted): the spans are dropped, viewers never wait for it. */
export class TraceExportError extends MoatError {
  constructor(endpoint: string, spans: number, detail: string, options: MoatErrorOptions = {}) {
    super("trace-export-failed", 502, `${spans} spans were not exported to ${endpoint}: ${detail}.`, {
      fix: "check that the collector is up at tracing.otlp.endpoint, that tracing.otlp.trustedCa holds the CA of its certificate, and that it accepts the edge's client certificate (tracing.otlp.clientCertificate)",
      ...options,
    });
  }
}

/** An HTTP/2 viewer session reset far more streams than it let finish (CVE-2023-44487): closed with GOAWAY ENHANCE_YOUR_CALM. */
export class ViewerSessionFloodError extends MoatError {
  constructor(resets: number, finished: number) {
    super("viewer-session-flood", 400, `the viewer reset ${resets} HTTP/2 streams and let ${finished} finish.`, {
      fix: "a client that cancels requests must also let others finish; one that opens streams only to reset them is an attack (rapid reset)",
    });
  }
}

// ---------------------------------------------------------------- viewer mTLS

/**
 * A trust store (trustStores.<name>) cannot be loaded: unreadable file, malformed PEM, a certificate
 * that is not a CA or not valid now, a CRL that is expired or signed by none of its CAs. Names the
 * config path, the file and the entry; the edge keeps the store it had.
 */
export class TrustStoreInvalidError extends MoatError {
  readonly configPath: string;
  readonly file: string;

  constructor(configPath: string, file: string, problem: string, options: MoatErrorOptions = {}) {
    super("trust-store-invalid", 500, `${configPath}: ${file}: ${problem}.`, options);
    this.configPath = configPath;
    this.file = file;
  }
}

/** The viewer mTLS hook cannot run on this Node.js: the TLS socket internals it relies on are missing. */
export class ViewerMtlsUnsupportedError extends MoatError {
  constructor(detail: string) {
    super("viewer-mtls-unsupported", 500, `viewer mTLS cannot choose the client-certificate request per distribution: ${detail}.`, {
      fix: "run Moat on the Node.js version it pins (package.json devDependencies.node), with `npx node` or the npm scripts",
    });
  }
}

// ---------------------------------------------------------------- cli

/** A worker of `moat start` could not start (a port in use, an unreadable key…): the primary stops the others and exits with this. */
export class WorkerStartError extends MoatError {
  constructor(worker: number, attempts: number, cause: { code?: string; message: string }) {
    super("worker-start-failed", 500, `worker ${worker} could not start (${attempts} attempt${attempts === 1 ? "" : "s"}): ${cause.message}`, {
      fix: "fix what the worker's error names; `workers: 1` in the config runs the edge in one process",
    });
    this.workerErrorCode = cause.code;
  }
  /** The worker's own error code (for example listen-failed). */
  readonly workerErrorCode: string | undefined;
}

/** A user error on the command line (bad flag, missing file): printed without a stack, exit code 2. */
export class CliUsageError extends MoatError {
  constructor(message: string, options: MoatErrorOptions = {}) {
    super("cli-usage", 400, message, options);
  }
}

// ---------------------------------------------------------------- guard (origin side) and enrolment

/** The guard's trust bundle or CRL is unusable: not PEM, no certificate, a leaf where a CA belongs, a CRL that does not parse. */
export class GuardTrustInvalidError extends MoatError {
  readonly where: string;

  constructor(where: string, problem: string, options: MoatErrorOptions = {}) {
    super("guard-trust-invalid", 500, `${where}: ${problem}.`, {
      fix: "give the guard Moat's CA bundle (`moat ca bundle`) and CRL bundle (`moat ca crl`) as written, PEM",
      ...options,
    });
    this.where = where;
  }
}

/** Every reason the enrolment endpoint refuses a request; the code is in the JSON answer. */
export type EnrolmentRefusalCode =
  | "enrol-token-invalid"
  | "enrol-token-expired"
  | "enrol-token-used"
  | "enrol-csr-invalid"
  | "enrol-names-not-allowed"
  | "enrol-request-invalid"
  | "enrol-renewal-refused";

/** Enrolment failed: a bad, expired or spent token, a CSR that does not verify, or names the token does not allow. */
export class EnrolmentError extends MoatError {
  declare readonly code: EnrolmentRefusalCode;

  constructor(code: EnrolmentRefusalCode, status: number, message: string, options: MoatErrorOptions = {}) {
    super(code, status, message, options);
  }
}

// ---------------------------------------------------------------- cache

/** `moat cache invalidate` waited, and a running worker had not applied the invalidation: it may still serve the old responses. */
export class InvalidationNotAppliedError extends MoatError {
  constructor(details: { seq: number; waited: string; lagging: readonly { worker: number; pid: number; applied: number }[]; dataDir: string }) {
    const names = details.lagging.map((worker) => `worker ${worker.worker} (pid ${worker.pid}) has applied up to #${worker.applied}`).join("; ");
    super("cache-invalidation-not-applied", 500, `invalidation #${details.seq} is recorded in ${details.dataDir}, but within ${details.waited} not every worker applied it: ${names}.`, {
      fix: "the invalidation stays recorded: that worker applies it as soon as it reads the file, and a new worker at its start. If its log shows it stuck, kill that pid: the primary starts a new worker",
    });
    this.lagging = details.lagging;
  }
  readonly lagging: readonly { worker: number; pid: number; applied: number }[];
}

/** An invalidation names a distribution that is not there, or a path Moat cannot match; nothing was recorded. */
export class InvalidationRequestInvalidError extends MoatError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super("cache-invalidation-invalid", 400, `the invalidation was not recorded: ${issues.map((issue) => issue.message).join("; ")}.`, {
      fix: "name a distribution the edge serves and paths that start with / (* only at the end); nothing was recorded, send it again",
    });
    this.issues = issues;
  }
}

/** `moat cache invalidate --store` waited, and an edge that had applied invalidations before has not applied this one. */
export class InvalidationNotAppliedByEdgesError extends MoatError {
  readonly pending: readonly string[];

  constructor(details: { id: number; waited: string; pending: readonly string[]; store: string }) {
    super("cache-invalidation-not-applied-by-edges", 500, `invalidation #${details.id} is recorded in the store ${details.store}, but within ${details.waited} these edges did not apply it: ${details.pending.join(", ")}.`, {
      fix: "it stays recorded: each edge applies it at its next poll of the store, or when it starts. Only live edges are waited for (a heartbeat within 3 of their intervals): one that stops is no longer waited for once it is silent; one that runs and stays pending is named in its own log (\"store unreachable\")",
    });
    this.pending = details.pending;
  }
}

/** The invalidation request file stayed locked by another process past the deadline (`<dataDir>/invalidations/requests.lock`). */
export class InvalidationLockTimeoutError extends MoatError {
  constructor(lockFile: string, heldBy: string, waitedMs: number) {
    super("cache-invalidation-lock-timeout", 500, `${lockFile} stayed locked by ${heldBy} for ${waitedMs} ms.`, {
      fix: "retry; if no moat process is running on this data directory, delete the lock file (a crashed process left it)",
    });
  }
}

// ---------------------------------------------------------------- fleet join

/** Why a join token was refused: each has its own code, so a script can tell a typo from a token already spent. */
export type JoinTokenRefusal = "join-token-malformed" | "join-token-unknown" | "join-token-used" | "join-token-expired" | "join-token-revoked" | "join-token-other-name";

const JOIN_TOKEN_MESSAGES: Record<JoinTokenRefusal, string> = {
  "join-token-malformed": "the join token is not one Moat made: it must read moat_join_<16 hex>_<43 characters>",
  "join-token-unknown": "the store knows no such join token (a different store, or a token mistyped)",
  "join-token-used": "the join token was used already: a join token works once",
  "join-token-expired": "the join token has expired",
  "join-token-revoked": "the join token was revoked by an admin",
  "join-token-other-name": "the join token was made for another edge name than --name",
};

/** `moat edge join` was refused its token: nothing was recorded, and the data directory is as it was. */
export class JoinTokenRefusedError extends MoatError {
  declare readonly code: JoinTokenRefusal;
  readonly tokenId: string | undefined;

  constructor(code: JoinTokenRefusal, details: { tokenId?: string; at?: string; name?: string; fix: string }) {
    const when = details.at ? `, ${code === "join-token-used" ? "used" : code === "join-token-revoked" ? "revoked" : "expired"} at ${details.at}` : "";
    const which = details.tokenId ? ` (token ${details.tokenId}${when}${details.name ? `, made for ${details.name}` : ""})` : "";
    super(code, 403, `join refused: ${JOIN_TOKEN_MESSAGES[code]}${which}.`, { fix: details.fix });
    this.tokenId = details.tokenId;
  }
}

/** `moat edge token revoke` on a token an edge has used: the join happened, and revoking the token would undo nothing. */
export class JoinTokenNotRevocableError extends MoatError {
  constructor(id: string, name: string, usedAt: string) {
    super("join-token-used-already", 409, `join token ${id} was used at ${usedAt}: edge ${name} joined with it, and a used token joins nobody again, so revoking it would change nothing.`, {
      fix: "nothing to do for the token; to keep that edge out, stop it on its host (its certificates are the CA's to revoke: `moat ca revoke SERIAL`)",
    });
  }
}

/** A joined edge asked the CA node for a certificate and was refused: the reason is the CA node's. */
export class CertificateRequestRefusedError extends MoatError {
  constructor(edge: string, what: string, reason: string) {
    super("cert-request-refused", 403, `the CA node refused edge ${edge}'s request for ${what}: ${reason}.`, {
      fix: "the CA node signs exactly what the current config gives this edge (its distributions' aliases, its origins' identities): apply the config that names it, or check the edge's name",
    });
  }
}

/** A joined edge's certificate request was not answered within its deadline: no CA node is running, or it cannot reach the store. */
export class CertificateRequestUnansweredError extends MoatError {
  constructor(edge: string, what: string, waitedMs: number) {
    super("cert-request-unanswered", 503, `edge ${edge}'s request for ${what} was not answered within ${Math.round(waitedMs / 1000)} s.`, {
      fix: "start the CA node (`moat start --store ADDRESS --ca` where the master key and the CA are), or check that it reaches the store; the edge asks again at its next build",
    });
  }
}

/** A joined edge holds no CA key: it cannot sign anything itself (a CRL, an admin certificate, a certificate for someone else's key). */
export class JoinedEdgeCannotSignError extends MoatError {
  constructor(what: string) {
    super("joined-edge-cannot-sign", 500, `a joined edge cannot sign ${what}: it holds no CA key.`, {
      fix: "do this on the CA node (`moat start --store ADDRESS --ca`), or over the admin API the CA node runs",
    });
  }
}

/** `moat edge join` or a joined edge's start found its data directory unfit: another edge's, or holding a CA's keys. */
export class JoinDataDirError extends MoatError {
  constructor(dataDir: string, problem: string, fix: string) {
    super("join-data-dir", 400, `the data directory ${dataDir} ${problem}.`, { fix });
  }
}

// ---------------------------------------------------------------- store

/** Where a store lives, as messages name it: a file path for SQLite, host/port/database (never a password) for PostgreSQL. */
export type StoreLabel = string;

/** The store could not be opened or reached (a missing directory, a refused connection, a timeout). */
export class StoreUnavailableError extends MoatError {
  constructor(store: StoreLabel, detail: string, options: MoatErrorOptions = {}) {
    super("store-unavailable", 503, `cannot use the store ${store}: ${detail}.`, options);
  }
}

/** The store was migrated by a newer Moat: this code does not know some of its migrations, so it must not write to it. */
export class StoreNewerThanCodeError extends MoatError {
  readonly unknownMigrations: readonly string[];

  constructor(store: StoreLabel, unknownMigrations: readonly string[]) {
    super("store-newer-than-code", 500, `the store ${store} has migrations this Moat does not know (${unknownMigrations.join(", ")}): a newer Moat has upgraded it.`, {
      fix: "run the Moat version that upgraded the store (or a newer one); an older one would misread what it stores",
    });
    this.unknownMigrations = unknownMigrations;
  }
}

/** A write named the version of a resource it read, and the resource has changed since (or is absent, or exists). */
export class StoreVersionConflictError extends MoatError {
  readonly resource: string;
  readonly expected: number | "absent";
  readonly actual: number | "absent";

  constructor(resource: string, expected: number | "absent", actual: number | "absent") {
    const said = (version: number | "absent") => (version === "absent" ? "absent" : `version ${version}`);
    super("store-version-conflict", 412, `${resource} is ${said(actual)}, not ${said(expected)} as the change assumed: someone else changed it first.`, {
      fix: "read it again, re-apply your change to what is there now, and send it with the new version",
    });
    this.resource = resource;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A whole-document write named the store revision it was planned against (the diff `moat apply` printed, the
 * ETag of GET /config), and the store has moved since: writing it would overwrite a change nobody saw.
 */
export class StoreRevisionConflictError extends MoatError {
  readonly expected: number;
  readonly actual: number;

  constructor(expected: number, actual: number, options: { fix?: string } = {}) {
    super("store-revision-conflict", 412, `the store is at revision ${actual}, not ${expected} as the change assumed: someone else changed it first, and nothing was written.`, {
      fix: options.fix ?? "read the store again (GET /config, `moat diff`), make your change to what is there now, and send it with the new revision",
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** A resource a change names is not in the store. */
export class StoreNotFoundError extends MoatError {
  readonly resource: string;

  constructor(resource: string) {
    super("store-not-found", 404, `${resource} is not in the store.`, { fix: "list what the store holds and use one of those names" });
    this.resource = resource;
  }
}

/** `moat start --store` found a store nothing was applied to yet: there is no config to serve. */
export class StoreEmptyError extends MoatError {
  constructor(store: StoreLabel) {
    super("store-empty", 503, `the store ${store} holds no config yet (revision 0): there is nothing to serve.`, {
      fix: `apply one first: \`moat apply -f moat.yaml --store ${store}\``,
    });
  }
}

/** An edge run from a store could not reach it at start, and has no usable local copy of the last revision it served to start from instead. */
export class StoreUnreachableAtStartError extends MoatError {
  constructor(store: StoreLabel, unreachable: string, localCopy: { file: string; problem: string }) {
    super("store-unreachable-no-local-copy", 503, `cannot start: the store ${store} is unreachable (${unreachable}), and the local copy ${localCopy.file} cannot stand in for it: ${localCopy.problem}.`, {
      fix: "bring the store up (or fix its address); an edge that has served from a store keeps a copy of the last revision it served in its data directory, and starts from it while the store is down",
    });
  }
}

/** `moat audit verify` found the audit trail's hash chain broken: the first record that is wrong, and how. */
export class AuditChainBrokenError extends MoatError {
  readonly seq: number;
  readonly kind: string;

  constructor(store: StoreLabel, problem: { seq: number; kind: string; message: string }, verified: number) {
    super("audit-chain-broken", 500, `the audit trail of ${store} is not intact: ${problem.message} (records verified before it: ${verified}).`, {
      fix: "treat the store as tampered with: compare with the last export or anchored head (docs/explanation/audit-trail.md) to see what changed, and restore the store from a backup you trust",
    });
    this.seq = problem.seq;
    this.kind = problem.kind;
  }
}

/** A signer would not sign a checkpoint of the audit trail: the chain since the last checkpoint is broken, or checkpoints its data directory signed are gone. */
export class AuditCheckpointRefusedError extends MoatError {
  constructor(store: StoreLabel, reason: string) {
    super("audit-checkpoint-refused", 500, `no checkpoint of the audit trail of ${store} was signed: ${reason}.`, {
      fix: "run `moat audit verify --store ADDRESS --data-dir DIR` to see what changed, and treat the store as tampered with (a checkpoint is never signed over a broken trail); after restoring the store from a backup on purpose, remove DIR/audit/last-checkpoint.json so that signing starts again from the restored trail",
    });
  }
}

/** The key or certificate that signs audit checkpoints cannot be used: it does not decrypt, does not match, or the CA cannot issue one here. */
export class AuditSignerUnavailableError extends MoatError {
  constructor(dataDir: string, reason: string, fix: string) {
    super("audit-signer-unavailable", 500, `the audit checkpoint signer of ${dataDir} cannot sign: ${reason}.`, { fix });
  }
}

/** A checkpoint was due and could not be made in time (a store that does not answer, a refused checkpoint): logged, serving goes on. */
export class AuditCheckpointFailedError extends MoatError {
  constructor(store: StoreLabel, reason: string, options: MoatErrorOptions = {}) {
    super("audit-checkpoint-failed", 500, `a checkpoint of the audit trail of ${store} could not be made: ${reason}.`, {
      fix: options.fix ?? "check that the store answers; the next checkpoint is tried at the next interval, and `moat audit checkpoint` makes one now",
      cause: options.cause,
    });
  }
}

// ---------------------------------------------------------------- admin API

/** One thing wrong with a request: where (a path as `moat config check` writes it) and what. */
export interface ApiRequestIssue {
  /** `origins[0].url` in the body, `limit` in the query, a header's name; "" for the whole body. */
  path: string;
  message: string;
  /** RFC 6901 JSON Pointer into the request body (`/origins/0/url`), for body issues only. */
  pointer?: string;
}

/** A request the API cannot take as sent: invalid JSON, a wrong type, an unknown field, a bad query or header. Nothing was changed. */
export class ApiRequestInvalidError extends MoatError {
  readonly issues: readonly ApiRequestIssue[];

  constructor(what: string, issues: readonly ApiRequestIssue[]) {
    const lines = issues.map((issue) => `  ${issue.path || "(body)"}: ${issue.message}`);
    super("api-request-invalid", 400, `${what} is not valid:\n${lines.join("\n")}`, {
      fix: "correct each field named (the API's /openapi.json has every schema) and send it again",
    });
    this.issues = issues;
  }
}

/** A request body over the API's limit; it was not read to its end, and nothing was changed. */
export class ApiBodyTooLargeError extends MoatError {
  constructor(limitBytes: number) {
    super("api-body-too-large", 413, `the request body is larger than the admin API takes (${limitBytes} bytes).`, {
      fix: "a resource is far smaller than this: check what is being sent",
    });
  }
}

/** A body that is not `application/json`. */
export class ApiUnsupportedMediaTypeError extends MoatError {
  constructor(contentType: string) {
    super("api-unsupported-media-type", 415, `the admin API takes application/json bodies, not ${JSON.stringify(contentType)}.`, {
      fix: "send the body as JSON with Content-Type: application/json",
    });
  }
}

/** No credentials, or credentials the API does not accept (a token unknown, expired or revoked; a certificate that does not verify). */
export class ApiUnauthenticatedError extends MoatError {
  constructor(reason: string) {
    super("api-unauthenticated", 401, `the admin API needs credentials: ${reason}.`, {
      fix: "send Authorization: Bearer <token> (`moat token create`) or an admin client certificate from Moat's CA (`moat admin issue`)",
    });
  }
}

/** Credentials the API accepts, for a role that may not do this. */
export class ApiForbiddenError extends MoatError {
  constructor(who: string, reason: string) {
    super("api-forbidden", 403, `${who} may not do this: ${reason}.`, {
      fix: "use a token or certificate with a role that may (admin > operator > viewer), or ask an admin",
    });
  }
}

/** A replace or delete without `If-Match`: the API refuses to overwrite what the client has not seen. */
export class ApiPreconditionRequiredError extends MoatError {
  constructor(resource: string, what: string, options: { canCreate?: boolean } = {}) {
    const create = options.canCreate === false ? "" : " (or If-None-Match: * to create it)";
    super("api-precondition-required", 428, `${what} ${resource} needs If-Match with the ETag it was read with${create}.`, {
      fix: "GET it, keep its ETag, and send that as If-Match",
    });
  }
}

/** A create (POST, or PUT with If-None-Match: *) of a resource that is already there. */
export class ApiResourceExistsError extends MoatError {
  constructor(resource: string) {
    super("api-resource-exists", 409, `${resource} exists already.`, { fix: "replace it with PUT and If-Match, or choose another name" });
  }
}

/** A resource or route the API does not have. */
export class ApiNotFoundError extends MoatError {
  constructor(what: string) {
    super("api-not-found", 404, `${what} is not here.`, { fix: "see /openapi.json for the routes, and list the resources for their names" });
  }
}

/** A route that needs the data directory (certificates, the CA) on an API started without one. */
export class ApiDataDirUnavailableError extends MoatError {
  constructor(what: string) {
    super("api-data-dir-unavailable", 503, `this admin API was started without Moat's data directory, so it cannot serve ${what}.`, {
      fix: "run the API beside the edge with `moat start --store ADDRESS --api HOST:PORT`, which gives it the data directory and the master key",
    });
  }
}

/** A request that took longer than the API's deadline for one request: it was answered 503. */
export class ApiDeadlineExceededError extends MoatError {
  constructor(deadlineMs: number) {
    super("api-deadline-exceeded", 503, `the request took longer than ${deadlineMs} ms; a change may still have been committed.`, {
      fix: "read the resource (or the revisions) to see whether it changed, then retry; check that the store answers",
    });
  }
}

// ---------------------------------------------------------------- admin API clients (the SDK, `moat/sdk`, and the CLI over it)

/**
 * The admin API answered with an RFC 9457 problem: its status, its code (one of this catalog's, `type` is
 * `urn:moat:error:<code>`), its detail and, for a request or config that is not valid, each issue with its path.
 */
export class ApiProblemError extends MoatError {
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly issues: readonly ApiRequestIssue[];
  /** The request refused: `PUT /distributions/site`. */
  readonly request: string;

  constructor(request: string, problem: { type: string; title: string; status: number; detail: string; code: string; errors?: readonly ApiRequestIssue[] }) {
    const issues = problem.errors ?? [];
    super(problem.code, problem.status, `the admin API refused ${request} (${problem.status}, ${problem.code}): ${oneLine(problem.detail, issues)}`);
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.issues = issues;
    this.request = request;
  }
}

/** A problem's detail on one line; the issues (each with its path) in place of the detail's own list of them. */
function oneLine(detail: string, issues: readonly ApiRequestIssue[]): string {
  const lines = detail.split("\n");
  if (issues.length === 0) return lines.map((line) => line.trim()).join(" ");
  const fix = lines.find((line) => line.startsWith("Fix: "));
  const named = issues.map((issue) => `${issue.path || "(body)"}: ${issue.message}`).join("; ");
  return `${(lines[0] ?? "").replace(/:$/, "")}: ${named}${fix ? `. ${fix}` : ""}`;
}

/** The admin API answered an error that is not problem details: something else answers at that address. */
export class ApiAnswerUnexpectedError extends MoatError {
  constructor(request: string, url: string, status: number, contentType: string) {
    super("api-answer-unexpected", 502, `${url} answered ${request} with ${status} and ${JSON.stringify(contentType)}, not problem details.`, {
      fix: "check that the URL is Moat's admin API (`moat start --store … --api HOST:PORT` logs it as \"admin API listening\")",
    });
  }
}

/** The admin API could not be reached: no connection, or a TLS handshake that failed (its certificate does not verify against the CA bundle given). */
export class ApiUnreachableError extends MoatError {
  /** The socket's or TLS's code: ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID… */
  readonly reason: string | undefined;

  constructor(url: string, detail: string, reason: string | undefined, options: MoatErrorOptions = {}) {
    super("api-unreachable", 503, `cannot reach the admin API at ${url}: ${detail}.`, options);
    this.reason = reason;
  }
}

/** A command over the admin API waited for a long operation (a rotation, an invalidation across workers) past its --wait deadline. */
export class ApiWaitDeadlineError extends MoatError {
  constructor(what: string, waited: string, state: string, check: string) {
    super("api-wait-deadline", 504, `waited ${waited} for ${what}, and it has not happened yet: ${state}.`, {
      fix: `the request stands and may still complete: see where it is with \`${check}\`, or wait longer with --wait`,
    });
  }
}

/** No answer from the admin API within the client's deadline for one request. */
export class ApiClientDeadlineError extends MoatError {
  constructor(request: string, url: string, deadlineMs: number) {
    super("api-client-deadline", 504, `the admin API at ${url} did not answer ${request} within ${deadlineMs} ms; a change may still have been committed.`, {
      fix: "check that the API is up and answers (its log); read the resource before retrying a change",
    });
  }
}

/** GET /console/ on an API whose package holds no built console (a checkout where `npm run console:build` has not run). */
export class ConsoleNotBuiltError extends MoatError {
  constructor(directory: string) {
    super("console-not-built", 503, `the web console is not built: ${directory} holds no index.html.`, {
      fix: "run `npm run console:build` in Moat's checkout (a published package ships it built), then restart the API",
    });
  }
}

/** GET /traffic on an admin API that runs without the edge's metrics (no --metrics, no metrics.listen, or not beside an edge). */
export class TrafficUnavailableError extends MoatError {
  constructor() {
    super("traffic-unavailable", 503, "this admin API has no traffic to show: the edge beside it counts none (its metrics are off), or no edge runs beside it.", {
      fix: "run the API beside the edge with metrics on: `moat start --store ADDRESS --api HOST:PORT --metrics 127.0.0.1:9464` (or metrics.listen in the config); `npm start` (the demo) has them on",
    });
  }
}

/**
 * A request a browser made for another site's page (Sec-Fetch-Site: cross-site or same-site, or an Origin other than the
 * API's own): refused, because a browser presents an admin client certificate to any page that makes it ask, so a page
 * elsewhere could act as its owner.
 */
export class ApiCrossSiteRequestError extends MoatError {
  /** `evidence`: the header that says so, as sent (`Sec-Fetch-Site: cross-site`, `Origin: https://elsewhere.example`). */
  constructor(evidence: string) {
    super("api-cross-site-request", 403, `the browser says this request comes from another site's page (${evidence}); the admin API answers only its own console and clients that are not browsers.`, {
      fix: "use the console at the API's own /console/, the CLI or the SDK; a page on another site may not call the API",
    });
  }
}
