// The list of `moat` subcommands; each lives in its own file and is loaded only when run.
import cluster from "node:cluster";
import { apiCommands, LOCAL_OR_API_HELP } from "./over-api/api-commands.ts";
import { controlCommands } from "./over-api/control-commands.ts";

export interface CliCommand {
  name: string;
  summary: string;
  help: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
  /** The exit code of a failure (a MoatError) when 1 means something else for this command (`moat diff`: changes). */
  failureExitCode?: number;
}

/** How the store commands and `moat start --store` read their --store flag (src/cli/store-flags.ts). */
const STORE_FLAG_HELP = `--store ADDRESS is a data directory (its store is moat.db), sqlite:FILE, or
postgres://user:password@host:5432/db; MOAT_STORE is used when the flag is absent.`;

/** The store commands that have a form over the admin API. */
const STORE_OR_API_HELP = LOCAL_OR_API_HELP("--store", "MOAT_STORE");
/** The data-directory commands that have a form over the admin API. */
const DATA_DIR_OR_API_HELP = LOCAL_OR_API_HELP("--data-dir or --config", "MOAT_DATA_DIR");
const CA_OR_API_HELP = LOCAL_OR_API_HELP("--data-dir, --master-key-file or --store", "MOAT_DATA_DIR");

// The flags of src/cli/connection-flags.ts, as `moat guard` and `moat enrol serve` show them.
const CONNECTION_FLAGS_HELP = `Connections (each closed one is logged with its reason, at most once per address
and reason every 10 s, then a count of the lines left out):
  --handshake-timeout 10s      the TLS handshake, from the accept (no ClientHello: closed)
  --first-byte-timeout 10s     after the handshake, until the first byte of a request
  --request-head-timeout 20s   then this much more until the request head is complete (408)
  --idle-timeout DURATION      a keep-alive connection with no request
  --max-connections N          open connections; one more is closed as it is accepted
  --max-connections-per-address N   the same, from one client address`;

/** The flags of src/cli/tls-flags.ts, for the help of the commands that take them. */
const TLS_FLAGS_HELP = `--tls-ciphers A:B:… sets the TLS 1.2 ciphers (ECDHE with AES-GCM or
ChaCha20-Poly1305 only: any other name is refused) and, with TLS_* names, the
TLS 1.3 suites; --tls-ecdh-curves X25519:P-256:… sets the key-exchange groups.`;

