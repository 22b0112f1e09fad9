// API tokens in the store: made here with a random secret that is shown once, kept only as its SHA-256, checked in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { appendAuditRecords, lockForWrite } from "./audit-log.ts";
import type { ApiTokensTable, StoreTables } from "./tables.ts";

/** Who may do what on the admin API, least first: each role may do everything the ones before it may. */
export const API_ROLES = ["viewer", "operator", "admin"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/**
 * `moat_<16 hex: the id>_<43 base64url: 32 random bytes>`. The prefix lets secret scanners find a leaked token;
 * the id lets logs name a token that was refused without the secret.
 */
const TOKEN_PATTERN = /^moat_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

// last_used_at is a write; once a minute per token is precise enough and keeps reads from becoming writes.
const LAST_USED_RESOLUTION_MS = 60_000;

/** A token as lists show it: never the secret, never its hash. */
export interface TokenRecord {
  id: string;
  name: string;
  role: ApiRole;
  /** ISO 8601, UTC, as every time here. */
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export type TokenCheck =
  | { ok: true; token: TokenRecord }
  | { ok: false; reason: "malformed" | "unknown" | "revoked" | "expired"; id?: string };

export interface TokenStore {
  /** Makes a token; `secret` is the only copy there will ever be: give it to its user, then forget it. */
  create(request: { name: string; role: ApiRole; expiresAt: Date; createdBy: string; now: Date }): Promise<{ secret: string; token: TokenRecord }>;
  /** Every token, revoked and expired ones included, oldest first. */
  list(): Promise<TokenRecord[]>;
  get(id: string): Promise<TokenRecord | undefined>;
  /** Revokes a token at `now` (a token revoked before keeps its first time, and no audit record); undefined when there is no such token. */
  revoke(id: string, now: Date, actor: string): Promise<TokenRecord | undefined>;
  /** Checks a presented token and, when it is good, records its use. */
  verify(presented: string, now: Date): Promise<TokenCheck>;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function toRecord(row: Selectable<ApiTokensTable>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as ApiRole,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** A token as the audit trail keeps it: what a list shows, but not its last use (a use is not a change). Never the secret or its hash. */
function audited(token: TokenRecord): Omit<TokenRecord, "lastUsedAt"> {
  const { lastUsedAt: _lastUsedAt, ...kept } = token;
  return kept;
}

/** The id inside a token (for a log line about a refused one), or undefined when it is not shaped like one. */
export function tokenIdOf(presented: string): string | undefined {
  return TOKEN_PATTERN.exec(presented)?.[1];
}

/** `label` names the store in the audit trail's errors. */
export function createTokenStore(db: Kysely<StoreTables>, label: string): TokenStore {
  const columns = ["id", "name", "role", "created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "secret_sha256"] as const;
  const byId = (id: string) => db.selectFrom("api_tokens").select(columns).where("id", "=", id).executeTakeFirst();
  return {
    async create(request) {
      const id = randomBytes(8).toString("hex");
      const secret = `moat_${id}_${randomBytes(32).toString("base64url")}`;
      const row = {
        id,
        name: request.name,
        role: request.role,
        secret_sha256: sha256Hex(secret),
        created_at: request.now.toISOString(),
        created_by: request.createdBy,
        expires_at: request.expiresAt.toISOString(),
        last_used_at: null,
        revoked_at: null,
      };
      const token = toRecord(row);
      await db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        await trx.insertInto("api_tokens").values(row).execute();
        await appendAuditRecords(trx, [{ actor: request.createdBy, action: "token.create", resource: `token/${id}`, after: audited(token) }], request.now, label);
      });
      return { secret, token };
    },
    async list() {
      const rows = await db.selectFrom("api_tokens").select(columns).orderBy("created_at").orderBy("id").execute();
      return rows.map(toRecord);
    },
    async get(id) {
      const row = await byId(id);
      return row && toRecord(row);
    },
    async revoke(id, now, actor) {
      return db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        const before = await trx.selectFrom("api_tokens").select(columns).where("id", "=", id).executeTakeFirst();
        if (!before) return undefined;
        if (before.revoked_at !== null) return toRecord(before);
        const after = { ...before, revoked_at: now.toISOString() };
        await trx.updateTable("api_tokens").set({ revoked_at: after.revoked_at }).where("id", "=", id).execute();
        await appendAuditRecords(trx, [{ actor, action: "token.revoke", resource: `token/${id}`, before: audited(toRecord(before)), after: audited(toRecord(after)) }], now, label);
        return toRecord(after);
      });
    },
    async verify(presented, now) {
      const id = tokenIdOf(presented);
      if (id === undefined) return { ok: false, reason: "malformed" };
      const row = await byId(id);
      // The hash is compared in constant time: how much of it matched must not show in how long the refusal took.
      const isMatch = row !== undefined && timingSafeEqual(Buffer.from(sha256Hex(presented), "hex"), Buffer.from(row.secret_sha256, "hex"));
      if (!row || !isMatch) return { ok: false, reason: "unknown", id };
      if (row.revoked_at !== null) return { ok: false, reason: "revoked", id };
      if (Date.parse(row.expires_at) <= now.getTime()) return { ok: false, reason: "expired", id };
      if (row.last_used_at === null || now.getTime() - Date.parse(row.last_used_at) >= LAST_USED_RESOLUTION_MS) {
        row.last_used_at = now.toISOString();
        await db.updateTable("api_tokens").set({ last_used_at: row.last_used_at }).where("id", "=", id).execute();
      }
      return { ok: true, token: toRecord(row) };
    },
  };
}
