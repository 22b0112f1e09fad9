// The store contract on SQLite (node:sqlite), plus what only the file engine has: its file's mode, a missing directory.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { StoreUnavailableError } from "../../src/errors.ts";
import { openStore } from "../../src/store/index.ts";
import { auditCheckpointContract } from "./audit-checkpoint-contract.ts";
import { auditContract } from "./audit-contract.ts";
import { certificateContract } from "./certificate-contract.ts";
import { joinContract } from "./join-contract.ts";
import { distribution, storeContract, validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

async function freshDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-store-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const engine: EngineUnderTest = {
  freshAddress: async (t) => `sqlite:${join(await freshDir(t), "moat.db")}`,
  rawExecute: async (address, statement) => {
    const database = new DatabaseSync(address.replace(/^sqlite:/, ""));
    try {
      database.exec(statement);
    } finally {
      database.close();
    }
  },
};
storeContract(engine);
auditContract(engine);
auditCheckpointContract(engine);
certificateContract(engine);
joinContract(engine);

test("the SQLite file is the owner's alone (0600) and in WAL mode", async (t) => {
  const path = join(await freshDir(t), "moat.db");
  const store = await openStore({ address: path, validate });
  t.after(() => store.close());
  await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
  assert.equal(store.engine, "sqlite");
  assert.equal(store.label, `sqlite:${path}`);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const database = new DatabaseSync(path, { readOnly: true });
  t.after(() => database.close());
  assert.equal((database.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
});

test("a store in a directory that does not exist is refused naming the path", async (t) => {
  const path = join(await freshDir(t), "missing", "moat.db");
  await assert.rejects(openStore({ address: path, validate }), (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError);
    assert.equal(error.code, "store-unavailable");
    assert.ok(error.message.includes(path), error.message);
    return true;
  });
});