export const commands: readonly CliCommand[] = [
  {
    name: "start",
    summary: "run an edge from a config file or a store",
    help: `moat start (--config FILE | --store ADDRESS [--ca] [--api HOST:PORT] [--edge-name NAME] [--region NAME]) [--metrics HOST:PORT] [--log-level info]

Runs the edge the config describes. With --config, SIGHUP or a change of the
file reloads it (a bad file is refused and the running config stays). With
--store (or MOAT_STORE), the edge serves the store's newest revision and asks
the store for its revision every second (PostgreSQL notifies each commit, and
the poll is every 5 s, MOAT_STORE_FALLBACK_POLL_MS, while it listens): a new
one is read, validated and swapped in as a whole, as a file is; one that fails
(a certificate file missing on this host) is logged with its revision and the
running config stays; while the store cannot be reached the edge keeps serving
(logged once) and retries with backoff. SIGHUP reads the store again. SIGTERM
drains and exits.

Each revision served is recorded in the store (its edges table, with a
heartbeat every 10 s, MOAT_EDGE_HEARTBEAT_MS; and --region NAME, else
MOAT_EDGE_REGION: \`moat edge list\` shows them) and copied to store-copy.json in the data directory
(the store's directory, else MOAT_DATA_DIR, else ./.moat): an edge started
while the store is down serves that copy and catches up once it answers.
${STORE_FLAG_HELP} A data directory as the address is also the edge's data directory
unless the stored config sets dataDir.

Run from a store, the edge also applies the store's cache invalidations (every
worker, within a second) and records in the store that it has, under its name:
--edge-name, else MOAT_EDGE_NAME, else the host name (on every log line). Edges
sharing a store need names of their own.

A name given with --edge-name or MOAT_EDGE_NAME (from a config file,
MOAT_EDGE_NAME; never the host name) also names the edge's Cache-Status
entries: moat-NAME, so that the hops of an origin shield can be told apart
(see docs/reference/headers.md#cache-status).

--api HOST:PORT (with --store) starts the admin API beside the edge, on TLS 1.3
with a server certificate from Moat's CA (see docs/reference/admin-api.md).
Keep it on loopback (127.0.0.1:8444) unless clients elsewhere need it; every
request needs an API token (\`moat token create\`) or an admin certificate
(\`moat admin issue\`). A change it makes is served within a second.

--ca (with --store) makes this edge the fleet's CA node: the one with the
master key and the CA's keys. It publishes the CA's certificates in the store
and signs the certificate requests of joined edges (\`moat edge join\`), each
checked against the store's newest revision: the edge joined, the CSR's
signature verifies, and the names are exactly its distributions' aliases or
its origins' identities; anything else is refused with a reason the edge logs.
A data directory \`moat edge join\` wrote starts as that joined edge: under the
name it joined as, with its own data directory (whatever the stored config's
dataDir), no CA key, and its certificates signed by the CA node from its CSRs.

--metrics HOST:PORT serves Prometheus metrics at GET /metrics, plain HTTP
with no authentication (see docs/reference/metrics.md); it wins over the
config's metrics.listen. Keep it on loopback (127.0.0.1:9464): the edge warns
at start when it is not. With workers, the primary serves one page for all.

The private keys in the data directory are encrypted under a master key, from
MOAT_MASTER_KEY (base64 of 32 bytes), MOAT_MASTER_KEY_FILE (a path) or the
config's pki.masterKeyFile, in that order. Without one, start refuses to run.

Examples:
  MOAT_MASTER_KEY_FILE=/etc/moat/master.key moat start --config ./moat.yaml
  MOAT_MASTER_KEY_FILE=/etc/moat/master.key moat start --store /var/lib/moat --api 127.0.0.1:8444`,
    // A worker is forked with its primary's arguments and takes everything else from its primary: it loads none of the primary's modules (the config validator, the worker group).
    run: async (args) => (cluster.isWorker ? (await import("./run/worker-process.ts")).runWorker() : (await import("./run/start-command.ts")).runStart(args)),
  },
  {
    name: "apply",
    summary: "make a store match a config file, in one revision",
    help: `moat apply -f FILE (--store ADDRESS | [--if-match REVISION] [API flags]) [--json]

Checks FILE as \`moat config check\` does (the same messages, each naming its
path) and, if it is valid, makes the store hold exactly what it says in one
revision: resources it adds are created, resources it changes are replaced,
resources it no longer names are deleted. An invalid file changes nothing and
exits 1. A file that matches the store already makes no revision. Relative
paths in FILE (certificates, CA bundles, dataDir) are stored made absolute
against FILE's directory: the edges must find those files at those paths.
Prints the changes (as \`moat diff\`) before it writes them, then the new
revision; --json prints it as JSON. It writes exactly those changes or nothing:
if anything else changed the store after the diff was made, it refuses
(store-revision-conflict, exit 1) and you run it again.
${STORE_FLAG_HELP}
Over the admin API (an admin's credentials) it asks POST /config/diff, prints
that diff, then sends PUT /config with If-Match: the revision the diff was
made against (or --if-match REVISION): if the store moved since, the API
refuses (412) with its reason on one line, exit 1, and nothing changes. The
file is judged by the API (each problem by its path), not checked here: the
files it names must exist on the edges' hosts.
${STORE_OR_API_HELP}

Examples:
  moat apply -f ./moat.yaml --store /var/lib/moat
  moat apply -f ./moat.yaml --context prod`,
    run: async (args) => (await import("./local/apply-command.ts")).runApply(args),
  },
  {
    name: "diff",
    summary: "show what `moat apply` would change in a store, field by field",
    help: `moat diff -f FILE (--store ADDRESS | [API flags]) [--json]

Prints, per resource (distribution, trust store, setting), what applying FILE
would create (+), change (~, then each field: old → new) or delete (-).
Exit code: 0 when the store matches FILE, 1 when applying would change it, 2
when the diff could not be made (an invalid file, a store that cannot be read,
an API that refused).
${STORE_FLAG_HELP}
${STORE_OR_API_HELP} Over the API it asks POST /config/diff (the operator role).

Example:
  moat diff -f ./moat.yaml --store /var/lib/moat || echo "the store differs"`,
    run: async (args) => (await import("./local/apply-command.ts")).runDiff(args),
    failureExitCode: 2,
  },
  {
    name: "export",
    summary: "write a store's config as a config file (`moat apply` takes it back unchanged)",
    help: `moat export (--store ADDRESS | [API flags]) [-o FILE] [--json]

Writes the store's newest revision as a config file: to stdout, or to FILE
(created 0600), YAML unless FILE ends in .json or --json is given. Applying
the file to the same store changes nothing and makes no revision.
${STORE_FLAG_HELP}
${STORE_OR_API_HELP} Over the API it reads GET /config (any role).

Example:
  moat export --store /var/lib/moat -o moat.yaml`,
    run: async (args) => (await import("./local/export-command.ts")).runExport(args),
  },
  {
    name: "store log",
    summary: "list a store's revisions: number, time, who, what changed (from the store, or over the admin API)",
    help: `moat store log (--store ADDRESS | --api URL [API flags]) [--limit 20] [--json]

Lists the newest revisions first (at most 500): each one's number, time (UTC),
actor (cli:<user> for \`moat apply\`, api:token/<id> for the admin API) and
what it changed. --store (or MOAT_STORE, when no --api or --context is given)
reads the store itself; otherwise it asks the admin API, as \`moat revisions\`
does (see \`moat revisions --help\` for the API flags).
${STORE_FLAG_HELP}

Examples:
  moat store log --store /var/lib/moat --limit 5
  MOAT_API=https://127.0.0.1:8444 MOAT_API_CA=moat-ca.pem MOAT_TOKEN_FILE=viewer.token moat store log`,
    run: async (args) => (await import("./local/store-log-command.ts")).runStoreLog(args),
  },
  {
    name: "audit verify",
    summary: "walk a store's audit trail and its signed checkpoints; name the first record or checkpoint that is wrong",
    help: `moat audit verify (--store ADDRESS [--data-dir DIR] [--ca-bundle FILE] | [API flags]) [--json]

Recomputes the hash of every audit record in order, checks that each names the
hash of the one before, and compares the end of the trail with the head the
store recorded (and each revision recorded): an edited, deleted, inserted or
reordered record, or deleted newest records, are reported by their sequence
number, and the command exits 1.

Then the signed checkpoints: each one's signature and signer's certificate
(issued by the CA for audit signing, chained to a root of the CA bundle), its
place after the one before, and the hash it signed against the chain's at its
record. A trail rewritten with recomputed hashes fails at the first checkpoint
whose signed hash no longer matches. It prints which records the checkpoints
cover, the last one's signer (with the serial \`moat ca revoke\` takes if its
key leaked), and which are only hash-chained; a trail with no checkpoint is
reported on stderr as unanchored (a warning, exit 0).

--data-dir DIR gives the CA bundle, its revocations (a checkpoint signed at or
after its signer's revocation fails) and the data directory's record of the
last checkpoint it signed (a store that lost it fails); default: the store's own
directory (--store /var/lib/moat), or MOAT_DATA_DIR, when it holds a CA.
--ca-bundle FILE checks the signatures against that bundle instead. Without
either, signatures are not checked, and a warning says so.
(docs/explanation/audit-trail.md#signed-checkpoints).
${STORE_FLAG_HELP}
${STORE_OR_API_HELP} Over the API it needs the admin role (GET /audit, GET /audit/verify).

Example:
  moat audit verify --store /var/lib/moat`,
    run: async (args) => (await import("./local/audit-command.ts")).runAuditVerify(args),
  },
  {
    name: "audit checkpoint",
    summary: "sign the audit trail's head now with the data directory's audit signer",
    help: `moat audit checkpoint --store ADDRESS [--data-dir DIR] [--master-key-file FILE] [--json]

Signs the store's audit head (the newest record's number and hash, the store's
id and the checkpoint before) as the next checkpoint, with the data directory's
audit signer: an ECDSA P-256 key sealed under the master key in
DIR/audit/signer.key (0600), and a certificate the CA issues for audit signing
only (made the first time, renewed with a new key 30 days before its 90 days
end, when the CA's intermediate changed, or once its serial is revoked with
\`moat ca revoke\`). The records since the last checkpoint are checked first: a broken trail,
or a store that lost a checkpoint this data directory signed, is refused
(audit-checkpoint-refused, exit 1). Nothing to sign when no record came since
the last checkpoint. An edge run with --ca or --api, and moat demo, make one
every 5 minutes while the trail grows (MOAT_AUDIT_CHECKPOINT_MS), and one at a
clean stop.

--data-dir DIR defaults to the store's own directory, else MOAT_DATA_DIR, else
./.moat; it must hold the CA (not a joined edge's directory).
${STORE_FLAG_HELP}

Example:
  moat audit checkpoint --store /var/lib/moat`,
    run: async (args) => (await import("./local/audit-command.ts")).runAuditCheckpoint(args),
  },
  {
    name: "audit export",
    summary: "write a store's audit records as JSON lines, with their hashes, for another system",
    help: `moat audit export (--store ADDRESS | [API flags]) [--since SEQ] [--format jsonl]

Writes one JSON object per line to stdout, oldest first: seq, at, actor, action,
resource, distribution, revision, before, after, prevHash, hash. With --since
SEQ, only the records after SEQ (the last one you already hold). Each hash is
the SHA-256 of the RFC 8785 canonical JSON of its line without hash, so the
receiving system can check every record and the chain by itself.
${STORE_FLAG_HELP}
${STORE_OR_API_HELP} Over the API it needs the admin role (GET /audit, GET /audit/verify).

Example:
  moat audit export --store /var/lib/moat --since 1200 >> /archive/moat-audit.jsonl`,
    run: async (args) => (await import("./local/audit-command.ts")).runAuditExport(args),
  },
  {
    name: "audit list",
    summary: "show a store's audit records as a table: who did what to which resource",
    help: `moat audit list (--store ADDRESS | [API flags]) [--limit 20] [--since SEQ] [--resource R]
                [--actor A] [--action A] [--distribution ID] [--json]

Shows the newest records (or, with --since SEQ, the first ones after SEQ),
oldest first: sequence number, time (UTC), actor, action (config.put,
token.revoke…), resource (distribution/shop, token/<id>) and revision. The
filters match exactly. --json writes the records whole, before and after
included.
${STORE_FLAG_HELP}
${STORE_OR_API_HELP} Over the API it needs the admin role (GET /audit, GET /audit/verify).

Example:
  moat audit list --store /var/lib/moat --distribution shop --limit 50`,
    run: async (args) => (await import("./local/audit-command.ts")).runAuditList(args),
  },
  {
    name: "demo",
    summary: "run the demo: a CA, an mTLS origin, an edge in front of it and the admin API (npm start)",
    help: `moat demo [--data-dir DIR]

Creates the data directory and a CA if there are none, starts a demo origin on
https://localhost:9443 that only accepts the demo distribution's client
certificate, and the edge on https://localhost:8443 (HTTP on 8080) in front of it.
The edge runs from a store in the data directory (moat.db), which demo.yaml is
applied to at each start; the admin API listens on https://127.0.0.1:8444, and
a 24 h admin token for it is written to <data dir>/demo-api-token (0600; the one
of the previous start is revoked). It prints how to call the API, and the web
console's address, https://127.0.0.1:8444/console/, with the token to sign in
(on a terminal only; otherwise the file that holds it).
Unless MOAT_MASTER_KEY or MOAT_MASTER_KEY_FILE is set, the demo keeps its own
master key in <data dir>.master-key, next to the data: fine for a demo only.

Example:
  MOAT_DATA_DIR=/tmp/moat-demo moat demo`,
    run: async (args) => (await import("./run/demo-command.ts")).runDemo(args),
  },
  {
    name: "config check",
    summary: "validate a config file and print what is wrong",
    help: `moat config check FILE [--master-key-file FILE]

Exits 0 if FILE is a valid config; otherwise lists every problem with its path.
Imported certificates get the checks the edge runs at start (key, chain, usage,
validity, names): a refusal names the config path, the check and the fix.
Certificates imported through the admin API ({ imported: NAME }) are looked
up in the config's data directory: a name nothing was imported under is
refused; with the master key (--master-key-file, MOAT_MASTER_KEY_FILE,
MOAT_MASTER_KEY or pki.masterKeyFile) its sealed key is opened and checked in
full, without it the command says which ones it did not check.

Example:
  moat config check ./moat.yaml`,
    run: async (args) => (await import("./local/config-command.ts")).runConfigCheck(args),
  },
  {
    name: "certs list",
    summary: "list every certificate Moat holds: use, names, serial, not-after, when it renews, state (from the data directory, or over the admin API)",
    help: `moat certs list [--data-dir DIR | --config FILE | [--distribution ID] [--state S] [--use U] [--source S] [--edge NAME] [API flags]] [--json]

Lists the CA certificates, the certificates the edge issued (active, next: renewed
and waiting to be proven to its origin, retired: the one active replaced) and,
with --config, the imported certificates the config names, with expiry warnings
30, 7 and 1 days ahead (imported certificates cannot renew themselves). Revoked
and expired certificates are marked. RENEWS is when the edge renews one it
issued (pki.renewAtFraction of its life, less a per-serial jitter; the default
2/3 without --config), "-" for imported, retired, revoked and expired ones;
\`moat certs show\` prints it as "renews". Needs no master key: it reads no private key
(a PKCS#12 is opened with its passphraseFile to read its certificates; its key is
never kept or printed, and one that does not open is reported on stderr).
Over the admin API it lists what the store holds: every edge's certificates
(each edge run from the store keeps its own there, imported ones included) and
the CA's, in serial order, with the same columns; --distribution, --state
(active, next, retired, expired, not-yet-valid, revoked), --use (root-ca,
intermediate-ca, viewer-server, origin-client), --source (issued, imported) and
--edge (an edge's --edge-name) filter it; --json prints the API's items (with
usedBy, spiffeId, edge…).
${DATA_DIR_OR_API_HELP}

Examples:
  moat certs list --config ./moat.yaml --json
  moat certs list --distribution shop --state active --context prod`,
    run: async (args) => (await import("./local/certs-command.ts")).runCertsList(args),
  },
  {
    name: "doctor origin",
    summary: "connect to an origin as the edge would and explain each problem with its fix",
    help: `moat doctor origin (ORIGIN_ID | DISTRIBUTION/ORIGIN | URL) [--config FILE | --store ADDRESS]
    [--data-dir DIR] [--master-key-file FILE] [--ca FILE] [--timeout 5s] [--json]

Connects to the origin exactly as the edge's client does: the same client
certificate (read from the data directory, never issued here), the CA bundle
that verifies the origin, the server name (SNI) and the edge's TLS 1.2/1.3
settings; then sends GET / as the edge's certificate probe does. Checks, each
✓ or ✗ with the edge's failure code, the cause and the fix:
  client-certificate          which certificate the edge presents, or none
  tcp-connect                 refused, timed out, name not resolved
  tls-handshake               protocol and cipher, or no version/cipher in common
  origin-certificate          the chain the origin sent (subject, issuer, serial,
                              validity) and why it is not trusted: unknown
                              issuer, self-signed, expired, not yet valid, or the
                              names it has versus the name expected
  client-certificate-request  whether the origin asks for a client certificate
                              and which CAs it accepts (from \`openssl s_client\`)
  client-certificate-accepted whether it accepted the edge's certificate
  http-answer                 the status GET / gets

An ORIGIN_ID is looked up in --config FILE or --store ADDRESS (MOAT_STORE); the
master key (--master-key-file, MOAT_MASTER_KEY, MOAT_MASTER_KEY_FILE or
pki.masterKeyFile) opens the stored client key. A URL that no config names is
checked with the edge's defaults: the CA bundle of --ca FILE or of the data
directory (--data-dir, MOAT_DATA_DIR or ./.moat; a config names its own), its
host name as the server name, and no client certificate.
Every network step has a deadline (--timeout, default 5s). --json prints the
report for scripts. Exit code 0 when every check passed, 1 when one failed.

Examples:
  moat doctor origin api --config ./moat.yaml
  moat doctor origin shop/api --store /var/lib/moat --json
  moat doctor origin https://api.internal:9443 --ca ./origin-ca.pem`,
    run: async (args) => (await import("./local/doctor-command.ts")).runDoctorOrigin(args),
  },
  {
    name: "doctor viewer",
    summary: "check a viewer certificate against the trust store the edge would use, with the edge's own verdict",
    help: `moat doctor viewer --cert FILE (--ca FILE [--crl FILE]... [--allow-no-eku]
    | [--config FILE | --store ADDRESS] (--trust-store NAME | --distribution ID))
    [--timeout 5s] [--json]

Judges the viewer certificate in FILE (PEM: the leaf, then any intermediates the
viewer sends) as the edge judges a viewer's handshake: OpenSSL's verification
with the trust store's CAs and CRLs (\`openssl verify\`, CRLs checked for the
whole chain, TLS client purpose), then the edge's own verdict function. Checks,
each ✗ with the code the edge logs (client-cert-untrusted, client-cert-expired,
client-cert-revoked, client-cert-wrong-usage, client-cert-crl-missing, …), the
cause and the fix: chain, validity, key-usage (EKU clientAuth), revocation, and
edge-verdict. --distribution ID uses the trust store of that distribution's
viewer mTLS. Exit code 0 when the edge would accept it, 1 otherwise.

Examples:
  moat doctor viewer --cert alice.pem --config ./moat.yaml --distribution partners
  moat doctor viewer --cert alice.pem --ca partner-ca.pem --crl partner.crl --json`,
    run: async (args) => (await import("./local/doctor-command.ts")).runDoctorViewer(args),
  },
  {
    name: "guard",
    summary: "origin-side sidecar: mTLS in front of an HTTP app, only the edge of its distribution(s) gets in",
    help: `moat guard --upstream http://127.0.0.1:8080 --distribution ID [--distribution ID…] [--origin ID…]
           [--listen 0.0.0.0:9443] (--dir DIR | --cert FILE --key FILE --ca-bundle FILE --crl FILE)
           [--without-crl] [--trust-domain moat.internal] [--tls-ciphers LIST] [--tls-ecdh-curves LIST] [--log-level info] [connection flags]

Terminates mutual TLS in front of an HTTP app (a legacy app on 127.0.0.1:8080, say):
- a client without a certificate from Moat's CA (or with an expired or revoked one)
  fails the TLS handshake; the reason is logged;
- Moat's edge of another distribution gets 403 with a Moat-Guard-Refusal header
  and the reason (identity-not-accepted);
- the accepted edge is forwarded, with its identity in moat-edge-identity,
  moat-edge-distribution, moat-edge-origin and moat-edge-certificate-serial.
  Any moat-edge-* header that arrives from outside is dropped, so the app can
  trust these (as long as only the guard can reach it).

--dir DIR holds server.crt, server.key (0600), ca-bundle.pem and crl-bundle.pem,
as \`moat enrol\` writes and renews them; --cert/--key/--ca-bundle/--crl override one.
The CA bundle must hold Moat's roots and intermediate (\`moat ca bundle
--with-intermediate\`); the CRL bundle is \`moat ca crl\`. The guard watches these
files and reloads on change (and on SIGHUP): a new CRL, a bundle with a new root
and a renewed server certificate take effect without a restart; a broken file is
logged and the running one kept. --without-crl turns revocation checks off (say why).
SIGTERM stops accepting and lets requests in flight finish (30 s at most).
${TLS_FLAGS_HELP}

${CONNECTION_FLAGS_HELP}
Defaults for the guard: idle 60s, 10000 connections, 1024 per address (an edge's pools).

Example:
  moat guard --upstream http://127.0.0.1:8080 --distribution shop --dir /etc/moat-guard --listen 0.0.0.0:9443`,
    run: async (args) => (await import("./local/guard-command.ts")).runGuard(args),
  },
  {
    name: "origin snippet",
    summary: "print nginx, HAProxy, Caddy or Envoy config that admits only the edge of a distribution",
    help: `moat origin snippet nginx|haproxy|caddy|envoy --distribution ID [--distribution ID…] [--origin ID…]
           [--dir /etc/moat-guard] [--listen 0.0.0.0:9443] [--upstream http://127.0.0.1:8080] [--trust-domain moat.internal]

Prints config with which that server requires Moat's edge certificate: Moat's
roots (ca-bundle.pem), its CRLs (crl-bundle.pem), the server's own certificate
(server.crt, server.key), all from --dir as \`moat enrol\` fills it, and the
identity check wherever the server can express it:
- nginx and HAProxy (Debian bookworm's 1.22 and 2.6) cannot read URI SANs: they
  check the subject CN "<distribution>/<origin>" Moat writes beside the SPIFFE ID;
  a certificate of another distribution gets 403. The snippet says what that
  does not cover.
- Caddy checks the SPIFFE ID but cannot check CRLs: the snippet says so.
- Envoy checks the SPIFFE ID and the CRLs; another distribution fails the handshake.
Where a check cannot be expressed, run \`moat guard\` in front of the app instead.

Example:
  moat origin snippet nginx --distribution shop > /etc/nginx/conf.d/moat-origin.conf`,
    run: async (args) => (await import("./local/origin-snippet-command.ts")).runOriginSnippet(args),
  },
  {
    name: "enrol token",
    summary: "CA host: create a one-time token with which an origin host gets its server certificate",
    help: `moat enrol token --dns NAME [--dns NAME…] [--ip ADDRESS…] [--ttl 1h] [--validity 7d] [--data-dir DIR]

Prints a token (once: only its SHA-256 is stored, in <data dir>/enrol/tokens/).
It is single-use and expires after --ttl. Whoever holds it gets, once, a server
certificate with exactly these names, valid for --validity and renewed for as
long as the host keeps it current. Needs no master key.

Example:
  moat enrol token --dns api.internal --ttl 30m > api.token`,
    run: async (args) => (await import("./local/enrol-command.ts")).runEnrolToken(args),
  },
  {
    name: "enrol serve",
    summary: "CA host: serve the enrolment endpoint (HTTPS) for tokens and renewals",
    help: `moat enrol serve --dns NAME [--ip ADDRESS…] [--listen 0.0.0.0:9444] [--data-dir DIR] [--master-key-file FILE]
           [--tls-ciphers LIST] [--tls-ecdh-curves LIST] [connection flags]

Serves, over HTTPS with a certificate from Moat's CA for --dns/--ip (renewed by
itself):
  POST /v1/enrol  {token, csr}                        a certificate for the token's names
  POST /v2/renew  {csr, certificate, signedAt, proof} the same names for a new key, proven
                                                      by a signature of the current key
  GET  /v1/trust                                      Moat's CA bundle (+ intermediate) and CRLs
Only certificates enrolment issued can be renewed, and not once revoked or
expired. Signing needs the master key (MOAT_MASTER_KEY, MOAT_MASTER_KEY_FILE or
--master-key-file).
${TLS_FLAGS_HELP}

${CONNECTION_FLAGS_HELP}
Defaults for enrolment: idle 30s, 1024 connections, 16 per address.

Example:
  moat enrol serve --dns ca.internal --data-dir /var/lib/moat`,
    run: async (args) => (await import("./local/enrol-command.ts")).runEnrolServe(args),
  },
  {
    name: "enrol request",
    summary: "origin host: enrol with a token; writes the guard directory",
    help: `moat enrol request --url https://ca.internal:9444 --token TOKEN --ca-bundle FILE --dir DIR

Makes a key here (written 0600, never sent), sends a CSR with the token, and
writes DIR/server.crt, server.key, ca-bundle.pem (Moat's roots + intermediate),
crl-bundle.pem and enrolment.json. --ca-bundle is Moat's bundle (\`moat ca
bundle\` on the CA host): the endpoint's certificate is verified against it.
\`moat guard --dir DIR\` and the snippets of \`moat origin snippet\` read DIR.

Example:
  moat enrol request --url https://ca.internal:9444 --token "$(cat api.token)" --ca-bundle moat-ca.pem --dir /etc/moat-guard`,
    run: async (args) => (await import("./local/enrol-command.ts")).runEnrolRequest(args),
  },
  {
    name: "enrol renew",
    summary: "origin host: renew the certificate when due and refresh the CRL (--watch: keep doing it)",
    help: `moat enrol renew --dir DIR [--watch] [--force]

Renews the certificate in DIR once it is due (two thirds of its life), with a
fresh key, and fetches the CA bundle and CRLs again once the CRL is halfway
through its validity. --watch keeps running and does both on time, retrying
failures with a growing delay; --force renews now. A guard reading DIR reloads
by itself; reload nginx or HAProxy after a change.

Example:
  moat enrol renew --dir /etc/moat-guard --watch`,
    run: async (args) => (await import("./local/enrol-command.ts")).runEnrolRenew(args),
  },
  {
    name: "ca init",
    summary: "create Moat's private CA (root + intermediate) in the data directory",
    help: `moat ca init [--data-dir DIR] [--master-key-file FILE] [--key-algorithm ecdsa-p256|ecdsa-p384|rsa-2048|rsa-3072] [--name NAME] [--crl-base-url URL]

Creates <data dir>/ca with a root and an intermediate CA. Private keys are
written encrypted under the master key, with mode 0600. Refuses to overwrite
an existing CA.

--crl-base-url URL (http: only) is where relying parties fetch the CA's CRLs:
the intermediate and every certificate issued carry a CRL Distribution Point
URL/crl/<issuer serial>.der. An edge's plain-HTTP port serves them under
/.well-known/moat/, so http://EDGE-HOST/.well-known/moat/ is the usual value.
Default: none (see \`moat ca publication\` to set it later).

The master key comes from --master-key-file FILE, which is created (mode 0600)
if it does not exist and must be outside the data directory; else from
MOAT_MASTER_KEY or MOAT_MASTER_KEY_FILE. Back it up apart from the data.

Example:
  moat ca init --data-dir /var/lib/moat --master-key-file /etc/moat/master.key --key-algorithm rsa-3072
  moat ca init --master-key-file /etc/moat/master.key --crl-base-url http://edge.example.com/.well-known/moat/`,
    run: async (args) => (await import("./local/ca-command.ts")).runCaInit(args),
  },
  {
    name: "ca issue-server",
    summary: "issue a server certificate for an origin host from Moat's CA",
    help: `moat ca issue-server --dns NAME [--dns NAME…] [--ip ADDRESS…] --out DIR [--validity 90d] [--data-dir DIR] [--master-key-file FILE]

Writes DIR/<first name>.pem (certificate + intermediate), DIR/<first name>.key
(mode 0600, not encrypted: the origin's TLS server reads it as is) and
DIR/ca-bundle.pem. The edge verifies origins against Moat's bundle by default,
so an origin with this certificate needs no trustedCa. Signing needs the CA's
key, so the master key too (--master-key-file, MOAT_MASTER_KEY or MOAT_MASTER_KEY_FILE).

Example:
  moat ca issue-server --dns api.internal --out /etc/api/tls --master-key-file /etc/moat/master.key`,
    run: async (args) => (await import("./local/ca-command.ts")).runCaIssueServer(args),
  },
  {
    name: "ca bundle",
    summary: "print the CA bundle that origins and viewers should trust",
    help: `moat ca bundle [--data-dir DIR | [API flags]] [--with-intermediate]

Prints the PEM bundle of Moat's root CA(s): during a root rollover, the old and
the new root, so origins that load it accept both. Needs no master key.
--with-intermediate adds the intermediate after the roots: \`moat guard\` and the
guard middleware need it, because Node's TLS server does not hand them the
intermediate the edge sends. It only completes paths; the roots stay the only
trust anchors.
${CA_OR_API_HELP}

Example:
  moat ca bundle > /etc/api/moat-ca.pem
  moat ca bundle --with-intermediate > /etc/moat-guard/ca-bundle.pem`,
    run: async (args) => (await import("./local/ca-command.ts")).runCaBundle(args),
  },
  {
    name: "ca status",
    summary: "show the CA's generations: active, pending and retired roots and intermediates, and the next rotation steps",
    help: `moat ca status [--data-dir DIR | [API flags]] [--json]

Lists the active root and intermediate, a root rollover in progress (its phase
and dates), retired intermediates whose CRLs are still published, when each
rotation step is due, and the CRL base URL (moat ca publication). Needs no
master key. Over the admin API it prints the certificates as a table (role,
subject, serial, validity), the rollover and the steps due under the API's
policy; --json prints the API's answer.
${CA_OR_API_HELP}

Example:
  moat ca status --data-dir /var/lib/moat`,
    run: async (args) => (await import("./local/ca-rotate-command.ts")).runCaStatus(args),
  },
  {
    name: "ca publication",
    summary: "show, set or clear where certificates say the CA's CRLs are (CRL Distribution Points)",
    help: `moat ca publication [--data-dir DIR] [--crl-base-url URL | --clear]

Without a flag, prints the CA's CRL base URL (or that none is set). With
--crl-base-url URL, every certificate issued from now on (by an edge, moat ca
issue-server, enrolment or the admin API) carries the CRL Distribution Point
URL/crl/<serial of its issuer>.der (RFC 5280 4.2.1.13), and a renewed or
rolled-over intermediate points at its root's CRL the same way. The URL must be
absolute http: (a CRL is fetched without TLS), with no user name, query or
fragment. An edge's plain-HTTP port serves <data dir>/ca/crls/ at
/.well-known/moat/crl/, so http://EDGE-HOST[:PORT]/.well-known/moat/ is the
usual value; a mirror must serve the same files under URL/crl/.
--clear: new certificates carry no CRL Distribution Point.

Certificates already issued keep what they carry: leaves get it when they
renew (an edge renews its own on schedule; the admin API's POST
/certificates/{serial}/rotate does it now), the
intermediate with moat ca renew-intermediate. Needs no master key.

Example:
  moat ca publication --crl-base-url http://edge.example.com/.well-known/moat/
  moat ca publication --clear`,
    run: async (args) => (await import("./local/ca-rotate-command.ts")).runCaPublication(args),
  },
  {
    name: "ca renew-intermediate",
    summary: "replace the CA's intermediate (new key, same root) now",
    help: `moat ca renew-intermediate [--data-dir DIR] [--validity 1826d] [--master-key-file FILE] [--store ADDRESS] | [API flags] [--json]

Issues a new intermediate under the active root and makes it the issuer. Peers
need nothing new: they trust the root, and every leaf carries its intermediate.
The old intermediate is retired: its CRL is still published (in crl-bundle.pem)
until it expires. A running edge re-issues its certificates from the new one.
A running edge also does this by itself at pki.renewAtFraction of the life.
With --store ADDRESS, the step and the CRL it publishes are recorded in the
store's audit trail (ca.rotate, crl.publish), as \`moat ca revoke --store\` does.
Over the admin API (the admin role) the API's CA does it; the command prints
what changed (old → new serial) and the CRL published after it.
${CA_OR_API_HELP}

Example:
  moat ca renew-intermediate --data-dir /var/lib/moat`,
    run: async (args) => (await import("./local/ca-rotate-command.ts")).runCaRenewIntermediate(args),
  },
  {
    name: "ca rollover",
    summary: "roll the root CA over: --prepare (trust both), --activate (new root issues), --finish (drop the old root)",
    help: `moat ca rollover --prepare [--overlap 30d] [--validity 3652d] [--key-algorithm ALG] | --activate | --finish
                 [--data-dir DIR] [--master-key-file FILE] [--store ADDRESS] | [API flags] [--json]

--prepare   creates a new root (and an intermediate under it) and adds it to
            bundle.pem next to the current root. Give the new bundle to every
            origin and viewer. The old root keeps issuing until --activate, or
            until the overlap has passed (a running edge activates it then).
--activate  the new root's intermediate issues from now on; the old root stays
            in the bundle, its key is destroyed. A running edge re-issues its
            certificates; an origin client certificate goes live only once the
            origin accepts it, so an origin still on the old bundle keeps the
            old certificate while it is valid (and the edge logs why).
--finish    removes the old root (and the intermediates it signed) from the
            bundle: certificates chaining to it stop verifying. Re-issue origin
            server certificates (moat ca issue-server) before this.
With --store ADDRESS, each step and its CRL are recorded in the store's audit
trail (ca.rotate, crl.publish).
Over the admin API (the admin role) each step prints what changed (the root
serials) and the CRL published after it; \`moat ca status\` shows the phase.
${CA_OR_API_HELP}

Example:
  moat ca rollover --prepare --overlap 14d && moat ca bundle > /etc/moat/ca-bundle.pem`,
    run: async (args) => (await import("./local/ca-rotate-command.ts")).runCaRollover(args),
  },
  {
    name: "ca revoke",
    summary: "revoke a certificate Moat issued and publish a fresh CRL",
    help: `moat ca revoke SERIAL --reason REASON [--data-dir DIR] [--validity 24h] [--master-key-file FILE]
                [--store ADDRESS]

Records the revocation in <data dir>/ca/revoked.json and publishes a CRL signed
by the intermediate: <data dir>/ca/crl.pem and crl.der, and crl-bundle.pem (that
CRL and the root's), which is what origins load. SERIAL is hex, with or without
colons (as \`openssl x509 -noout -serial\` prints it). REASON is one of
unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,
cessationOfOperation (RFC 5280). A revocation is final: there is no
certificateHold. Revoking a serial again changes nothing and exits 0. A serial
with no certificate under <data dir>/certs is revoked anyway, with a warning.
Running edges replace an in-use revoked certificate when the registry changes;
origins refuse it once they load the new CRL. Signing needs the master key.
With --store ADDRESS (a store, as \`moat audit\` takes it), the revocation and
the CRL are recorded in the store's audit trail (certificate.revoke,
crl.publish); a store that cannot be opened is refused before anything is
revoked, and a record that cannot be written after is told and exits 1.

Example:
  moat ca revoke 4A:0B:9C:… --reason keyCompromise --data-dir /var/lib/moat --store /var/lib/moat`,
    run: async (args) => (await import("./local/revoke-command.ts")).runCaRevoke(args),
  },
  {
    name: "ca crl",
    summary: "print the current CRL for origins (publishing a fresh one when due)",
    help: `moat ca crl [--data-dir DIR] [--der] [--validity 24h] [--master-key-file FILE | [API flags]]

Prints <data dir>/ca/crl-bundle.pem: the intermediate's CRL, then the root's.
Origins need both (OpenSSL checks every level of the chain): nginx ssl_crl and
HAProxy crl-file take the file as is; Node's tls takes crl: [each CRL]. With
--der, prints the intermediate's CRL alone, as DER. If the CRL is missing, lags
the registry, or is past half its validity, publishes a fresh one first (valid
for --validity; that needs the master key); a fresh one needs no key at all.
Origins must load a new CRL before the old one's nextUpdate, or refuse every edge.
Over the admin API the API publishes a fresh one when due (no --validity).
${CA_OR_API_HELP}

Example:
  moat ca crl --data-dir /var/lib/moat > /etc/nginx/moat-crl.pem && nginx -s reload`,
    run: async (args) => (await import("./local/crl-command.ts")).runCaCrl(args),
  },
  {
    name: "cache invalidate",
    summary: "drop paths (or path prefixes with *) from the running edges' caches (through a store, a data directory, or the admin API)",
    help: `moat cache invalidate --distribution ID PATH... [--store ADDRESS | --data-dir DIR | --config FILE | [API flags] [--json]] [--wait 10s | --no-wait]

With --store (or MOAT_STORE), records the invalidation in the store, in one
transaction: every edge run from that store applies it within a second and
records that it has; the command waits (up to --wait) until every live edge (a
heartbeat within 3 of its intervals) has applied it, and names those that have
not (exit 1). A silent edge is not waited for (it applies every invalidation
when it comes back): it is named as such. The store refuses a distribution it
does not hold.

Otherwise, records an invalidation in <data dir>/invalidations/requests.jsonl. A running
edge on that data directory sees the file change and applies it at once; the
command waits (up to --wait) until the edge says so: with workers, until every
worker has. A worker that is running and has not applied it by then is named
(number and pid), and the command exits 1. A PATH is exact
(/index.html, every query string and encoding of it) or a prefix ending in *
(/images/* ; * alone is everything). An edge that is not running applies it to
its disk cache when it starts. Invalidating is cheap at any cache size: nothing
is scanned, entries stored before the invalidation are refused at lookup.
Over the admin API (the operator role) it records it in the API's store with
POST /invalidations and polls its status, printing each edge's progress on
stderr, until every live edge run from that store has applied it (--wait,
default 30s there; past it, exit 1 naming the edges still pending: the
invalidation stands); silent edges are named "not waited for". --no-wait returns once it is recorded; --json prints the API's answer.
\`moat invalidations list\` and \`moat invalidations show ID\` read them back.
${LOCAL_OR_API_HELP("--store, --data-dir or --config", "MOAT_STORE or MOAT_DATA_DIR")}

Examples:
  moat cache invalidate --distribution shop --config ./moat.yaml /index.html "/images/*"
  moat cache invalidate --distribution shop --store postgres://moat@db/moat "/images/*"
  moat cache invalidate --distribution shop --context prod "/images/*"`,
    run: async (args) => (await import("./local/cache-command.ts")).runCacheInvalidate(args),
  },
  ...controlCommands,
  ...apiCommands,
];
