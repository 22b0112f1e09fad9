// Edges joining the fleet: one-time join tokens (kept as the SHA-256 of their secret), spent in the transaction that records the edge as joined.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { JoinTokenNotRevocableError, JoinTokenRefusedError } from "../errors.ts";
import { appendAuditRecords, lockForWrite } from "./audit-log.ts";
import type { EdgeJoinTokensTable, JoinedEdgesTable, StoreTables } from "./tables.ts";

/** `moat_join_<16 hex: the id>_<43 base64url: 32 random bytes>`: a prefix secret scanners can find, an id logs can name. */
const JOIN_TOKEN_PATTERN = /^moat_join_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A join token as the API shows it: never the secret, never its hash. */
export interface JoinTokenRecord {
  id: string;
  /** The name the edge joins under. */
  name: string;
  region: string | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  usedAt: string | null;
  /** When an admin revoked it, unused (`moat edge token revoke`); null: never. */
  revokedAt: string | null;
  /** What it can do now: join once (usable), or nothing more (used, revoked, expired). */
  state: JoinTokenState;
}

export type JoinTokenState = "usable" | "used" | "revoked" | "expired";

/** An edge that joined with a token (it holds no master key). */
export interface JoinedEdge {
  name: string;
  region: string | null;
  joinedAt: string;
  tokenId: string;
}

