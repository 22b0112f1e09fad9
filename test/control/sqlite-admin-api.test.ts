// The admin API on the SQLite store.
import { mkdtemp, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { adminApiAuditContract } from "./admin-api-audit-contract.ts";
import { adminApiAccessContract } from "./admin-api-access-contract.ts";
import { adminApiConfigContract } from "./admin-api-config-contract.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";
import { adminApiResourcesContract } from "./admin-api-resources-contract.ts";

describe("admin API on SQLite", () => {
  const engine: EngineUnderTest = {
    freshAddress: async (t) => {
      const dir = await mkdtemp(join(tmpdir(), "moat-api-"));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "moat.db")}`;
    },
    rawRows: async (address, table) => {
      const database = new DatabaseSync(address.replace(/^sqlite:/, ""), { readOnly: true });
      try {
        return database.prepare(`select * from ${table}`).all() as Record<string, unknown>[];
      } finally {
        database.close();
      }
    },
    rawExecute: async (address, statement) => {
      const database = new DatabaseSync(address.replace(/^sqlite:/, ""));
      try {
        database.exec(statement);
      } finally {
        database.close();
      }
    },
  };
  adminApiAccessContract(engine);
  adminApiResourcesContract(engine);
  adminApiConfigContract(engine);
  adminApiAuditContract(engine);
});
