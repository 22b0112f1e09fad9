// The certificate records' contract: the same tests on SQLite and on a real PostgreSQL (sync whole inventories, derived states, filters, pages, the trail in the same transaction).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { withDeadline } from "../support/deadline.ts";
import type { TestContext } from "node:test";
import { Migrator } from "kysely/migration";
import { auditRecordHash, GENESIS_HASH, MIGRATIONS, openStore, parseStoreAddress } from "../../src/store/index.ts";
import { openPostgresEngine } from "../../src/store/postgres-engine.ts";
import { openSqliteEngine } from "../../src/store/sqlite-engine.ts";
import type { Store } from "../../src/store/index.ts";
import { DAY, entry, NOW, renewalEntries, rotationOf } from "./certificate-entries.ts";
import { validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

const root = entry("01", { use: "root-ca", name: "root", subject: "CN=Moat Root", issuer: "CN=Moat Root", sans: [] });

/** Syncs of the renewal from another thread, as another process would: how many records they wrote. */
function syncInAnotherThread(address: string, syncs: number): Promise<number> {
  const worker = new Worker(new URL("./certificate-sync-thread.ts", import.meta.url), { workerData: { address, syncs } });
  return withDeadline("the other thread's syncs", new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the sync thread exited (${code}) without an answer`)));
  }), 30_000).finally(() => worker.terminate());
}

async function open(t: TestContext, engine: EngineUnderTest, address?: string): Promise<Store> {
  const store = await openStore({ address: address ?? (await engine.freshAddress(t)), validate });
  t.after(() => store.close());
  return store;
}

export function certificateContract(engine: EngineUnderTest): void {
  test("certificates: a sync stores an edge's inventory; the same sync again changes nothing; the CA's own are shared (edge null)", async (t) => {
    const store = await open(t, engine);
    const changes = await store.certificates.sync("edge-a", [root, entry("0a"), entry("0b", { recordedState: "next" })], { now: NOW });
    assert.deepEqual(changes.map((change) => [change.before?.serialHex ?? null, change.after?.serialHex ?? null]), [[null, "01"], [null, "0a"], [null, "0b"]]);
    assert.deepEqual(await store.certificates.sync("edge-a", [root, entry("0a"), entry("0b", { recordedState: "next" })], { now: new Date(NOW.getTime() + 1000) }), []);
    const { items } = await store.certificates.list({ limit: 10, now: NOW });
    assert.deepEqual(items.map((item) => [item.serialHex, item.edge, item.state]), [["01", null, "active"], ["0a", "edge-a", "active"], ["0b", "edge-a", "next"]]);
    const one = await store.certificates.get("0a", NOW);
    assert.ok(one);
    assert.deepEqual({ ...one, updatedAt: "-" }, { ...entry("0a"), edge: "edge-a", state: "active", updatedAt: "-" });
    assert.equal(one.updatedAt, NOW.toISOString());
    assert.equal(await store.certificates.get("ff", NOW), undefined);
  });

  test("certificates: a renewal's sync changes the old one to retired, adds the new one and deletes what left the inventory, leaving other edges' rows alone", async (t) => {
    const store = await open(t, engine);
    await store.certificates.sync("edge-a", [root, entry("0a"), entry("0c", { name: "shop/api", use: "origin-client" })], { now: NOW });
    await store.certificates.sync("edge-b", [root, entry("0b")], { now: NOW });
    const changes = await store.certificates.sync("edge-a", [root, entry("0a", { recordedState: "retired" }), entry("0d")], { now: NOW });
    assert.deepEqual(
      changes.map((change) => [change.before?.serialHex ?? null, change.before?.recordedState ?? null, change.after?.serialHex ?? null, change.after?.recordedState ?? null]),
      [["0a", "active", "0a", "retired"], [null, null, "0d", "active"], ["0c", "active", null, null]],
    );
    const edgeA = await store.certificates.list({ limit: 10, edge: "edge-a", now: NOW });
    assert.deepEqual(edgeA.items.map((item) => [item.serialHex, item.state]), [["0a", "retired"], ["0d", "active"]]);
    const edgeB = await store.certificates.list({ limit: 10, edge: "edge-b", now: NOW });
    assert.deepEqual(edgeB.items.map((item) => item.serialHex), ["0b"]);
    // An inventory without the CA (a data directory that does not hold it) says nothing of the CA's rows; one with a CA certificate does.
    await store.certificates.sync("edge-b", [entry("0b")], { now: NOW });
    assert.ok(await store.certificates.get("01", NOW));
    const newRoot = entry("02", { use: "root-ca", name: "root" });
    await store.certificates.sync("edge-b", [newRoot, entry("0b")], { now: NOW });
    assert.equal(await store.certificates.get("01", NOW), undefined);
    assert.equal((await store.certificates.get("02", NOW))?.edge, null);
  });

  test("certificates: expired and not-yet-valid are read from the validity at the reader's clock, also as filters; revoked wins", async (t) => {
    const store = await open(t, engine);
    await store.certificates.sync(
      "edge-a",
      [
        entry("0a"),
        entry("0b", { notAfter: new Date(NOW.getTime() - 1) }),
        entry("0c", { notBefore: new Date(NOW.getTime() + DAY), recordedState: "next" }),
        entry("0d", { recordedState: "revoked", revokedAt: new Date(NOW.getTime() - DAY), revocationReason: "keyCompromise", notAfter: new Date(NOW.getTime() - 1) }),
      ],
      { now: NOW },
    );
    const states = async (now: Date, state?: "active" | "expired" | "not-yet-valid" | "revoked" | "next") =>
      (await store.certificates.list({ limit: 10, now, ...(state ? { state } : {}) })).items.map((item) => `${item.serialHex}:${item.state}`);
    assert.deepEqual(await states(NOW), ["0a:active", "0b:expired", "0c:not-yet-valid", "0d:revoked"]);
    assert.deepEqual(await states(NOW, "expired"), ["0b:expired"]);
    assert.deepEqual(await states(NOW, "not-yet-valid"), ["0c:not-yet-valid"]);
    assert.deepEqual(await states(NOW, "revoked"), ["0d:revoked"]);
    assert.deepEqual(await states(NOW, "active"), ["0a:active"]);
    // A day and a half on, the next one is valid and shows its recorded state.
    assert.deepEqual(await states(new Date(NOW.getTime() + 1.5 * DAY), "next"), ["0c:next"]);
    const revoked = await store.certificates.get("0d", NOW);
    assert.equal(revoked?.revocationReason, "keyCompromise");
    assert.equal(revoked?.revokedAt?.toISOString(), new Date(NOW.getTime() - DAY).toISOString());
  });

  test("certificates: filters by use, source and distribution (issued by name, imported by what the distribution names); pages in serial order as numbers", async (t) => {
    const store = await open(t, engine);
    await store.certificates.sync(
      "edge-a",
      [
        root,
        entry("0a"),
        entry("0b", { use: "origin-client", name: "shop/api" }),
        entry("0c", { use: "origin-client", name: "shopping/api" }),
        entry("0d", { name: "viewer-blog" }),
        entry("100", { source: "imported", name: "shop-ev" }),
        entry("ff", { source: "imported", use: "origin-client", name: "partner" }),
      ],
      { now: NOW },
    );
    const serials = async (query: Omit<Parameters<Store["certificates"]["list"]>[0], "now" | "limit">) => (await store.certificates.list({ limit: 20, now: NOW, ...query })).items.map((item) => item.serialHex);
    assert.deepEqual(await serials({ distribution: { id: "shop", imported: [{ use: "viewer-server", name: "shop-ev" }] } }), ["0a", "0b", "100"]);
    assert.deepEqual(await serials({ use: "origin-client" }), ["0b", "0c", "ff"]);
    assert.deepEqual(await serials({ source: "imported" }), ["ff", "100"]);
    assert.deepEqual(await serials({ use: "root-ca" }), ["01"]);
    const pages: string[][] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i += 1) {
      const page = await store.certificates.list({ limit: 3, now: NOW, ...(after ? { after } : {}) });
      pages.push(page.items.map((item) => item.serialHex));
      if (!page.nextCursor) break;
      after = page.nextCursor;
    }
    assert.deepEqual(pages, [["01", "0a", "0b"], ["0c", "0d", "ff"], ["100"]]);
  });

  test("certificates: a revocation marks every row of its serial revoked at once, and only once", async (t) => {
    const store = await open(t, engine);
    await store.certificates.sync("edge-a", [entry("0a"), entry("0b")], { now: NOW });
    const revokedAt = new Date(NOW.getTime() + 1000);
    assert.equal(await store.certificates.markRevoked("0a", { revokedAt, reason: "keyCompromise", now: revokedAt }), 1);
    assert.equal(await store.certificates.markRevoked("0a", { revokedAt, reason: "superseded", now: revokedAt }), 0);
    assert.equal(await store.certificates.markRevoked("ff", { revokedAt, reason: "superseded", now: revokedAt }), 0);
    const revoked = await store.certificates.get("0a", NOW);
    assert.deepEqual([revoked?.state, revoked?.revocationReason, revoked?.revokedAt?.toISOString()], ["revoked", "keyCompromise", revokedAt.toISOString()]);
    assert.equal((await store.certificates.get("0b", NOW))?.state, "active");
  });

  test("certificates: the records a sync makes commit with it; one that cannot be made rolls the whole sync back", async (t) => {
    const store = await open(t, engine);
    await store.certificates.sync("edge-a", [entry("0a")], {
      now: NOW,
      events: (changes) => changes.map((change) => ({ actor: "edge:edge-a", action: "certificate.issue" as const, resource: `certificate/${change.after?.serialHex}`, after: { serialHex: change.after?.serialHex } })),
    });
    const records = await store.audit.list({ limit: 10 });
    assert.deepEqual(records.map((record) => [record.actor, record.action, record.resource]), [["edge:edge-a", "certificate.issue", "certificate/0a"]]);
    await assert.rejects(
      store.certificates.sync("edge-a", [entry("0a", { recordedState: "retired" }), entry("0b")], {
        now: NOW,
        events: () => {
          throw new Error("refused");
        },
      }),
      /refused/,
    );
    assert.deepEqual((await store.certificates.list({ limit: 10, now: NOW })).items.map((item) => `${item.serialHex}:${item.state}`), ["0a:active"]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  test("certificates: an event with once-keys is recorded once, whichever of the syncs of two processes at once commits first; one a record made impossible is not recorded; verify passes", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, engine, address);
    await store.certificates.sync("edge-a", [entry("0a"), entry("0b", { recordedState: "next" })], { now: NOW });
    let recorded = 0;
    const here = Promise.all([1, 2, 3].map(() => store.certificates.sync("edge-a", renewalEntries(), { now: NOW, events: rotationOf, recorded: (events) => (recorded += events.length) })));
    const [elsewhere] = await Promise.all([syncInAnotherThread(address, 3), here]);
    const records = await store.audit.list({ limit: 10 });
    assert.deepEqual(records.map((record) => [record.action, record.resource]), [["certificate.rotate", "certificate/0b"]]);
    assert.equal(recorded + elsewhere, 1, "recorded is told only what was written");
    // An inventory read before the rotation, committed after: 0a back to active is refused by the key 0b's rotation holds.
    await store.certificates.sync("edge-a", [entry("0a"), entry("0b", { recordedState: "next" })], { now: NOW });
    const back = await store.certificates.sync("edge-a", renewalEntries(), {
      now: NOW,
      events: () => [{ actor: "edge:edge-a", action: "certificate.rotate", resource: "certificate/0a", once: { keys: ["certificate.rotate/0a", "certificate.replaced/0b"], unless: ["certificate.replaced/0a"] } }],
    });
    assert.equal(back.length, 2);
    assert.equal((await store.audit.list({ limit: 10 })).length, 1);
    const { checkpoints: _checkpoints, ...verified } = await store.audit.verify();
    assert.deepEqual(verified, { ok: true, records: 1, head: await store.audit.head() });
  });

  test("certificates: a store migrated to the once-keys holds those of the certificate records it had, so an edge does not record them again", async (t) => {
    const address = await engine.freshAddress(t);
    const { engine: kind, target } = parseStoreAddress(address);
    const db = kind === "postgres" ? openPostgresEngine(target) : openSqliteEngine(target);
    const older = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < "0012"));
    const migrated = await new Migrator({ db, provider: { getMigrations: async () => older } }).migrateToLatest();
    await db.destroy();
    assert.equal(migrated.error, undefined);
    // Written as the code before 0012 wrote them: a rotation of 0b that replaced 0a, and (an earlier bug's) second one.
    let prevHash = GENESIS_HASH;
    for (const seq of [1, 2]) {
      const unhashed = { seq, at: NOW.toISOString(), actor: "edge:edge-a", action: "certificate.rotate" as const, resource: "certificate/0b", distribution: "shop", revision: null, before: { serialHex: "0a" }, after: { serialHex: "0b" }, prevHash };
      const hash = auditRecordHash(unhashed);
      await engine.rawExecute(address, `insert into audit_log (seq, at, actor, action, resource, distribution, revision, before, after, prev_hash, hash) values (${seq}, '${unhashed.at}', 'edge:edge-a', 'certificate.rotate', 'certificate/0b', 'shop', null, '{"serialHex":"0a"}', '{"serialHex":"0b"}', '${prevHash}', '${hash}')`);
      await engine.rawExecute(address, `update write_lock set audit_seq = ${seq}, audit_hash = '${hash}' where id = 1`);
      prevHash = hash;
    }
    const store = await open(t, engine, address);
    await store.certificates.sync("edge-a", [entry("0a"), entry("0b", { recordedState: "next" })], { now: NOW });
    await store.certificates.sync("edge-a", [entry("0a", { recordedState: "retired" }), entry("0b")], { now: NOW, events: rotationOf });
    assert.equal((await store.audit.list({ limit: 10 })).length, 2, "the rotation was recorded already");
    assert.equal((await store.audit.verify()).ok, true);
  });
}
