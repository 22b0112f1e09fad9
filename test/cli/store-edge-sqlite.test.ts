// `moat start --store`, apply, diff, export and store log on SQLite: the store named by the edge's data directory.
import { describe } from "node:test";
import { storeEdgeContract } from "./store-edge-contract.ts";

describe("an edge and the store commands on SQLite", () => {
  storeEdgeContract({
    // The data directory itself: its moat.db is the store, and it is the edge's data directory.
    freshAddress: async (_t, dataDir) => dataDir,
  });
});
