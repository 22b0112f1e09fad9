// The SDK against the admin API on a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port).
import { after, before, describe } from "node:test";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../support/postgres-server.ts";
import type { PostgresServer } from "../support/postgres-server.ts";
import { sdkContract } from "./sdk-contract.ts";

describe("the SDK on PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let databases = 0;
  before(async () => {
    server = await startPostgres(findPostgres() as string);
  });
  after(async () => server?.stop());

  sdkContract({
    freshAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      const name = `sdk_${++databases}`;
      await server.psql(`create database ${name}`);
      return server.url.replace(/\/moat$/, `/${name}`);
    },
    rawRows: async () => {
      throw new Error("the SDK tests read the store through its interface");
    },
  });
});
