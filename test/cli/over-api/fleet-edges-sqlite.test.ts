// Two edges (processes) on one SQLite store file: edge list, health, invalidations across the fleet.
import { join } from "node:path";
import { describe } from "node:test";
import { fleetEdgesContract } from "./fleet-edges-contract.ts";

describe("a fleet of two edges on one SQLite store: moat edge list, silent edges, invalidations across the fleet", () => {
  // A store file of its own (not a data directory): each edge keeps its local copy in its own MOAT_DATA_DIR.
  fleetEdgesContract({ storeAddress: async (dir) => `sqlite:${join(dir, "fleet.db")}` });
});
