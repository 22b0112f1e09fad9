// A fresh SQLite store per test, for the SDK and CLI tests: the SQLite side of a contract, or a suite that runs on SQLite only.
import { mkdtemp, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineUnderTest } from "../control/admin-api-harness.ts";

export const sqliteEngine: EngineUnderTest = {
  freshAddress: async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "moat-sdk-"));
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
