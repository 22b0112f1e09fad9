// The CLI over the admin API of an edge run from a real PostgreSQL that the test starts (initdb, pg_ctl on a free loopback port).
import { after, before, describe } from "node:test";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { withDeadline } from "../../support/deadline.ts";
import { apiCliEdgeContract } from "./api-cli-edge-contract.ts";

describe("the CLI over the admin API of a running edge on PostgreSQL: long operations waited for", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  // Registered before the contract's: the server is up when the edge's store is made.
  before(async () => {
    server = await withDeadline("PostgreSQL to start", startPostgres(findPostgres() as string), 90_000);
  });

  apiCliEdgeContract({
    storeAddress: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      return server.url;
    },
  });
  // After the contract's: the edge has stopped before its store does.
  after(async () => withDeadline("PostgreSQL to stop", server?.stop() ?? Promise.resolve(), 60_000));
});
