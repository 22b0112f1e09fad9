// The store contract on a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port), one database per test.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { StoreUnavailableError } from "../../src/errors.ts";
import { openStore } from "../../src/store/index.ts";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../support/postgres-server.ts";
import type { PostgresServer } from "../support/postgres-server.ts";
import { auditContract } from "./audit-contract.ts";
import { certificateContract } from "./certificate-contract.ts";
import { storeContract, validate } from "./store-contract.ts";
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
  certificateContract(engine);

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
});
