// Change signals from the store: PostgreSQL NOTIFY sent inside each committing transaction, heard on one dedicated LISTEN connection that reconnects with backoff; SQLite has none (its edge polls).
import { sql } from "kysely";
import type { Transaction } from "kysely";
import pg from "pg";
import { POSTGRES_TIMEOUTS } from "./postgres-engine.ts";
import type { StoreTables } from "./tables.ts";

/** The one channel: a JSON payload says what changed. NOTIFY is delivered at commit, so a listener never hears of data it cannot read yet. */
export const CHANGE_CHANNEL = "moat_changes";

/** What a commit announces: a new revision of the config, a new cache invalidation, or a joined edge's new certificate request (for the CA node). */
export type StoreChange = { kind: "revision"; revision: number } | { kind: "invalidation"; seq: number } | { kind: "certificate-request"; id: string };

/**
 * What a listener hears: a change, or `listening` once its connection is (again) listening. Notifications sent while
 * it was not are lost, so `listening` means "read what the store holds now".
 */
export type ChangeSignal = StoreChange | { kind: "listening" };

/** Announces a change from inside the transaction that commits it (nothing on SQLite). */
export type ChangeNotifier = (trx: Transaction<StoreTables>, change: StoreChange) => Promise<void>;

export const postgresNotifier: ChangeNotifier = async (trx, change) => {
  await sql`select pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(change)})`.execute(trx);
};

export const silentNotifier: ChangeNotifier = async () => {};

export interface ChangeSignalOptions {
  onSignal(signal: ChangeSignal): void;
  /** The listening connection was lost (it reconnects by itself): until `listening` again, only a poll sees changes. */
  onLost?(error: Error): void;
}

/** A stream of change signals; `isLive()` is false while nothing would be heard (always, on SQLite). */
export interface ChangeSignals {
  isLive(): boolean;
  close(): Promise<void>;
}

export const LISTENER_DEFAULTS = Object.freeze({
  /** First reconnect after a loss; doubles each failed attempt up to `maxBackoffMs`. */
  baseBackoffMs: 500,
  maxBackoffMs: 10_000,
  /** A query on the listening connection this often: a server gone silent (no RST, no FIN) is found within ping + query timeout. */
  pingMs: 15_000,
  pingDeadlineMs: 5_000,
  /** TCP keepalive from this much idle time: the kernel finds a dead peer even between pings. */
  keepAliveInitialDelayMs: 10_000,
});

/**
 * The wait before retry number `attempt` (0 first): exponential, bounded by `maxMs`, with jitter in its upper half so
 * that a fleet that lost its database at one instant does not reconnect at one instant.
 */
export function backoffDelay(attempt: number, policy: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function parseChange(payload: string | undefined): StoreChange | undefined {
  try {
    const change = JSON.parse(payload ?? "") as Partial<{ kind: string; revision: unknown; seq: unknown; id: unknown }>;
    if (change.kind === "revision" && Number.isInteger(change.revision)) return { kind: "revision", revision: change.revision as number };
    if (change.kind === "invalidation" && Number.isInteger(change.seq)) return { kind: "invalidation", seq: change.seq as number };
    if (change.kind === "certificate-request" && typeof change.id === "string" && /^[0-9a-f]{32}$/.test(change.id)) return { kind: "certificate-request", id: change.id };
  } catch {
    // Not ours (anyone with the right may NOTIFY the channel): ignored, the poll is the authority.
  }
  return undefined;
}

/** SQLite's: no push; the edge's poll is all there is (one host, one file). */
export function noChangeSignals(): ChangeSignals {
  return { isLive: () => false, close: async () => {} };
}

/**
 * LISTENs on its own pg.Client (not the pool's: a pooled connection is handed to others and LISTEN belongs to a
 * session). A lost connection is retried with backoff and jitter, LISTENs again, and says `listening` so the caller
 * catches up on what it missed.
 */
export function listenForChanges(url: string, options: ChangeSignalOptions, timing: Partial<typeof LISTENER_DEFAULTS> = {}): ChangeSignals {
  const settings = { ...LISTENER_DEFAULTS, ...timing };
  let client: pg.Client | undefined;
  let isLive = false;
  let isClosed = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;

  function scheduleConnect(): void {
    if (isClosed) return;
    retry = setTimeout(() => void connect(), backoffDelay(attempt++, { baseMs: settings.baseBackoffMs, maxMs: settings.maxBackoffMs }));
  }

  async function connect(): Promise<void> {
    if (isClosed) return;
    const connection = new pg.Client({
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: settings.keepAliveInitialDelayMs,
      connectionTimeoutMillis: POSTGRES_TIMEOUTS.connectMs,
      query_timeout: settings.pingDeadlineMs,
      application_name: "moat-listener",
    });
    client = connection;
    let isDropped = false;
    const drop = (error: Error) => {
      if (isDropped) return;
      isDropped = true;
      clearInterval(ping);
      const wasLive = isLive;
      isLive = false;
      connection.end().catch(() => undefined);
      if (isClosed) return;
      if (wasLive) options.onLost?.(error);
      scheduleConnect();
    };
    connection.on("error", drop);
    connection.on("end", () => drop(new Error("the server closed the listening connection")));
    connection.on("notification", (message) => {
      if (message.channel !== CHANGE_CHANNEL) return;
      const change = parseChange(message.payload);
      if (change) options.onSignal(change);
    });
    try {
      await connection.connect();
      await connection.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      drop(error as Error);
      return;
    }
    if (isClosed || isDropped) return void connection.end().catch(() => undefined);
    attempt = 0;
    isLive = true;
    ping = setInterval(() => void connection.query("select 1").catch((error: Error) => drop(error)), settings.pingMs);
    options.onSignal({ kind: "listening" });
  }

  void connect();
  return {
    isLive: () => isLive,
    async close() {
      isClosed = true;
      isLive = false;
      clearTimeout(retry);
      clearInterval(ping);
      await client?.end().catch(() => undefined);
    },
  };
}