export interface JoinStore {
  /** Makes a token for one edge; `secret` is the only copy there will ever be. */
  createToken(request: { name: string; region: string | null; expiresAt: Date; createdBy: string; now: Date }): Promise<{ secret: string; token: JoinTokenRecord }>;
  /**
   * Spends a token and records its edge as joined, in one transaction: of two joins with one token, one wins and
   * the other is refused. Throws JoinTokenRefusedError (malformed, unknown, used, expired); nothing is written then.
   */
  join(presented: string, now: Date, asked?: { name?: string; region?: string }): Promise<JoinedEdge>;
  /** The edge joined under `name`, if one did. */
  joined(name: string): Promise<JoinedEdge | undefined>;
  /** Every edge that joined, by name. */
  listJoined(): Promise<JoinedEdge[]>;
  /** Every join token, used, revoked and expired ones too, oldest first, with its state at `now`; never a secret or its hash. */
  listTokens(now: Date): Promise<JoinTokenRecord[]>;
  /**
   * Revokes an unused token at `now`, audited (`edge.join-token-revoke`): it joins nobody from then on. A token revoked before
   * keeps its first time and writes no record; undefined when there is no such token. Throws JoinTokenNotRevocableError for one
   * an edge has used: revoking it would change nothing.
   */
  revokeToken(id: string, now: Date, actor: string): Promise<JoinTokenRecord | undefined>;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Used and revoked are for good; an unused token expires by the clock. */
function stateOf(row: Selectable<EdgeJoinTokensTable>, now: Date): JoinTokenState {
  if (row.used_at !== null) return "used";
  if (row.revoked_at !== null) return "revoked";
  return Date.parse(row.expires_at) <= now.getTime() ? "expired" : "usable";
}

function toRecord(row: Selectable<EdgeJoinTokensTable>, now: Date): JoinTokenRecord {
  return { id: row.id, name: row.name, region: row.region, createdAt: row.created_at, createdBy: row.created_by, expiresAt: row.expires_at, usedAt: row.used_at, revokedAt: row.revoked_at, state: stateOf(row, now) };
}

// Only the columns a record shows: the hash is never read where a listing could carry it.
const SHOWN = ["id", "name", "region", "created_at", "created_by", "expires_at", "used_at", "revoked_at"] as const;

function toJoined(row: Selectable<JoinedEdgesTable>): JoinedEdge {
  return { name: row.name, region: row.region, joinedAt: row.joined_at, tokenId: row.token_id };
}

/** `label` names the store in the audit trail's errors. */
export function createJoinStore(db: Kysely<StoreTables>, label: string): JoinStore {
  return {
    async createToken(request) {
      const id = randomBytes(8).toString("hex");
      const secret = `moat_join_${id}_${randomBytes(32).toString("base64url")}`;
      const row = {
        id,
        name: request.name,
        region: request.region,
        secret_sha256: sha256Hex(secret),
        created_at: request.now.toISOString(),
        created_by: request.createdBy,
        expires_at: request.expiresAt.toISOString(),
        used_at: null,
        revoked_at: null,
      };
      const token = toRecord(row, request.now);
      await db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        await trx.insertInto("edge_join_tokens").values(row).execute();
        await appendAuditRecords(trx, [{ actor: request.createdBy, action: "edge.join-token", resource: `edge/${request.name}`, after: token }], request.now, label);
      });
      return { secret, token };
    },
    async join(presented, now, asked = {}) {
      const id = JOIN_TOKEN_PATTERN.exec(presented)?.[1];
      if (id === undefined) throw new JoinTokenRefusedError("join-token-malformed", { fix: "copy the token exactly as `moat edge token create` printed it" });
      return db.transaction().execute(async (trx) => {
        // Under the write lock: a second join with the same token waits, then reads it used.
        await lockForWrite(trx);
        const row = await trx.selectFrom("edge_join_tokens").selectAll().where("id", "=", id).executeTakeFirst();
        // Compared in constant time: how much of the hash matched must not show in how long the refusal took.
        const isMatch = row !== undefined && timingSafeEqual(Buffer.from(sha256Hex(presented), "hex"), Buffer.from(row.secret_sha256, "hex"));
        if (!row || !isMatch) throw new JoinTokenRefusedError("join-token-unknown", { tokenId: id, fix: "check that --store names the fleet's store, or create a new token (`moat edge token create --name NAME`)" });
        if (row.revoked_at !== null) throw new JoinTokenRefusedError("join-token-revoked", { tokenId: id, at: row.revoked_at, fix: "ask an admin for a new one (`moat edge token create --name NAME`)" });
        if (row.used_at !== null) throw new JoinTokenRefusedError("join-token-used", { tokenId: id, at: row.used_at, fix: "create a new one for this edge (`moat edge token create --name NAME`); an edge that joined needs no second join" });
        if (Date.parse(row.expires_at) <= now.getTime()) throw new JoinTokenRefusedError("join-token-expired", { tokenId: id, at: row.expires_at, fix: "create a new one (`moat edge token create --name NAME --ttl 1h`) and join within its time" });
        // Checked before the token is spent: a wrong --name leaves the token good for the right edge.
        if (asked.name !== undefined && asked.name !== row.name) throw new JoinTokenRefusedError("join-token-other-name", { tokenId: id, name: row.name, fix: "drop --name (the edge joins under the token's name), or create a token for this name; the token is still good for its own" });
        const at = now.toISOString();
        await trx.updateTable("edge_join_tokens").set({ used_at: at }).where("id", "=", id).execute();
        const region = asked.region ?? row.region;
        const edge = { name: row.name, region, joined_at: at, token_id: id };
        // A name joins again with a new token (a rebuilt host): its row is replaced.
        await trx.insertInto("joined_edges").values(edge).onConflict((conflict) => conflict.column("name").doUpdateSet({ region: edge.region, joined_at: at, token_id: id })).execute();
        const joined: JoinedEdge = { name: row.name, region, joinedAt: at, tokenId: id };
        await appendAuditRecords(trx, [{ actor: `join-token:${id}`, action: "edge.join", resource: `edge/${row.name}`, after: joined }], now, label);
        return joined;
      });
    },
    async joined(name) {
      const row = await db.selectFrom("joined_edges").selectAll().where("name", "=", name).executeTakeFirst();
      return row && toJoined(row);
    },
    async listJoined() {
      return (await db.selectFrom("joined_edges").selectAll().orderBy("name").execute()).map(toJoined);
    },
    async listTokens(now) {
      const rows = await db.selectFrom("edge_join_tokens").select(SHOWN).orderBy("created_at").orderBy("id").execute();
      return rows.map((row) => toRecord({ ...row, secret_sha256: "" }, now));
    },
    async revokeToken(id, now, actor) {
      return db.transaction().execute(async (trx) => {
        await lockForWrite(trx);
        const row = await trx.selectFrom("edge_join_tokens").select(SHOWN).where("id", "=", id).executeTakeFirst();
        if (!row) return undefined;
        const before = toRecord({ ...row, secret_sha256: "" }, now);
        if (row.used_at !== null) throw new JoinTokenNotRevocableError(id, row.name, row.used_at);
        if (row.revoked_at !== null) return before;
        const at = now.toISOString();
        await trx.updateTable("edge_join_tokens").set({ revoked_at: at }).where("id", "=", id).execute();
        const after = toRecord({ ...row, revoked_at: at, secret_sha256: "" }, now);
        await appendAuditRecords(trx, [{ actor, action: "edge.join-token-revoke", resource: `edge/${row.name}`, before, after }], now, label);
        return after;
      });
    },
  };
}
