// The store contract on a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port), one database per test.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { StoreUnavailableError } from "../../src/errors.ts";
import { invalidationRequestIssues } from "../../src/cache/index.ts";
import { openStore } from "../../src/store/index.ts";
import { openPostgresEngine } from "../../src/store/postgres-engine.ts";
import { sql } from "kysely";
import type { ChangeSignal } from "../../src/store/index.ts";
import { withDeadline } from "../support/deadline.ts";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../support/postgres-server.ts";
import type { PostgresServer } from "../support/postgres-server.ts";
import { auditCheckpointContract } from "./audit-checkpoint-contract.ts";
import { auditContract } from "./audit-contract.ts";
import { certificateContract } from "./certificate-contract.ts";
import { joinContract } from "./join-contract.ts";
import { distribution, storeContract, validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

describe("PostgreSQL store", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let databases = 0;
  // One cluster for the file; its own database for each test.
  before(async () => {
    server = await startPostgres(findPostgres() as string);
  });
  after(async () => server?.stop());

  const engine: EngineUnderTest = {
    freshAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      const name = `contract_${++databases}`;
      await server.psql(`create database ${name}`);
      return server.url.replace(/\/moat$/, `/${name}`);
    },
    rawExecute: async (address, statement) => {
      const client = new pg.Client({ connectionString: address, connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    },
  };
  storeContract(engine);
  auditContract(engine);
  auditCheckpointContract(engine);
  certificateContract(engine);
joinContract(engine);

  test("a connection killed while checked out between two statements fails its transaction, not the process, and the store goes on", { timeout: 60_000 }, async (t) => {
    assert.ok(server);
    const address = await engine.freshAddress(t);
    const db = openPostgresEngine(address);
    try {
      const killer = new pg.Client({ connectionString: address, connectionTimeoutMillis: 5_000 });
      await killer.connect();
      try {
        await assert.rejects(
          db.transaction().execute(async (trx) => {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
            await killer.query("select pg_terminate_backend($1)", [rows[0]!.pid]);
            // The server's FATAL reaches this client while no query runs on it: before the fix, an 'error' event with
            // no listener, which ended the whole process (the edge of test/cli/local/store-fleet-postgres.test.ts).
            await waitFor(async () => (await killer.query("select count(*)::int as n from pg_stat_activity where pid = $1", [rows[0]!.pid])).rows[0].n === 0);
            await new Promise((resolve) => setTimeout(resolve, 100));
            await sql`select 1`.execute(trx);
          }),
        );
      } finally {
        await killer.end();
      }
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
      assert.equal(rows[0]!.one, 1, "the pool opens another connection");
    } finally {
      await db.destroy();
    }
  });

  test("a server that does not answer is refused within the connect deadline, naming the store without its password", async () => {
    assert.ok(server);
    const address = `postgres://moat:sekrit-password@127.0.0.1:1/moat`;
    await assert.rejects(openStore({ address, validate }), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /postgres:\/\/moat@127\.0\.0\.1:1\/moat/);
      assert.doesNotMatch(error.message, /sekrit/);
      return true;
    });
  });

  test("a wrong password is refused naming the store, not the password", async () => {
    assert.ok(server);
    const address = server.url.replace(server.password, "wrong-password");
    await assert.rejects(openStore({ address, validate }), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /password authentication failed/);
      assert.doesNotMatch(error.message, /wrong-password/);
      return true;
    });
  });

  test("change signals: a listener of its own hears each committed revision and invalidation (none for a refused change), and after its connection is killed listens again and says so", { timeout: 60_000 }, async (t) => {
    assert.ok(server);
    const address = await engine.freshAddress(t);
    const writer = await openStore({ address, validate });
    const reader = await openStore({ address, validate });
    const heard: ChangeSignal[] = [];
    let lost = 0;
    const waiters = new Set<() => void>();
    const signals = reader.changeSignals({ onSignal: (signal) => (heard.push(signal), waiters.forEach((check) => check())), onLost: () => void lost++ });
    t.after(async () => {
      await signals.close();
      await Promise.all([writer.close(), reader.close()]);
    });
    const heardAll = (what: string, count: number) =>
      withDeadline(what, new Promise<void>((resolve) => {
        const check = () => heard.length >= count && (waiters.delete(check), resolve());
        waiters.add(check);
        check();
      }), 30_000);

    await heardAll("the listener to listen", 1);
    assert.deepEqual(heard, [{ kind: "listening" }]);
    assert.equal(signals.isLive(), true);
    await writer.put("distribution", "shop", distribution("shop"), { actor: "test" });
    await assert.rejects(writer.put("distribution", "shop", { id: "shop" }, { actor: "test" }));
    const check = (distributions: readonly string[]) => invalidationRequestIssues({ distribution: "shop", paths: ["/a"] }, { distributions, where: "the store" });
    await writer.invalidations.create({ distribution: "shop", paths: ["/a"], actor: "test", now: new Date(), check });
    await writer.put("distribution", "blog", distribution("blog"), { actor: "test" });
    await heardAll("three changes", 4);
    assert.deepEqual(heard.slice(1), [{ kind: "revision", revision: 1 }, { kind: "invalidation", seq: 1 }, { kind: "revision", revision: 2 }], "in commit order, the refused change not among them");

    // The listening connection dies (a failover, a server restart): it is found lost, reconnects and LISTENs again.
    await server.psql("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'moat-listener'");
    await heardAll("the listener to listen again", 5);
    assert.deepEqual(heard[4], { kind: "listening" });
    assert.equal(lost, 1);
    await writer.put("distribution", "news", distribution("news"), { actor: "test" });
    await heardAll("a change after the reconnect", 6);
    assert.deepEqual(heard[5], { kind: "revision", revision: 3 });
    // A joined edge's certificate request is announced at its commit, for the CA node.
    const id = await writer.certificateRequests.submit({ edge: "j1", subject: { use: "viewer-server", dnsNames: ["shop.example"], ipAddresses: [] }, validityMs: 3_600_000, csrPem: "CSR", now: new Date() });
    await heardAll("a certificate request", 7);
    assert.deepEqual(heard[6], { kind: "certificate-request", id });
  });
});

/** Polls `isDone` every 50 ms, for at most 10 s. */
async function waitFor(isDone: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await isDone())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the server to end the backend");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
