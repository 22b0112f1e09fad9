// The admin API on a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port), one database per test.
import { after, before, describe } from "node:test";
import pg from "pg";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../support/postgres-server.ts";
import type { PostgresServer } from "../support/postgres-server.ts";
import { adminApiAuditContract } from "./admin-api-audit-contract.ts";
import { adminApiAccessContract } from "./admin-api-access-contract.ts";
import { adminApiConfigContract } from "./admin-api-config-contract.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";
import { adminApiResourcesContract } from "./admin-api-resources-contract.ts";

describe("admin API on PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let databases = 0;
  before(async () => {
    server = await startPostgres(findPostgres() as string);
  });
  after(async () => server?.stop());

  const engine: EngineUnderTest = {
    freshAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      const name = `api_${++databases}`;
      await server.psql(`create database ${name}`);
      return server.url.replace(/\/moat$/, `/${name}`);
    },
    rawRows: async (address, table) => {
      const client = new pg.Client({ connectionString: address, connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        return (await client.query(`select * from ${table}`)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
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
  adminApiAccessContract(engine);
  adminApiResourcesContract(engine);
  adminApiConfigContract(engine);
  adminApiAuditContract(engine);
});
