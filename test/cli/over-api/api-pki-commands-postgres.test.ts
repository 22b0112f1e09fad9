// `moat certs|ca|apply|diff|export|audit` over the admin API on a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port), one database per test.
import { after, before, describe } from "node:test";
import pg from "pg";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { withDeadline } from "../../support/deadline.ts";
import { apiPkiCommandsContract } from "./api-pki-commands-contract.ts";

describe("the PKI and config commands over the admin API on PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let databases = 0;
  before(async () => {
    server = await withDeadline("PostgreSQL to start", startPostgres(findPostgres() as string), 90_000);
  });
  after(async () => withDeadline("PostgreSQL to stop", server?.stop() ?? Promise.resolve(), 60_000));

  apiPkiCommandsContract({
    freshAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      const name = `cli_${++databases}`;
      await server.psql(`create database ${name}`);
      return server.url.replace(/\/moat$/, `/${name}`);
    },
    rawRows: async () => {
      throw new Error("these tests read the store through its interface");
    },
    rawExecute: async (address, statement) => {
      const client = new pg.Client({ connectionString: address, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    },
  });
});
