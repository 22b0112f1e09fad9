// The fleet engine: PostgreSQL through pg's pool, every wait bounded.
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { StoreTables } from "./tables.ts";

export const POSTGRES_TIMEOUTS = Object.freeze({
  /** A new connection (TCP, TLS, authentication). */
  connectMs: 5_000,
  /** One statement, on the server. */
  statementMs: 10_000,
  /** One query as the client waits for it: past the server's own limit, for a server that stopped answering. */
  queryMs: 15_000,
  /** A transaction left open by a client that went away holds the write lock no longer than this. */
  idleInTransactionMs: 10_000,
});

/** `postgres://user@host:port/db` with the password left out: how messages and logs name a PostgreSQL store. */
export function postgresLabel(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : "";
    return `postgres://${user}${parsed.host}${parsed.pathname}`;
  } catch {
    return "postgres://(an address that is not a URL)";
  }
}

export function openPostgresEngine(url: string): Kysely<StoreTables> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: POSTGRES_TIMEOUTS.connectMs,
    statement_timeout: POSTGRES_TIMEOUTS.statementMs,
    query_timeout: POSTGRES_TIMEOUTS.queryMs,
    idle_in_transaction_session_timeout: POSTGRES_TIMEOUTS.idleInTransactionMs,
    application_name: "moat",
  });
  // An idle connection the server closed must not crash the process; the next query opens another.
  pool.on("error", () => undefined);
  // Nor a connection checked out with no query running (a transaction between two statements, while the server shuts
  // down or kills its backend): pg emits that error on the client, whose idle listener the pool removed when it lent
  // it, and an 'error' event with no listener ends the process. The statement that follows fails and the client is
  // not queryable, so the pool drops it on release.
  pool.on("connect", (client) => client.on("error", () => undefined));
  return new Kysely<StoreTables>({ dialect: new PostgresDialect({ pool }) });
}
