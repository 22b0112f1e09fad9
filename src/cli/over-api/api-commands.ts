// The `moat` subcommands over the admin API (listed in commands.ts; each loaded only when run). A resource's commands are one file each
// (`<resource>-command.ts`: parseCliArgs with API_FLAGS, withApi, one SDK call, printResult), declared here. Commands with a local form too
// (certs list, ca …, cache invalidate, apply, diff, export) are declared in commands.ts and hand over to their API form (isOverApi).
import type { CliCommand } from "../commands.ts";

/** The flags of src/cli/over-api/api-connection.ts, as every command over the API shows them. */
export const API_FLAGS_HELP = `The admin API; each setting comes from the first of: the flag, the environment,
the context (--context, MOAT_CONTEXT, or the current one of \`moat context use\`):
  --api URL              its address, as \`moat start --api\` logs it (MOAT_API)
  --api-ca FILE          the CA bundle that verifies its certificate: Moat's,
                         \`moat ca bundle\` (MOAT_API_CA); verification is never off
  --token-file FILE      a file holding an API token (MOAT_TOKEN_FILE, or the
                         token itself in MOAT_TOKEN); there is no --token flag:
                         the shell's history and ps would show it
  --cert FILE --key FILE an admin certificate instead (MOAT_API_CERT, MOAT_API_KEY)
  --context NAME         a context of \`moat context set\` (MOAT_CONTEXT)
A refusal prints the API's reason on one line (for an invalid change, each
path) and exits 1; a usage error exits 2.`;

const ENV_EXAMPLE = "MOAT_API=https://127.0.0.1:8444 MOAT_API_CA=moat-ca.pem MOAT_TOKEN_FILE=~/.moat/token";

/** How a command with a local form too tells which one runs (src/cli/over-api/api-connection.ts isOverApi). */
export const LOCAL_OR_API_HELP = (local: string, env: string) => `Local or over the API: ${local}
(or ${env}, when neither --api nor --context is given) works locally;
otherwise, when the flags, MOAT_API or a context name an admin API, it goes
to the API (the API flags: \`moat dist list --help\`).`;

/** What a write does when the resource changed since it was read. */
const IF_MATCH_HELP = `--if-match VERSION writes only if the resource is still at VERSION (as \`show\`
prints it): a change made since is refused (412) and the reason printed.
Without it, the version is read just before the write: a change between
the two is refused all the same.`;

