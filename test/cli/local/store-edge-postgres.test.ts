// `moat start --store`, apply, diff, export and store log on a real PostgreSQL that the test starts, one database per test.
import { readFile } from "node:fs/promises";
import { after, before, describe } from "node:test";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { storeEdgeContract } from "./store-edge-contract.ts";

describe("an edge and the store commands on PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let databases = 0;
  before(async () => {
    server = await startPostgres(findPostgres() as string);
  });
  after(async () => server?.stop());

  storeEdgeContract({
    hasTwoEdges: true,
    freshAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      const name = `edge_${++databases}`;
      await server.psql(`create database ${name}`);
      return server.url.replace(/\/moat$/, `/${name}`);
    },
    // The database stops taking connections and loses the ones it had, as a failed-over or unreachable server would.
    cutOff: async (address) => {
      const running = server!;
      const name = new URL(address).pathname.slice(1);
      await running.psql(`alter database ${name} allow_connections false`);
      await running.psql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
      const refused = `database "${name}" is not currently accepting connections`;
      return {
        refusals: async () => (await readFile(running.logFile, "utf8")).split(refused).length - 1,
        restore: async () => void (await running.psql(`alter database ${name} allow_connections true`)),
      };
    },
  });
});
