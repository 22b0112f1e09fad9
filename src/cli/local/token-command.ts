// `moat token create|list|revoke`: API tokens, straight in the store with --store (what an admin needs before the API has any token), else over the admin API.
import { parseDuration } from "../../config/index.ts";
import { storeDocumentValidator } from "../../control/index.ts";
import { CliUsageError } from "../../errors.ts";
import { API_ROLES, openStore } from "../../store/index.ts";
import type { ApiRole, Store, TokenRecord } from "../../store/index.ts";
import { API_FLAGS, withApi } from "../over-api/api-connection.ts";
import type { ApiFlagValues } from "../over-api/api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { formatTable } from "../table-output.ts";

const MAX_LIFETIME_MS = 366 * 86_400_000;

/** --store: the store itself; otherwise the admin API (--api, MOAT_API or a context). */
async function withTokens<T>(command: string, values: ApiFlagValues & { store?: string | undefined }, inStore: (store: Store) => Promise<T>, overApi: Parameters<typeof withApi<T>>[2]): Promise<T> {
  if (values.store) return withStore(values.store, inStore);
  return withApi(command, values, overApi, "give --store ADDRESS (the store itself) or --api URL (the admin API; or MOAT_API, or a context: `moat context set`)");
}

async function withStore<T>(address: string, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ address, validate: storeDocumentValidator });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

function userName(): string {
  return process.env.USER ?? process.env.LOGNAME ?? "unknown";
}

export async function runTokenCreate(args: string[]): Promise<number> {
  const { values } = parseCliArgs("token create", args, {
    role: { type: "string" },
    name: { type: "string" },
    "expires-in": { type: "string", default: "90d" },
    store: { type: "string" },
    ...API_FLAGS,
  });
  const role = values.role;
  if (!role || !(API_ROLES as readonly string[]).includes(role)) throw new CliUsageError(`token create: --role must be one of ${API_ROLES.join(", ")}${role ? ` (got ${role})` : ""}.`);
  if (!values.name || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(values.name)) {
    throw new CliUsageError("token create: --name NAME is required: 1-63 lowercase letters, digits or hyphens (what the token is for: lists and logs show it).");
  }
  let lifetimeMs: number;
  try {
    lifetimeMs = parseDuration(values["expires-in"] ?? "90d");
  } catch (error) {
    throw new CliUsageError(`token create: --expires-in: ${(error as Error).message}`);
  }
  if (lifetimeMs <= 0 || lifetimeMs > MAX_LIFETIME_MS) throw new CliUsageError("token create: --expires-in must be more than 0 and at most 366d.");
  const name = values.name;
  const expiresIn = values["expires-in"] ?? "90d";
  const { secret, token } = await withTokens(
    "token create",
    values,
    (store) => {
      const now = new Date();
      return store.tokens.create({ name, role: role as ApiRole, expiresAt: new Date(now.getTime() + lifetimeMs), createdBy: `cli:${userName()}`, now });
    },
    async (moat) => (await moat.POST("/tokens", { body: { name, role: role as ApiRole, expiresIn } })).data as { secret: string; token: TokenRecord },
  );
  // The secret alone on stdout (TOKEN=$(moat token create …)); everything else on stderr.
  process.stderr.write(`Created token ${token.id} (${token.name}, role ${token.role}), expiring ${token.expiresAt}. It is shown once: only its SHA-256 is stored.\n`);
  process.stdout.write(`${secret}\n`);
  return 0;
}

function printTable(tokens: readonly TokenRecord[]): void {
  const rows = tokens.map((token) => [token.id, token.name, token.role, token.createdAt, token.expiresAt, token.lastUsedAt ?? "-", token.revokedAt ?? "-"]);
  process.stdout.write(formatTable(["ID", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED", "REVOKED"], rows));
}

export async function runTokenList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("token list", args, { store: { type: "string" }, json: { type: "boolean", default: false }, ...API_FLAGS });
  const tokens = await withTokens(
    "token list",
    values,
    (store) => store.tokens.list(),
    async (moat) => ((await moat.GET("/tokens")).data?.items ?? []) as TokenRecord[],
  );
  if (values.json) process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
  else printTable(tokens);
  return 0;
}

export async function runTokenRevoke(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("token revoke", args, { store: { type: "string" }, ...API_FLAGS }, true);
  const [id, ...rest] = positionals;
  if (!id || rest.length > 0) throw new CliUsageError("token revoke: give exactly one token ID (`moat token list` shows them).");
  const token = await withTokens(
    "token revoke",
    values,
    (store) => store.tokens.revoke(id, new Date(), `cli:${userName()}`),
    async (moat) => (await moat.DELETE("/tokens/{id}", { params: { path: { id } } })).data as TokenRecord,
  );
  if (!token) throw new CliUsageError(`token revoke: there is no token ${id} in the store.`, { fix: "run `moat token list --store …` for the ids" });
  process.stdout.write(`Token ${token.id} (${token.name}) is revoked since ${token.revokedAt}.\n`);
  return 0;
}
