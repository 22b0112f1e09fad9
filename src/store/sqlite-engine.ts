// The embedded engine: a SQLite file in the data directory through Node's own node:sqlite (nothing to install).
import { closeSync, openSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { SQLInputValue } from "node:sqlite";
import { Kysely, SqliteDialect } from "kysely";
import type { SqliteDatabase } from "kysely";
import { StoreUnavailableError } from "../errors.ts";
import type { StoreTables } from "./tables.ts";

// How long a write waits for another process's write to finish before it fails (SQLite's busy handler).
const BUSY_TIMEOUT_MS = 5_000;

/**
 * node:sqlite's DatabaseSync in the shape Kysely's SqliteDialect drives (better-sqlite3's): parameters as an
 * array, and `reader` telling a statement that returns rows from one that does not.
 */
function kyselyDatabase(database: DatabaseSync): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare(sql) {
      const statement = database.prepare(sql);
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...(parameters as SQLInputValue[])),
        run: (parameters) => statement.run(...(parameters as SQLInputValue[])),
        iterate: (parameters) => statement.iterate(...(parameters as SQLInputValue[])),
      };
    },
  };
}

/** Opens (creating, 0600) the SQLite store at `path`, in WAL mode so that readers never wait for a writer. */
export function openSqliteEngine(path: string): Kysely<StoreTables> {
  let database: DatabaseSync;
  try {
    // Created here rather than by SQLite so that the file is the owner's alone from its first byte.
    closeSync(openSync(path, "a", 0o600));
    database = new DatabaseSync(path);
    database.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    database.exec("PRAGMA journal_mode = WAL");
    // FULL: a committed revision survives a power cut; config writes are rare, so the extra sync costs nothing.
    database.exec("PRAGMA synchronous = FULL");
    database.exec("PRAGMA foreign_keys = ON");
  } catch (error) {
    throw new StoreUnavailableError(path, (error as Error).message, {
      fix: "check that the directory exists and is writable by this user, and that the file is a Moat store",
      cause: error,
    });
  }
  return new Kysely<StoreTables>({ dialect: new SqliteDialect({ database: kyselyDatabase(database) }) });
}
