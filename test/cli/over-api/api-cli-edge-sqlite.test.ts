// The CLI over the admin API of an edge run from the SQLite store of its data directory.
import { describe } from "node:test";
import { apiCliEdgeContract } from "./api-cli-edge-contract.ts";

describe("the CLI over the admin API of a running edge on SQLite: long operations waited for", () => {
  // The data directory itself: its moat.db is the store, and it is the edge's data directory.
  apiCliEdgeContract({ storeAddress: async (dataDir) => dataDir });
});
