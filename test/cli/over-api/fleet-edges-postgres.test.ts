// Two edges (processes) on one real PostgreSQL the test starts (initdb, pg_ctl on a free loopback port): edge list, health, invalidations across the fleet.
import { after, before, describe } from "node:test";
import { withDeadline } from "../../support/deadline.ts";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { fleetEdgesContract } from "./fleet-edges-contract.ts";

describe("a fleet of two edges on one PostgreSQL: moat edge list, silent edges, invalidations across the fleet", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  // Registered before the contract's: the server is up when the store is made.
  before(async () => {
    server = await withDeadline("PostgreSQL to start", startPostgres(findPostgres() as string), 90_000);
  });
  fleetEdgesContract({
    storeAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      return server.url;
    },
  });
  // After the contract's: the edges have stopped before their store does.
  after(async () => withDeadline("PostgreSQL to stop", server?.stop() ?? Promise.resolve(), 60_000));
});