export const apiCommands: readonly CliCommand[] = [
  {
    name: "dist list",
    summary: "list distributions over the admin API: id, version, aliases, origins",
    help: `moat dist list [--json] [API flags]

Lists every distribution in id order with its version (what --if-match takes),
its aliases and its origins' ids. --json prints the items as the API answers
them: { id, version, revision, document }.

${API_FLAGS_HELP}

Example:
  ${ENV_EXAMPLE} moat dist list`,
    run: async (args) => (await import("./dist-command.ts")).runDistList(args),
  },
  {
    name: "dist show",
    summary: "print one distribution as YAML (what `dist replace -f` takes back), with its version",
    help: `moat dist show ID [--json] [API flags]

Prints the distribution as the config file writes it, YAML, after a comment
line with its version and revision; --json prints { id, version, revision,
document }.

${API_FLAGS_HELP}

Example:
  moat dist show shop --context prod > shop.yaml`,
    run: async (args) => (await import("./dist-command.ts")).runDistShow(args),
  },
  {
    name: "dist create",
    summary: "create a distribution from a YAML or JSON file over the admin API",
    help: `moat dist create -f FILE [--json] [API flags]

FILE holds one distribution as the config file writes it (YAML, or JSON when
it ends in .json). Relative paths in it are made absolute against FILE's
directory, as \`moat apply\` does. The API checks the whole config it would
make: an invalid one is refused with each path, and nothing changes. A
distribution with that id already is refused (409): use \`dist replace\`.
Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat dist create -f shop.yaml --context prod`,
    run: async (args) => (await import("./dist-command.ts")).runDistCreate(args),
  },
  {
    name: "dist replace",
    summary: "replace a distribution with the one in a file, at the version read (or --if-match)",
    help: `moat dist replace -f FILE [--if-match VERSION] [--json] [API flags]

Replaces the distribution whose id FILE names with FILE's (read as \`dist
create\` reads it).
${IF_MATCH_HELP}
Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat dist show shop > shop.yaml && vi shop.yaml && moat dist replace -f shop.yaml --if-match 3`,
    run: async (args) => (await import("./dist-command.ts")).runDistReplace(args),
  },
  {
    name: "dist delete",
    summary: "delete a distribution over the admin API",
    help: `moat dist delete ID [--if-match VERSION] [--json] [API flags]

Deletes the distribution.
${IF_MATCH_HELP}
Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat dist delete blog --if-match 2`,
    run: async (args) => (await import("./dist-command.ts")).runDistDelete(args),
  },
  {
    name: "origin list",
    summary: "list a distribution's origins over the admin API: id, URL, client certificate, trusted CA",
    help: `moat origin list --dist ID [--json] [API flags]

Lists the origins of the distribution: their URL, the client certificate the
edge shows them (moat: issued by Moat's CA; imported; none) and the CA that
verifies them (moat: Moat's bundle). Origins live inside their distribution:
change them with \`moat dist show\`, an edit, and \`moat dist replace\`.

${API_FLAGS_HELP}

Example:
  moat origin list --dist shop --json`,
    run: async (args) => (await import("./origin-command.ts")).runOriginList(args),
  },
  {
    name: "truststore list",
    summary: "list trust stores over the admin API: name, version, CA bundle, CRLs",
    help: `moat truststore list [--json] [API flags]

Lists the trust stores (the CA bundles that verify viewers' certificates, by
name) with their version, CA bundle path and number of CRL files.

${API_FLAGS_HELP}

Example:
  moat truststore list --context prod`,
    run: async (args) => (await import("./truststore-command.ts")).runTrustStoreList(args),
  },
  {
    name: "truststore show",
    summary: "print one trust store as YAML, with its version",
    help: `moat truststore show NAME [--json] [API flags]

Prints the trust store as the config's trustStores.NAME writes it, after a
comment line with its version; --json prints { name, version, revision, document }.

${API_FLAGS_HELP}

Example:
  moat truststore show partners`,
    run: async (args) => (await import("./truststore-command.ts")).runTrustStoreShow(args),
  },
  {
    name: "truststore put",
    summary: "create or replace a trust store from a YAML or JSON file over the admin API",
    help: `moat truststore put NAME -f FILE [--if-match VERSION] [--json] [API flags]

FILE holds the trust store as the config's trustStores.NAME writes it
({ caBundle, crl, allowNoEku }); relative paths are made absolute against
FILE's directory. The files must exist on the edges' hosts. Creates it if
there is none (refused if one appears meanwhile), else replaces it.
${IF_MATCH_HELP}
Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat truststore put partners -f partners.yaml`,
    run: async (args) => (await import("./truststore-command.ts")).runTrustStorePut(args),
  },
  {
    name: "truststore delete",
    summary: "delete a trust store over the admin API (refused while a distribution names it)",
    help: `moat truststore delete NAME [--if-match VERSION] [--json] [API flags]

Deletes the trust store; a distribution that still names it makes the config
invalid, so the API refuses (422, naming the distribution's path).
${IF_MATCH_HELP}
Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat truststore delete partners`,
    run: async (args) => (await import("./truststore-command.ts")).runTrustStoreDelete(args),
  },
  {
    name: "certs show",
    summary: "show one certificate over the admin API: names, SPIFFE ID, issuer, validity, fingerprint, state, where used",
    help: `moat certs show SERIAL [--json] [API flags]

Prints the certificate's public parts (never a key): serial, use, name,
source, state, names, SPIFFE ID, issuer, validity, SHA-256 fingerprint and
where Moat uses it. SERIAL is hex, with or without colons, as \`moat certs
list\` or \`openssl x509 -noout -serial\` prints it. --json prints the API's answer.

${API_FLAGS_HELP}

Example:
  moat certs show 4a0b9c1d2e3f --context prod`,
    run: async (args) => (await import("./certs-api-command.ts")).runCertsShow(args),
  },
  {
    name: "certs import",
    summary: "import a certificate from another CA (PEM chain and key) over the admin API",
    help: `moat certs import NAME --use viewer-server|origin-client --chain FILE --private-key FILE
                  [--passphrase-file FILE] [--distribution ID] [--json] [API flags]

Sends the PEM chain (the certificate first, then its intermediates) and its
private key (PKCS#8, PKCS#1 or SEC1; an encrypted PKCS#8 with the passphrase
in --passphrase-file) to the API, which checks them as a TLS peer would (key
matches, chain links, usage, validity; with --distribution, that the names
cover its aliases) and stores the key sealed under its master key. A refusal
names the check, on one line, and stores nothing. The key is never printed
and never answered. A distribution serves it with viewerCertificate (or an
origin's mtls.clientCertificate) { imported: NAME }; importing again under
NAME replaces it where it is used. A PKCS#12 file is not taken: convert it
with \`openssl pkcs12 -in f.p12 -nokeys\` and \`-nocerts\` first.
Needs the admin role.

${API_FLAGS_HELP}

Example:
  moat certs import shop-ev --use viewer-server --chain shop-ev.pem --private-key shop-ev.key --distribution shop`,
    run: async (args) => (await import("./certs-api-command.ts")).runCertsImport(args),
  },
  {
    name: "certs rotate",
    summary: "replace a certificate Moat issued, now, and wait until the edge has a new one in its place",
    help: `moat certs rotate SERIAL [--wait 60s | --no-wait] [--json] [API flags]

Asks the running edge to re-issue the certificate (a viewer certificate or an
origin client certificate Moat issued and uses), then waits until the API
lists another certificate active in its place (same use and name), printing
each change of state on stderr. Past --wait it exits 1 naming where it is:
the request stands. --no-wait returns once asked. Asking twice is one request.
Imported certificates and the CA's own are refused (409): import a renewed
one, or use \`moat ca renew-intermediate\`. Needs the operator role.

${API_FLAGS_HELP}

Example:
  moat certs rotate 4a0b9c1d2e3f --wait 2m`,
    run: async (args) => (await import("./certs-api-command.ts")).runCertsRotate(args),
  },
  {
    name: "certs revoke",
    summary: "revoke a certificate over the admin API and publish a fresh CRL",
    help: `moat certs revoke SERIAL --reason REASON [--json] [API flags]

Revokes the certificate (final: revoking it again changes nothing) and
publishes a fresh CRL at once; a running edge replaces it if it is in use.
REASON is one of unspecified, keyCompromise, cACompromise, affiliationChanged,
superseded, cessationOfOperation (RFC 5280). Origins refuse it once they load
the new CRL (\`moat ca crl\`). \`moat ca revoke\` does the same on a data
directory. Needs the admin role.

${API_FLAGS_HELP}

Example:
  moat certs revoke 4a0b9c1d2e3f --reason keyCompromise --context prod`,
    run: async (args) => (await import("./certs-api-command.ts")).runCertsRevoke(args),
  },
  {
    name: "invalidations list",
    summary: "list cache invalidations over the admin API, newest first: paths, who, when, which edges applied each",
    help: `moat invalidations list [--distribution ID] [--limit 20] [--before ID] [--json] [API flags]

Lists the cache invalidations in the API's store, newest first: id, distribution,
when and by whom it was recorded, where the edges are with it, and its paths.
EDGES reads applied (2/2) once every live edge (a heartbeat within 3 of its
intervals) has applied it on every worker; pending (1/2; waiting for edge-b)
names the others; a silent edge is named "not waited for: edge-c (silent since
…)", as it applies every invalidation when it comes back. --distribution keeps one distribution's. --limit shows at most that many
(1 to 500); when there are older ones the last line says so, and --before ID
shows those older than ID. --json prints the items as the API answers them.
\`moat cache invalidate\` records one; \`moat invalidations show ID\` details one.

${API_FLAGS_HELP}

Examples:
  moat invalidations list --distribution shop --limit 5 --context prod
  moat invalidations list --before 120 --json`,
    run: async (args) => (await import("./invalidations-command.ts")).runInvalidationsList(args),
  },
  {
    name: "invalidations show",
    summary: "show one cache invalidation over the admin API and when each edge applied it",
    help: `moat invalidations show ID [--json] [API flags]

Prints the invalidation: distribution, paths, when and by whom it was
recorded, whether every live edge has applied it, and each edge with the time
it applied it (or pending; a silent edge that has not: not waited for, silent
since its last heartbeat). ID is its number, as \`moat cache invalidate\` prints
it (12, or #12). --json prints the API's answer.

${API_FLAGS_HELP}

Example:
  moat invalidations show 12 --context prod`,
    run: async (args) => (await import("./invalidations-command.ts")).runInvalidationsShow(args),
  },
  {
    name: "edge list",
    summary: "list the edges run from the admin API's store: region, revision served, how far behind, last heartbeat, health",
    help: `moat edge list [--max-lag 30s] [--json] [API flags]

Lists every edge that runs (or ran) from the API's store, by name: its region
(\`moat start --region\`), the revision it serves, how far behind the newest it
is (revisions, and for how long: since the first revision it lacks was
committed), the age of its last heartbeat, and its health:
  ok      it reports, and serves the newest revision (or has for less than the lag)
  behind  it serves an older revision, the first it lacks committed over
          --max-lag ago (default 30s)
  stopped it stopped cleanly (SIGTERM) and said so; invalidations do not wait
          for it; its next start clears it
  silent  no heartbeat for 3 of its heartbeat intervals (30 s by default):
          killed, or cut off from the store; invalidations do not wait for it
  gone    no heartbeat for 24 h
JOINED says how it gets its certificates: joined (moat edge join: the CA node
signs its CSRs, it holds no master key) or self-issuing (it signs them with
the CA's keys in its data directory). The last line names the newest revision
and when it was committed. --json
prints the API's answer (GET /edges). The exit code is 0 whatever the health:
read it from the JSON in a check.

${API_FLAGS_HELP}

Examples:
  moat edge list --context prod
  moat edge list --max-lag 2m --json`,
    run: async (args) => (await import("./edge-command.ts")).runEdgeList(args),
  },
  {
    name: "edge token create",
    summary: "create a one-time token an edge joins the fleet with (printed once; only its SHA-256 is stored)",
    help: `moat edge token create --name NAME [--region NAME] [--ttl 1h] [API flags]

Creates a join token over the admin API (an admin's token or certificate) and
prints it, alone, on stdout: it is shown this once, and the store keeps only
its SHA-256, its expiry and when it was used. An edge joins with it once
(\`moat edge join --token …\`) under --name (1 to 63 letters, digits, '.', '_'
or '-'), recorded in --region. --ttl (default 1h, at most 7d) is how long it
can be used; a second use, or one after it expired, is refused.

${API_FLAGS_HELP}

Example:
  moat edge token create --name fra-1 --region eu-central --context prod > fra-1.join`,
    run: async (args) => (await import("./edge-command.ts")).runEdgeTokenCreate(args),
  },
  {
    name: "edge token list",
    summary: "list the join tokens: edge name, region, state (usable, used, revoked, expired), times; never a secret",
    help: `moat edge token list [--json] [API flags]

Lists every join token over the admin API (an admin's token or certificate),
oldest first: its id, the edge name and region it was made for, its state
  usable   it can join its edge, once
  used     an edge joined with it (USED says when)
  revoked  an admin revoked it before it was used (moat edge token revoke)
  expired  its --ttl passed, unused
and when it was created, expires, was used or revoked. The secret is not
stored (only its SHA-256) and never shown again. --json prints the API's
answer (GET /edges/join-tokens).

${API_FLAGS_HELP}

Example:
  moat edge token list --context prod`,
    run: async (args) => (await import("./edge-command.ts")).runEdgeTokenList(args),
  },
  {
    name: "edge token revoke",
    summary: "revoke an unused join token: it joins nobody from now on (audited)",
    help: `moat edge token revoke ID [--json] [API flags]

Revokes the join token with this id (\`moat edge token list\` shows them;
\`moat edge token create\` printed it on stderr) over the admin API: a join
with it is refused from now on (join-token-revoked). Revoking it again changes
nothing; a token an edge has used is refused (join-token-used-already): the
join happened, and the token joins nobody again anyway. Recorded in the audit
trail (edge.join-token-revoke).

${API_FLAGS_HELP}

Example:
  moat edge token revoke 5c0f3a9e1b2d4c6f --context prod`,
    run: async (args) => (await import("./edge-command.ts")).runEdgeTokenRevoke(args),
  },
  {
    name: "edge join",
    summary: "join this host to a fleet as an edge that holds no master key: its own keys, CSRs to the CA node",
    help: `moat edge join --store postgres://… (--token TOKEN | --token-file FILE) --data-dir DIR
               --key-file FILE [--name NAME] [--region NAME]

Spends a one-time join token (\`moat edge token create\`; MOAT_JOIN_TOKEN also
gives it) in the fleet's PostgreSQL store, and makes DIR a joined edge's data
directory: the CA's public certificates (ca/bundle.pem, ca/intermediate.pem),
and edge/joined.json (its name, region and store). --key-file (else
MOAT_MASTER_KEY_FILE) is the edge's own sealing key, created (0600) if it does
not exist, outside DIR: it seals the private keys the edge makes. It is not the
fleet's master key, which stays on the CA node with the CA's keys.

Then \`MOAT_DATA_DIR=DIR MOAT_MASTER_KEY_FILE=FILE moat start --store …\` runs it:
it makes each private key itself and sends only a CSR through the store; the
CA node (\`moat start --store … --ca\`) signs what the config entitles the edge to
(its distributions' aliases, its origins' identities) and refuses the rest.
No private key leaves the host. The CA node must have run once (it publishes
the CA's certificates) before an edge can join. --name, when given, must be
the token's; --region overrides the token's. A refused token (malformed,
unknown, used, expired) changes nothing.

Example:
  moat edge join --store postgres://moat@db.internal/moat --token-file fra-1.join \\
    --data-dir /var/lib/moat --key-file /etc/moat/edge.key`,
    run: async (args) => (await import("../local/edge-join-command.ts")).runEdgeJoin(args),
  },
  {
    name: "revisions",
    summary: "list the config's revisions over the admin API: number, time, who, what changed",
    help: `moat revisions [--limit 20] [--json] [API flags]

Lists the newest revisions first (at most 500): number, time (UTC), actor
(api:token/<id>, api:certificate/<name>, cli:<user>) and what changed.
\`moat store log\` prints the same, from the store or over the API.

${API_FLAGS_HELP}

Example:
  moat revisions --limit 5 --context prod`,
    run: async (args) => (await import("./revisions-command.ts")).runRevisions(args),
  },
  {
    name: "context set",
    summary: "save a named admin API connection (URL, CA bundle, token file or certificate)",
    help: `moat context set NAME [--api URL] [--api-ca FILE] [--token-file FILE | --cert FILE --key FILE] [--use]

Saves (or updates) a context in the contexts file: $MOAT_CONTEXTS, else
$XDG_CONFIG_HOME/moat/contexts.yaml, else ~/.config/moat/contexts.yaml,
written whole with mode 0600. It names files (made absolute), never a
token itself. The first context saved, or one given --use, becomes the
current one. Commands over the API take their settings from the flags,
then the environment, then the context.

Example:
  moat context set prod --api https://moat.internal:8444 --api-ca moat-ca.pem --token-file ~/.moat/prod.token --use`,
    run: async (args) => (await import("./context-command.ts")).runContextSet(args),
  },
  {
    name: "context use",
    summary: "make a saved context the current one",
    help: `moat context use NAME

Makes NAME the current context: the commands over the admin API use it when
neither --context nor MOAT_CONTEXT names another.

Example:
  moat context use staging`,
    run: async (args) => (await import("./context-command.ts")).runContextUse(args),
  },
  {
    name: "context list",
    summary: "list the saved contexts; * marks the current one",
    help: `moat context list [--json]

Lists the contexts of the contexts file: name, API URL, CA bundle and the
credentials' file.

Example:
  moat context list`,
    run: async (args) => (await import("./context-command.ts")).runContextList(args),
  },
  {
    name: "context delete",
    summary: "delete a saved context",
    help: `moat context delete NAME

Removes NAME from the contexts file (the files it names are left alone).

Example:
  moat context delete staging`,
    run: async (args) => (await import("./context-command.ts")).runContextDelete(args),
  },
];
