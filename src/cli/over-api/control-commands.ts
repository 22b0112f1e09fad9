// The `moat` subcommands of the admin API's credentials: admin certificates and API tokens (listed in commands.ts; each loaded only when run).
import type { CliCommand } from "../commands.ts";

export const controlCommands: readonly CliCommand[] = [
  {
    name: "admin issue",
    summary: "issue an admin API client certificate (its role in its SPIFFE ID) from Moat's CA",
    help: `moat admin issue --role viewer|operator|admin --name NAME --out DIR [--validity 30d]
                 [--trust-domain moat.internal] [--data-dir DIR] [--master-key-file FILE]
                 [--store ADDRESS]

Writes DIR/admin-NAME.pem (certificate + intermediate), DIR/admin-NAME.key (mode
0600, not encrypted) and DIR/ca-bundle.pem. The certificate has extended key
usage clientAuth only and one URI SAN, spiffe://<trust domain>/admin/<role>/<name>:
the admin API reads the role from it on every request. --trust-domain must be
the config's pki.trustDomain. Signing needs the master key (--master-key-file,
MOAT_MASTER_KEY or MOAT_MASTER_KEY_FILE). With --store ADDRESS, the issue is
recorded in the store's audit trail (certificate.issue: serial, fingerprint,
names, validity; never the key).

Example:
  moat admin issue --role operator --name alice --out ~/.moat --data-dir /var/lib/moat --store /var/lib/moat`,
    run: async (args) => (await import("../local/admin-command.ts")).runAdminIssue(args),
  },
  {
    name: "token create",
    summary: "create an admin API token (printed once; only its SHA-256 is stored)",
    help: `moat token create --role viewer|operator|admin --name NAME (--store ADDRESS | [API flags]) [--expires-in 90d]

Creates a token and prints it, alone, on stdout: it is shown this once, and
the store keeps only its SHA-256. Send it as Authorization: Bearer <token>.
It lives --expires-in (at most 366d) unless revoked. With --store ADDRESS (a
SQLite file, sqlite:PATH, or postgres://user@host/db) it is made in the store
itself: how the first token is made. Otherwise it is made over the admin API
(--api, MOAT_API or a context; an admin's token or certificate: see \`moat
dist list --help\` for the API flags).

Examples:
  TOKEN=$(moat token create --role viewer --name dashboards --store /var/lib/moat/moat.db)
  moat token create --role operator --name ci-deploy --context prod > ci.token`,
    run: async (args) => (await import("../local/token-command.ts")).runTokenCreate(args),
  },
  {
    name: "token list",
    summary: "list admin API tokens: id, name, role, created, expiry, last use, revocation (never a secret)",
    help: `moat token list (--store ADDRESS | [API flags]) [--json]

Lists every token, revoked and expired ones too, from the store itself or
over the admin API (an admin's credentials). Neither the token nor its hash
is shown: there is nothing to show.

Example:
  moat token list --store /var/lib/moat/moat.db --json`,
    run: async (args) => (await import("../local/token-command.ts")).runTokenList(args),
  },
  {
    name: "token revoke",
    summary: "revoke an admin API token: refused from now on",
    help: `moat token revoke ID (--store ADDRESS | [API flags])

Revokes the token with this id (\`moat token list\` shows them; a token's id is
also the part after moat_ in it), in the store itself or over the admin API.
Revoking it again changes nothing.

Example:
  moat token revoke 3f9c0a1b2c3d4e5f --context prod`,
    run: async (args) => (await import("../local/token-command.ts")).runTokenRevoke(args),
  },
];
