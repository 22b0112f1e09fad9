// Opens a store by its address, brings its schema up to this code's migrations, and refuses one a newer Moat has migrated.
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { sql } from "kysely";
import type { Kysely } from "kysely";
import { DEFAULT_MIGRATION_TABLE, Migrator } from "kysely/migration";
import { StoreNewerThanCodeError, StoreUnavailableError } from "../errors.ts";
import { createAuditLog } from "./audit-log.ts";
import type { AuditLog } from "./audit-log.ts";
import { createConfigStore } from "./config-store.ts";
import type { ConfigStore, DocumentValidator } from "./config-store.ts";
import { MIGRATIONS } from "./migrations.ts";
import { openPostgresEngine, postgresLabel } from "./postgres-engine.ts";
import { openSqliteEngine } from "./sqlite-engine.ts";
import type { StoreTables } from "./tables.ts";
import { createInvalidationStore } from "./invalidation-store.ts";
import type { InvalidationStore } from "./invalidation-store.ts";
import { createEdgeStore } from "./edge-store.ts";
import type { EdgeStore } from "./edge-store.ts";
import { listenForChanges, noChangeSignals, postgresNotifier, silentNotifier } from "./revision-notifications.ts";
import type { ChangeSignalOptions, ChangeSignals } from "./revision-notifications.ts";
import { createTokenStore } from "./token-store.ts";
import { createCertificateStore } from "./certificate-store.ts";
import type { CertificateStore } from "./certificate-store.ts";
import type { TokenStore } from "./token-store.ts";
import { createJoinStore } from "./join-store.ts";
import type { JoinStore } from "./join-store.ts";
import { createCertificateRequestStore } from "./certificate-request-store.ts";
import type { CertificateRequestStore } from "./certificate-request-store.ts";

export interface OpenStoreOptions {
  /** `postgres://…` (or `postgresql://…`) for PostgreSQL; `sqlite:<path>` or a plain path for SQLite. */
  address: string;
  /** Checks a whole config document (the config loader's own validation: see src/config). */
  validate: DocumentValidator;
}

export type StoreEngine = "sqlite" | "postgres";

/** The SQLite file of a store named by its data directory (`moat start --store /var/lib/moat`). */
export const SQLITE_STORE_FILE = "moat.db";

/** An open store: the config resources, the API tokens, cache invalidations, edges and certificate records beside them, and the audit trail of changes to them. */
export type Store = ConfigStore & {
  readonly engine: StoreEngine;
  readonly tokens: TokenStore;
  readonly audit: AuditLog;
  readonly invalidations: InvalidationStore;
  readonly edges: EdgeStore;
  readonly certificates: CertificateStore;
  /** Join tokens and the edges that joined with one (no master key on them). */
  readonly joins: JoinStore;
  /** Joined edges' CSRs, the CA node's answers, and the CA's public certificates it publishes. */
  readonly certificateRequests: CertificateRequestStore;
  /** Signals of committed changes as they commit (PostgreSQL's LISTEN, on a connection of its own); on SQLite a stream that is never live. */
  changeSignals(options: ChangeSignalOptions): ChangeSignals;
};

/**
 * Which engine an address names, and how messages name it. A plain path to an existing directory is a data
 * directory: the store is its moat.db, and `dataDir` says which directory it was.
 */
export function parseStoreAddress(address: string): { engine: StoreEngine; target: string; label: string; dataDir?: string } {
  if (/^postgres(ql)?:\/\//i.test(address)) return { engine: "postgres", target: address, label: postgresLabel(address) };
  const path = resolve(address.replace(/^sqlite:/i, ""));
  if (isDirectory(path)) {
    const file = join(path, SQLITE_STORE_FILE);
    return { engine: "sqlite", target: file, label: `sqlite:${file}`, dataDir: path };
  }
  return { engine: "sqlite", target: path, label: `sqlite:${path}` };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Opens, migrates and returns the store; closes what it opened if any step fails. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { engine, target, label } = parseStoreAddress(options.address);
  const db = engine === "postgres" ? openPostgresEngine(target) : openSqliteEngine(target);
  try {
    await migrate(db, label);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  const notify = engine === "postgres" ? postgresNotifier : silentNotifier;
  return Object.freeze({
    ...createConfigStore(db, label, options.validate, notify),
    engine,
    tokens: createTokenStore(db, label),
    audit: createAuditLog(db, label),
    invalidations: createInvalidationStore(db, label, notify),
    edges: createEdgeStore(db),
    certificates: createCertificateStore(db, label),
    joins: createJoinStore(db, label),
    certificateRequests: createCertificateRequestStore(db, notify),
    changeSignals: (signalOptions: ChangeSignalOptions) => (engine === "postgres" ? listenForChanges(target, signalOptions) : noChangeSignals()),
  });
}

async function migrate(db: Kysely<StoreTables>, label: string): Promise<void> {
  const applied = await appliedMigrations(db, label);
  const unknown = applied.filter((name) => !(name in MIGRATIONS));
  if (unknown.length > 0) throw new StoreNewerThanCodeError(label, unknown);
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === "Error")?.migrationName ?? "(before any migration)";
    throw new StoreUnavailableError(label, `migration ${failed} failed: ${(error as Error).message ?? String(error)}`, {
      fix: "nothing of that migration was kept (each runs in a transaction); fix the cause the message names and start again",
      cause: error,
    });
  }
}

/** The names in Kysely's migration table; none for a new store. Also the first query: a store that cannot be reached fails here. */
async function appliedMigrations(db: Kysely<StoreTables>, label: string): Promise<string[]> {
  try {
    const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
    if (!tables.some((table) => table.name === DEFAULT_MIGRATION_TABLE)) return [];
    const rows = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db);
    return rows.rows.map((row) => row.name);
  } catch (error) {
    throw new StoreUnavailableError(label, (error as Error).message, {
      fix: "check the address, that the server is running and reachable, and the user's password and rights",
      cause: error,
    });
  }
}
