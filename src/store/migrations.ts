// The store's schema, as versioned migrations both engines run: portable column types only (text, integer).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/** Names sort in the order they run; never rename or edit one that has shipped, add a new one. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  "0001-config-resources": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("revisions")
        .addColumn("revision", "integer", (column) => column.primaryKey())
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("actor", "text", (column) => column.notNull())
        .addColumn("summary", "text", (column) => column.notNull())
        .execute();
      for (const table of ["distributions", "trust_stores", "settings"]) {
        await db.schema
          .createTable(table)
          .addColumn("name", "text", (column) => column.primaryKey())
          .addColumn("document", "text", (column) => column.notNull())
          .addColumn("version", "integer", (column) => column.notNull())
          .addColumn("revision", "integer", (column) => column.notNull().references("revisions.revision"))
          .execute();
      }
      await db.schema
        .createTable("write_lock")
        .addColumn("id", "integer", (column) => column.primaryKey())
        .addColumn("writes", "integer", (column) => column.notNull().defaultTo(0))
        .execute();
      await (db as Kysely<{ write_lock: { id: number } }>).insertInto("write_lock").values({ id: 1 }).execute();
    },
  },
  // API tokens are credentials, not config: no revision, and only the SHA-256 of each secret.
  "0002-api-tokens": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("api_tokens")
        .addColumn("id", "text", (column) => column.primaryKey())
        .addColumn("name", "text", (column) => column.notNull())
        .addColumn("role", "text", (column) => column.notNull())
        .addColumn("secret_sha256", "text", (column) => column.notNull())
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("created_by", "text", (column) => column.notNull())
        .addColumn("expires_at", "text", (column) => column.notNull())
        .addColumn("last_used_at", "text")
        .addColumn("revoked_at", "text")
        .execute();
    },
  },
  // The audit trail: append-only, hash-chained; its head kept beside the write lock and on each revision (see audit-chain.ts).
  "0003-audit-log": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("audit_log")
        .addColumn("seq", "integer", (column) => column.primaryKey())
        .addColumn("at", "text", (column) => column.notNull())
        .addColumn("actor", "text", (column) => column.notNull())
        .addColumn("action", "text", (column) => column.notNull())
        .addColumn("resource", "text", (column) => column.notNull())
        .addColumn("distribution", "text")
        .addColumn("revision", "integer")
        .addColumn("before", "text")
        .addColumn("after", "text")
        .addColumn("prev_hash", "text", (column) => column.notNull())
        .addColumn("hash", "text", (column) => column.notNull())
        .execute();
      for (const column of ["resource", "actor", "action", "distribution"]) {
        await db.schema.createIndex(`audit_log_by_${column}`).on("audit_log").columns([column, "seq"]).execute();
      }
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema.alterTable("write_lock").addColumn("audit_seq", "integer", (column) => column.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("write_lock").addColumn("audit_hash", "text", (column) => column.notNull().defaultTo("0".repeat(64))).execute();
      await db.schema.alterTable("revisions").addColumn("audit_seq", "integer").execute();
      await db.schema.alterTable("revisions").addColumn("audit_hash", "text").execute();
    },
  },
  // Cache invalidations, and which edge applied which when: edges sharing a store all apply them, and their state reads in one place.
  // Numbered 0004: 0003 is the audit trail's. Ids are given under the write lock (max + 1), as revisions are: the same on both engines.
  "0004-invalidations": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("invalidations")
        .addColumn("id", "integer", (column) => column.primaryKey())
        .addColumn("distribution", "text", (column) => column.notNull())
        .addColumn("paths", "text", (column) => column.notNull())
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("actor", "text", (column) => column.notNull())
        .execute();
      await db.schema
        .createTable("invalidation_applied")
        .addColumn("invalidation_id", "integer", (column) => column.notNull().references("invalidations.id"))
        .addColumn("edge", "text", (column) => column.notNull())
        .addColumn("applied_at", "text", (column) => column.notNull())
        .addPrimaryKeyConstraint("invalidation_applied_pk", ["invalidation_id", "edge"])
        .execute();
    },
  },
  // The edges running from the store: which revision each serves since when, and its heartbeat. Self-contained: one table, nothing else touched.
  "0005-edges": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("edges")
        .addColumn("name", "text", (column) => column.primaryKey())
        .addColumn("revision", "integer")
        .addColumn("served_at", "text")
        .addColumn("last_seen_at", "text", (column) => column.notNull())
        .addColumn("started_at", "text", (column) => column.notNull())
        .addColumn("version", "text", (column) => column.notNull())
        .execute();
    },
  },
  // Certificate records: public parts and recorded state of every certificate each edge holds (keys stay sealed in its data directory).
  // The fingerprint names a certificate; `edge` is '' for the CA's own, which edges on one CA share. See certificate-store.ts.
  "0006-certificates": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("certificates")
        .addColumn("fingerprint256", "text", (column) => column.primaryKey())
        .addColumn("serial_hex", "text", (column) => column.notNull())
        .addColumn("edge", "text", (column) => column.notNull())
        .addColumn("use", "text", (column) => column.notNull())
        .addColumn("name", "text", (column) => column.notNull())
        .addColumn("source", "text", (column) => column.notNull())
        .addColumn("state", "text", (column) => column.notNull())
        .addColumn("subject", "text", (column) => column.notNull())
        .addColumn("issuer", "text", (column) => column.notNull())
        .addColumn("sans", "text", (column) => column.notNull())
        .addColumn("certificate_pem", "text", (column) => column.notNull())
        .addColumn("not_before", "text", (column) => column.notNull())
        .addColumn("not_after", "text", (column) => column.notNull())
        .addColumn("revoked_at", "text")
        .addColumn("revocation_reason", "text")
        .addColumn("updated_at", "text", (column) => column.notNull())
        .execute();
      await db.schema.createIndex("certificates_by_serial").on("certificates").columns(["serial_hex"]).execute();
      await db.schema.createIndex("certificates_by_edge").on("certificates").columns(["edge", "use", "name"]).execute();
    },
  },
  // Each edge's region and how often it reports: its health (silent after three missed heartbeats) reads from its own interval.
  // Self-contained: two nullable columns on `edges` (a row written before reads as no region, the default interval).
  "0007-edge-region": {
    async up(db: Kysely<unknown>) {
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema.alterTable("edges").addColumn("region", "text").execute();
      await db.schema.alterTable("edges").addColumn("heartbeat_ms", "integer").execute();
    },
  },
  // What CA each edge trusts and issues from (SHA-256 of its bundle's roots and of its intermediate, as JSON): a root rollover's
  // activation waits for every live edge to trust the new root (ca-trust-gate.ts). Self-contained: one nullable column on `edges`.
  "0008-edge-ca-trust": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("edges").addColumn("ca_trust", "text").execute();
    },
  },
  // Joining edges without the master key (issue 17); validity_ms is a bigint, as a 30-day validity passes 2^31 ms: one-time join tokens (only their SHA-256), the edges that joined,
  // the certificate requests (CSRs) joined edges put here for the CA node to sign or refuse, and the CA's public
  // certificates the CA node publishes for them. Never a private key: a joined edge keeps its keys on its own disk.
  "0009-edge-join": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("edge_join_tokens")
        .addColumn("id", "text", (column) => column.primaryKey())
        .addColumn("name", "text", (column) => column.notNull())
        .addColumn("region", "text")
        .addColumn("secret_sha256", "text", (column) => column.notNull())
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("created_by", "text", (column) => column.notNull())
        .addColumn("expires_at", "text", (column) => column.notNull())
        .addColumn("used_at", "text")
        .execute();
      await db.schema
        .createTable("joined_edges")
        .addColumn("name", "text", (column) => column.primaryKey())
        .addColumn("region", "text")
        .addColumn("joined_at", "text", (column) => column.notNull())
        .addColumn("token_id", "text", (column) => column.notNull())
        .execute();
      await db.schema
        .createTable("certificate_requests")
        .addColumn("id", "text", (column) => column.primaryKey())
        .addColumn("edge", "text", (column) => column.notNull())
        .addColumn("use", "text", (column) => column.notNull())
        .addColumn("subject", "text", (column) => column.notNull())
        .addColumn("validity_ms", "bigint", (column) => column.notNull())
        .addColumn("csr_pem", "text", (column) => column.notNull())
        .addColumn("state", "text", (column) => column.notNull())
        .addColumn("chain_pem", "text")
        .addColumn("reason", "text")
        .addColumn("created_at", "text", (column) => column.notNull())
        .addColumn("decided_at", "text")
        .execute();
      await db.schema.createIndex("certificate_requests_by_state").on("certificate_requests").columns(["state", "created_at"]).execute();
      await db.schema
        .createTable("fleet_ca")
        .addColumn("id", "integer", (column) => column.primaryKey())
        .addColumn("bundle_pem", "text", (column) => column.notNull())
        .addColumn("intermediate_pem", "text", (column) => column.notNull())
        .addColumn("previous_intermediates", "text", (column) => column.notNull())
        .addColumn("key_algorithm", "text", (column) => column.notNull())
        .addColumn("crl_base_url", "text")
        .addColumn("updated_at", "text", (column) => column.notNull())
        .execute();
    },
  },
  // Self-contained, nullable columns (a row written before reads as never revoked, never stopped): a join token an admin
  // revoked before it was used (`DELETE /edges/join-tokens/:id`), and when an edge stopped cleanly (its farewell: invalidations
  // do not wait for it; its next heartbeat clears it).
  "0010-join-token-revocation-edge-stop": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("edge_join_tokens").addColumn("revoked_at", "text").execute();
      await db.schema.alterTable("edges").addColumn("stopped_at", "text").execute();
    },
  },
  // What the CA node revoked, for joined edges (issue 17): the revocation registry (JSON array of { serialHex, reason, revokedAt })
  // and the CRL bundle (PEM) as the CA node last published them, beside the CA's certificates. Self-contained: two nullable columns.
  "0011-fleet-revocations": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("fleet_ca").addColumn("revocations", "text").execute();
      await db.schema.alterTable("fleet_ca").addColumn("crl_bundle_pem", "text").execute();
    },
  },
  // Events that happen once (a certificate issued, rotated in, replaced): the keys the audit trail already holds a
  // record for, written with that record, so a second sync that finds the same event records nothing (audit-log.ts).
  // Outside the hashed records: the encoding stays the same. Filled from the trail so far, first record first.
  "0012-audit-once-keys": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("audit_once_keys")
        .addColumn("key", "text", (column) => column.primaryKey())
        .addColumn("seq", "integer", (column) => column.notNull())
        .execute();
      const typed = db as unknown as Kysely<{ audit_log: { seq: number; action: string; resource: string; before: string | null }; audit_once_keys: { key: string; seq: number } }>;
      const rows = await typed.selectFrom("audit_log").select(["seq", "action", "resource", "before"]).where("action", "in", ["certificate.issue", "certificate.rotate"]).orderBy("seq").execute();
      const keys = new Map<string, number>();
      for (const row of rows) {
        for (const key of certificateOnceKeysOf(row)) if (!keys.has(key)) keys.set(key, Number(row.seq));
      }
      const values = [...keys].map(([key, seq]) => ({ key, seq }));
      for (let i = 0; i < values.length; i += 500) await typed.insertInto("audit_once_keys").values(values.slice(i, i + 500)).execute();
    },
  },
  // Signed audit checkpoints (audit-checkpoints.ts): each signs the trail's head at a point and the checkpoint before it,
  // so a rewrite of the records is found without an external copy. The store's identity is signed into each, so that
  // checkpoints of another store on the same CA cannot stand in. Self-contained: one table, one column filled here.
  "0013-audit-checkpoints": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("audit_checkpoints")
        .addColumn("number", "integer", (column) => column.primaryKey())
        .addColumn("store_id", "text", (column) => column.notNull())
        .addColumn("seq", "integer", (column) => column.notNull())
        .addColumn("hash", "text", (column) => column.notNull())
        .addColumn("at", "text", (column) => column.notNull())
        .addColumn("previous", "text", (column) => column.notNull())
        .addColumn("certificate_pem", "text", (column) => column.notNull())
        .addColumn("signature", "text", (column) => column.notNull())
        .execute();
      await db.schema.alterTable("write_lock").addColumn("store_id", "text").execute();
      await (db as Kysely<{ write_lock: { id: number; store_id: string | null } }>).updateTable("write_lock").set({ store_id: randomUUID() }).where("id", "=", 1).execute();
    },
  },
});

/** The once-keys a certificate record from before 0012 holds: its event, and for a rotation the certificate it replaced. */
function certificateOnceKeysOf(row: { action: string; resource: string; before: string | null }): string[] {
  const serial = row.resource.startsWith("certificate/") ? row.resource.slice("certificate/".length) : undefined;
  if (serial === undefined) return [];
  const keys = [`${row.action}/${serial}`];
  if (row.action === "certificate.rotate" && row.before !== null) {
    try {
      const replaced = (JSON.parse(row.before) as { serialHex?: unknown } | null)?.serialHex;
      if (typeof replaced === "string") keys.push(`certificate.replaced/${replaced}`);
    } catch {
      // An edited record: verify reports it; it holds no key.
    }
  }
  return keys;
}
