// The contract every store engine passes: the same tests, run on SQLite and on a real PostgreSQL.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { Worker } from "node:worker_threads";
import { withDeadline } from "../support/deadline.ts";
import { validateConfig } from "../../src/config/parse.ts";
import { parseConfig } from "../../src/config/index.ts";
import { invalidationRequestIssues } from "../../src/cache/index.ts";
import { CaRolloverHeldBackError, ConfigInvalidError, InvalidationRequestInvalidError, StoreNewerThanCodeError, StoreNotFoundError, StoreRevisionConflictError, StoreVersionConflictError } from "../../src/errors.ts";
import { fleetTrustOf, openStore, requireFleetTrusts } from "../../src/store/index.ts";
import type { DocumentValidator, Store } from "../../src/store/index.ts";

export const validate: DocumentValidator = (document) => {
  const result = validateConfig(document, { source: "store", baseDir: "/nonexistent-base", env: {} });
  return result.ok ? [] : result.issues;
};

export function distribution(id: string, alias = `${id}.example`, url = "https://app.internal:8443") {
  return { id, aliases: [alias], origins: [{ id: "app", url }] };
}

export interface EngineUnderTest {
  /** A new, empty store address for this test (a fresh file, a fresh database). */
  freshAddress(t: TestContext): Promise<string>;
  /** Runs a statement on the store behind its back (to plant what a newer Moat would have written). */
  rawExecute(address: string, statement: string): Promise<void>;
}

type ThreadResult = { ok: true; revision: number } | { ok: false; code: string };

/** Runs puts on the store from a worker thread with its own handle: another writer, as far as the engine can tell. */
function writeFromAnotherThread(address: string, writes: { name: string; url: string; ifVersion?: number }[]): Promise<ThreadResult[]> {
  const worker = new Worker(new URL("./store-writer-thread.ts", import.meta.url), { workerData: { address, writes } });
  return withDeadline("the other thread's writes", new Promise<ThreadResult[]>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the writer thread exited (${code}) without an answer`)));
  }), 30_000).finally(() => worker.terminate());
}

async function open(t: TestContext, address: string): Promise<Store> {
  const store = await openStore({ address, validate });
  t.after(() => store.close());
  return store;
}

export function storeContract(engine: EngineUnderTest): void {
  test("a new store is at revision 0 and holds no distribution", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    assert.equal(await store.revision(), 0);
    const read = await store.read();
    assert.deepEqual(read, { revision: 0, resources: [], document: { distributions: [] } });
  });

  test("each change is one new revision; the store reads back as a config document the config loader accepts", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    const first = await store.put("distribution", "shop", distribution("shop"), { actor: "test" });
    assert.deepEqual(first, { revision: 1, version: 1 });
    const second = await store.put("setting", "log", { level: "warn" }, { actor: "test" });
    assert.deepEqual(second, { revision: 2, version: 1 });
    const third = await store.put("trustStore", "partners", { caBundle: "/etc/partners.pem" }, { actor: "test" });
    assert.equal(third.revision, 3);
    const read = await store.read();
    assert.equal(read.revision, 3);
    assert.deepEqual(read.document, { log: { level: "warn" }, trustStores: { partners: { caBundle: "/etc/partners.pem" } }, distributions: [distribution("shop")] });
    // The one validation path: the document goes through the loader as a file's would.
    const config = parseConfig(read.document, { source: store.label, baseDir: "/", env: {} });
    assert.equal(config.distributions[0]?.id, "shop");
    assert.deepEqual(
      (await store.revisions(10)).map((record) => [record.revision, record.actor, record.summary]),
      [
        [3, "test", "put trust store partners"],
        [2, "test", "put setting log"],
        [1, "test", "put distribution shop"],
      ],
    );
  });

  test("a write with a stale version is refused (412) and nothing changes", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "a", ifVersion: "absent" });
    await store.put("distribution", "shop", distribution("shop", "shop.example", "https://v2.internal"), { actor: "a", ifVersion: 1 });
    const stale = store.put("distribution", "shop", distribution("shop", "shop.example", "https://v3.internal"), { actor: "b", ifVersion: 1 });
    await assert.rejects(stale, (error: unknown) => {
      assert.ok(error instanceof StoreVersionConflictError);
      assert.equal(error.status, 412);
      assert.equal(error.code, "store-version-conflict");
      assert.match(error.message, /distribution shop is version 2, not version 1/);
      return true;
    });
    await assert.rejects(store.put("distribution", "shop", distribution("shop"), { actor: "b", ifVersion: "absent" }), /distribution shop is version 2, not absent/);
    await assert.rejects(store.put("distribution", "other", distribution("other"), { actor: "b", ifVersion: 3 }), /distribution other is absent, not version 3/);
    const read = await store.read();
    assert.equal(read.revision, 2);
    assert.equal((read.resources[0]?.document as ReturnType<typeof distribution>).origins[0]?.url, "https://v2.internal");
  });

  test("an invalid change is refused naming the path, and what was stored stays as it was", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
    const bad = { ...distribution("shop"), origins: [{ id: "app", url: "ftp://app.internal" }] };
    await assert.rejects(store.put("distribution", "shop", bad, { actor: "a" }), (error: unknown) => {
      assert.ok(error instanceof ConfigInvalidError);
      assert.ok(error.issues.some((issue) => issue.path === "distributions[0].origins[0].url"), JSON.stringify(error.issues));
      return true;
    });
    // A change that is valid alone but not with the rest: a second distribution claiming the first one's alias.
    await assert.rejects(store.put("distribution", "blog", distribution("blog", "shop.example"), { actor: "a" }), (error: unknown) => {
      assert.ok(error instanceof ConfigInvalidError);
      assert.match(error.message, /shop\.example/);
      return true;
    });
    await assert.rejects(store.put("setting", "cache", { memory: 5 }, { actor: "a" }), /cache\.memory: must be a mapping/);
    await assert.rejects(store.put("setting", "distributions", [], { actor: "a" }), /is not a settings section/);
    await assert.rejects(store.put("distribution", "shop", distribution("other"), { actor: "a" }), /must be "shop", the name the distribution is stored under/);
    const read = await store.read();
    assert.equal(read.revision, 1);
    assert.deepEqual(read.document, { distributions: [distribution("shop")] });
  });

  test("settings and trust stores can be stored before the first distribution", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("setting", "log", { level: "debug" }, { actor: "a" });
    assert.deepEqual((await store.read()).document, { log: { level: "debug" }, distributions: [] });
  });

  test("removing needs the resource to be there, at the version named", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
    await store.put("distribution", "blog", distribution("blog"), { actor: "a" });
    await assert.rejects(store.remove("distribution", "gone", { actor: "a" }), (error: unknown) => error instanceof StoreNotFoundError && error.status === 404);
    await assert.rejects(store.remove("distribution", "blog", { actor: "a", ifVersion: 7 }), StoreVersionConflictError);
    assert.deepEqual(await store.remove("distribution", "blog", { actor: "a", ifVersion: 1 }), { revision: 3 });
    assert.equal(await store.get("distribution", "blog"), undefined);
    assert.deepEqual((await store.read()).document, { distributions: [distribution("shop")] });
  });

  test("writers racing on one version from two threads: exactly one wins, the others get 412", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, address);
    await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
    const writes = Array.from({ length: 4 }, (_, index) => ({ name: "shop", url: `https://other-${index}.internal`, ifVersion: 1 }));
    const [here, there] = await Promise.all([
      Promise.allSettled(writes.map((write, index) => store.put("distribution", "shop", distribution("shop", "shop.example", `https://here-${index}.internal`), { actor: "here", ifVersion: write.ifVersion }))),
      writeFromAnotherThread(address, writes),
    ]);
    const outcomes = [...here.map((result) => (result.status === "fulfilled" ? "ok" : (result.reason as { code?: string }).code)), ...there.map((result) => (result.ok ? "ok" : result.code))];
    assert.equal(outcomes.filter((outcome) => outcome === "ok").length, 1, outcomes.join(", "));
    assert.equal(outcomes.filter((outcome) => outcome === "store-version-conflict").length, 7, outcomes.join(", "));
    assert.equal((await store.get("distribution", "shop"))?.version, 2);
    assert.equal(await store.revision(), 2);
  });

  test("unconditional writers from two threads lose no update: every change gets its own revision", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, address);
    const there = Array.from({ length: 5 }, (_, index) => ({ name: `t${index}`, url: "https://app.internal" }));
    const [here, results] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, (_, index) => store.put("distribution", `h${index}`, distribution(`h${index}`), { actor: "here" }))),
      writeFromAnotherThread(address, there),
    ]);
    const revisions = [...here.map((change) => change.revision), ...results.map((result) => (result.ok ? result.revision : -1))].sort((a, b) => a - b);
    assert.deepEqual(revisions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal((await store.read()).resources.length, 10);
    // The audit trail was written under the same lock: one record per revision, one unbroken chain.
    assert.deepEqual((await store.audit.list({ limit: 100 })).map((record) => record.revision), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  test("replacing everything from a document is one revision; unchanged resources keep their versions", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
    await store.put("distribution", "blog", distribution("blog"), { actor: "a" });
    const change = await store.replaceAll({ log: { level: "warn" }, distributions: [distribution("shop"), distribution("docs")] }, { actor: "import:moat.yaml", summary: "import moat.yaml" });
    assert.deepEqual(change, { revision: 3 });
    const read = await store.read();
    assert.deepEqual(read.resources.map((item) => [item.kind, item.name, item.version, item.revision]), [
      ["distribution", "docs", 1, 3],
      ["distribution", "shop", 1, 1],
      ["setting", "log", 1, 3],
    ]);
    await assert.rejects(store.replaceAll({ distributions: [distribution("x"), distribution("x", "y.example")] }, { actor: "a", summary: "import bad" }), ConfigInvalidError);
    assert.equal(await store.revision(), 3);
  });

  test("replacing everything at an expected revision: refused (412) when another writer committed since, nothing written; written when the store has not moved", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, address);
    await store.put("distribution", "shop", distribution("shop"), { actor: "a" });
    const read = await store.read();
    const wanted = { log: { level: "warn" }, distributions: [distribution("shop", "shop.example", "https://new.internal:8443")] };
    // Another writer, with its own handle, commits between this read and the write planned from it.
    const [other] = await writeFromAnotherThread(address, [{ name: "blog", url: "https://blog.internal:8443" }]);
    assert.deepEqual(other, { ok: true, revision: 2 });
    const before = await store.read();
    await assert.rejects(store.replaceAll(wanted, { actor: "apply", summary: "apply moat.yaml", ifRevision: read.revision }), (error: unknown) => {
      assert.ok(error instanceof StoreRevisionConflictError);
      assert.equal(error.code, "store-revision-conflict");
      assert.equal(error.status, 412);
      assert.deepEqual([error.expected, error.actual], [1, 2]);
      assert.match(error.message, /the store is at revision 2, not 1 as the change assumed/);
      return true;
    });
    assert.deepEqual(await store.read(), before, "the other writer's blog is still there; nothing of the refused change was written");
    assert.equal((await store.revisions(10)).length, 2);

    const change = await store.replaceAll(wanted, { actor: "apply", summary: "apply moat.yaml", ifRevision: 2 });
    assert.deepEqual(change, { revision: 3 });
    assert.deepEqual((await store.read()).document, wanted);
  });

  test("what was committed is there after the store is opened again", async (t) => {
    const address = await engine.freshAddress(t);
    const first = await openStore({ address, validate });
    await first.put("distribution", "shop", distribution("shop"), { actor: "a" });
    await first.close();
    const again = await open(t, address);
    assert.equal(await again.revision(), 1);
    assert.deepEqual((await again.read()).document, { distributions: [distribution("shop")] });
  });

  test("API tokens: verified by their secret until revoked or expired, listed without it, and no config revision for any of it", async (t) => {
    const store = await openStore({ address: await engine.freshAddress(t), validate });
    t.after(() => store.close());
    const now = new Date("2026-01-01T00:00:00.000Z");
    const { secret, token } = await store.tokens.create({ name: "ci", role: "operator", expiresAt: new Date(now.getTime() + 3_600_000), createdBy: "test", now });
    assert.match(secret, new RegExp(`^moat_${token.id}_[A-Za-z0-9_-]{43}$`));
    const later = new Date(now.getTime() + 1_000);
    const check = await store.tokens.verify(secret, later);
    assert.ok(check.ok);
    assert.equal(check.token.role, "operator");
    assert.equal((await store.tokens.get(token.id))?.lastUsedAt, later.toISOString());
    assert.deepEqual(await store.tokens.verify(`${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`, later), { ok: false, reason: "unknown", id: token.id });
    assert.deepEqual(await store.tokens.verify("moat_nope", later), { ok: false, reason: "malformed" });
    assert.deepEqual(await store.tokens.verify(secret, new Date(now.getTime() + 3_600_000)), { ok: false, reason: "expired", id: token.id });
    const revoked = await store.tokens.revoke(token.id, later, "test");
    assert.equal(revoked?.revokedAt, later.toISOString());
    assert.equal((await store.tokens.revoke(token.id, new Date(now.getTime() + 5_000), "test"))?.revokedAt, later.toISOString(), "revoking again keeps the first time");
    assert.deepEqual(await store.tokens.verify(secret, later), { ok: false, reason: "revoked", id: token.id });
    assert.equal(await store.tokens.revoke("0000000000000000", later, "test"), undefined);
    assert.deepEqual((await store.tokens.list()).map((item) => Object.keys(item).sort()), [["createdAt", "createdBy", "expiresAt", "id", "lastUsedAt", "name", "revokedAt", "role"]]);
    assert.equal(await store.revision(), 0);
  });

  test("invalidations: one per transaction with its audit record, no config revision; a refused one writes nothing; edges read them by id and record what they applied", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "test" });
    const now = new Date("2026-01-01T00:00:00.000Z");
    const check = (distributions: readonly string[]) => invalidationRequestIssues({ distribution: "blog", paths: ["/a"] }, { distributions, where: "the store" });
    const refused = await store.invalidations.create({ distribution: "blog", paths: ["/a"], actor: "test", now, check }).catch((error: unknown) => error);
    assert.ok(refused instanceof InvalidationRequestInvalidError);
    assert.match(refused.message, /no distribution "blog" in the store \(there are: shop\)/);
    assert.deepEqual(await store.invalidations.list({ limit: 10 }), [], "nothing written by a refusal");
    const auditBefore = (await store.audit.head()).seq;

    const ok = (distributions: readonly string[]) => invalidationRequestIssues({ distribution: "shop", paths: ["/a"] }, { distributions, where: "the store" });
    const first = await store.invalidations.create({ distribution: "shop", paths: ["/a", "/img/*"], actor: "api:token/x", now, check: ok });
    assert.deepEqual([first.seq, first.id, first.paths, first.edges], [1, "1", ["/a", "/img/*"], []]);
    const second = await store.invalidations.create({ distribution: "shop", paths: ["*"], actor: "cli:ops", now, check: ok });
    assert.equal(second.seq, 2);
    assert.equal(await store.revision(), 1, "an invalidation is no config revision: edges do not reload for it");
    const audit = await store.audit.list({ limit: 10, after: auditBefore });
    assert.deepEqual(audit.map((record) => [record.action, record.resource, record.actor, record.distribution]), [
      ["invalidation.create", "invalidation/1", "api:token/x", "shop"],
      ["invalidation.create", "invalidation/2", "cli:ops", "shop"],
    ]);
    assert.equal((await store.audit.verify()).ok, true);

    assert.deepEqual((await store.invalidations.since(0)).map((request) => request.seq), [1, 2]);
    assert.deepEqual((await store.invalidations.since(1)).map((request) => [request.seq, request.paths]), [[2, ["*"]]]);
    await store.invalidations.markApplied("edge-a", 2, new Date("2026-01-01T00:00:01.000Z"));
    await store.invalidations.markApplied("edge-b", 1, new Date("2026-01-01T00:00:02.000Z"));
    // Again, with the same mark: nothing more, the first time stays.
    await store.invalidations.markApplied("edge-a", 2, new Date("2026-01-01T00:00:09.000Z"));
    // Neither has a heartbeat row: listed (they applied invalidations here), not waited for.
    assert.deepEqual((await store.invalidations.get(2))?.edges, [
      { edge: "edge-a", appliedAt: "2026-01-01T00:00:01.000Z", heartbeat: null, lastSeenAt: null, isWaitedFor: false },
      { edge: "edge-b", appliedAt: null, heartbeat: null, lastSeenAt: null, isWaitedFor: false },
    ]);
    // With a live heartbeat, edge-b is waited for: #2 is pending until it applies it.
    const live = { revision: null, servedAt: null, lastSeenAt: new Date().toISOString(), startedAt: "2026-01-01T00:00:00.000Z", version: "0.1.0", region: null, heartbeatMs: 3_600_000 };
    await store.edges.report({ name: "edge-b", ...live });
    assert.deepEqual((await store.invalidations.get(2))?.edges.map((edge) => [edge.edge, edge.heartbeat, edge.isWaitedFor]), [["edge-a", null, false], ["edge-b", "live", true]]);
    assert.equal((await store.invalidations.get(2))?.isApplied, false);
    assert.equal((await store.invalidations.get(1))?.isApplied, true);
    assert.deepEqual((await store.invalidations.list({ limit: 1 })).map((item) => item.seq), [2]);
    assert.deepEqual((await store.invalidations.list({ limit: 5, before: 2 })).map((item) => [item.seq, item.edges.map((edge) => edge.appliedAt !== null)]), [[1, [true, true]]]);
    assert.equal(await store.invalidations.get(3), undefined);
  });

  test("edges: each reports the revision it serves and its heartbeat under its name; a report replaces its row whole", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    assert.deepEqual(await store.edges.list(), []);
    const started = "2026-01-01T00:00:00.000Z";
    await store.edges.report({ name: "edge-b", revision: null, servedAt: null, lastSeenAt: started, startedAt: started, version: "0.1.0", region: null, heartbeatMs: null });
    await store.edges.report({ name: "edge-a", revision: 3, servedAt: "2026-01-01T00:00:01.000Z", lastSeenAt: "2026-01-01T00:00:01.000Z", startedAt: started, version: "0.1.0", region: "eu-west", heartbeatMs: 2_000 });
    await store.edges.report({ name: "edge-b", revision: 4, servedAt: "2026-01-01T00:00:05.000Z", lastSeenAt: "2026-01-01T00:00:06.000Z", startedAt: started, version: "0.1.0", region: null, heartbeatMs: 10_000 });
    assert.deepEqual(await store.edges.list(), [
      { name: "edge-a", revision: 3, servedAt: "2026-01-01T00:00:01.000Z", lastSeenAt: "2026-01-01T00:00:01.000Z", startedAt: started, version: "0.1.0", region: "eu-west", heartbeatMs: 2_000, caTrust: null, stoppedAt: null },
      { name: "edge-b", revision: 4, servedAt: "2026-01-01T00:00:05.000Z", lastSeenAt: "2026-01-01T00:00:06.000Z", startedAt: started, version: "0.1.0", region: null, heartbeatMs: 10_000, caTrust: null, stoppedAt: null },
    ]);
    // Health at a given instant, by each edge's own interval: edge-a (2 s) is silent 7 s after its heartbeat, edge-b (10 s) is not.
    const at = (iso: string) => store.edges.fleet({ now: new Date(iso) }).then((fleet) => fleet.items.map((edge) => [edge.name, edge.health, edge.heartbeatAgeMs]));
    assert.deepEqual(await at("2026-01-01T00:00:08.000Z"), [["edge-a", "silent", 7_000], ["edge-b", "ok", 2_000]]);
    assert.deepEqual(await at("2026-01-01T00:00:40.000Z"), [["edge-a", "silent", 39_000], ["edge-b", "silent", 34_000]]);
    assert.deepEqual(await at("2026-01-02T00:00:05.000Z"), [["edge-a", "gone", 86_404_000], ["edge-b", "silent", 86_399_000]]);
    assert.equal(await store.revision(), 0, "an edge's report is no config revision");
  });

  test("edges: a clean stop's farewell makes an edge stopped at once (not waited for by an invalidation), a day later gone; its next report clears it", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    const report = (name: string, lastSeenAt: string) => store.edges.report({ name, revision: null, servedAt: null, lastSeenAt, startedAt: "2026-01-01T00:00:00.000Z", version: "0.1.0", region: null, heartbeatMs: 10_000 });
    await report("edge-a", "2026-01-01T00:00:01.000Z");
    await report("edge-b", "2026-01-01T00:00:01.000Z");
    assert.equal(await store.edges.markStopped("edge-b", new Date("2026-01-01T00:00:02.000Z")), true);
    assert.equal(await store.edges.markStopped("never-ran", new Date("2026-01-01T00:00:02.000Z")), false);
    const at = (iso: string) => store.edges.fleet({ now: new Date(iso) }).then((fleet) => fleet.items.map((edge) => [edge.name, edge.health, edge.stoppedAt ?? null]));
    // One second after the farewell: a heartbeat would not be missed yet, and it is stopped already.
    assert.deepEqual(await at("2026-01-01T00:00:03.000Z"), [["edge-a", "ok", null], ["edge-b", "stopped", "2026-01-01T00:00:02.000Z"]]);
    assert.deepEqual(await at("2026-01-02T00:00:03.000Z"), [["edge-a", "gone", null], ["edge-b", "gone", "2026-01-01T00:00:02.000Z"]]);
    // The farewell is its last heartbeat too.
    assert.equal((await store.edges.list()).find((edge) => edge.name === "edge-b")?.lastSeenAt, "2026-01-01T00:00:02.000Z");
    // An invalidation made now waits for edge-a alone (live edges only; the invalidation store judges by the wall clock).
    const now = new Date().toISOString();
    await report("edge-a", now);
    await report("edge-b", now);
    await store.edges.markStopped("edge-b", new Date());
    const created = await store.invalidations.create({ distribution: "shop", paths: ["/a"], actor: "test", now: new Date(), check: () => [] });
    assert.deepEqual(created.edges.map((edge) => [edge.edge, edge.heartbeat, edge.isWaitedFor]), [["edge-a", "live", true], ["edge-b", "stopped", false]]);
    // Its next start's first report clears it.
    await report("edge-b", new Date().toISOString());
    assert.deepEqual((await store.edges.fleet({ now: new Date() })).items.map((edge) => [edge.name, edge.health, edge.stoppedAt]), [["edge-a", "ok", null], ["edge-b", "ok", null]]);
  });

  test("edges: each reports the CA it trusts; a rollover's gate passes only when every live edge trusts the new root, and names those that do not", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    const now = new Date("2026-01-01T00:01:00.000Z");
    const oldRoot = "AA:".repeat(31) + "AA";
    const newRoot = "BB:".repeat(31) + "BB";
    const row = (name: string, lastSeenAt: string, caTrust: { roots: string[]; intermediate: string } | null) =>
      store.edges.report({ name, revision: null, servedAt: null, lastSeenAt, startedAt: "2026-01-01T00:00:00.000Z", version: "0.1.0", region: null, heartbeatMs: 10_000, caTrust });
    await row("edge-a", "2026-01-01T00:00:59.000Z", { roots: [oldRoot, newRoot], intermediate: "CC:01" });
    await row("edge-b", "2026-01-01T00:00:58.000Z", { roots: [oldRoot], intermediate: "CC:01" });
    await row("edge-c", "2026-01-01T00:00:57.000Z", null);
    // Silent (no heartbeat for 3 × 10 s): not waited for, whatever it trusts.
    await row("edge-d", "2026-01-01T00:00:10.000Z", { roots: [oldRoot], intermediate: "CC:01" });
    assert.deepEqual((await store.edges.list()).map((edge) => [edge.name, edge.caTrust]), [
      ["edge-a", { roots: [oldRoot, newRoot], intermediate: "CC:01" }],
      ["edge-b", { roots: [oldRoot], intermediate: "CC:01" }],
      ["edge-c", null],
      ["edge-d", { roots: [oldRoot], intermediate: "CC:01" }],
    ]);
    const root = { serialHex: "0b", fingerprint256: newRoot };
    const refused = await requireFleetTrusts(store.edges, root, now).then(() => undefined, (error: unknown) => error);
    assert.ok(refused instanceof CaRolloverHeldBackError, `refused with ${String(refused)}`);
    assert.equal(refused.code, "ca-rollover-held-back");
    assert.deepEqual(refused.holdingBack, [{ name: "edge-b", health: "ok", roots: [oldRoot] }, { name: "edge-c", health: "ok", roots: null }]);
    assert.match(refused.message, /edge-b \(ok; trusts only AA:/);
    assert.match(refused.message, /edge-c \(ok; trusts no roots it has reported\)/);
    assert.doesNotMatch(refused.message, /edge-d/);
    // The same fingerprint in another spelling (lower case, no colons) is the same root.
    await row("edge-b", "2026-01-01T00:00:59.500Z", { roots: [oldRoot, newRoot.replaceAll(":", "").toLowerCase()], intermediate: "CC:02" });
    await row("edge-c", "2026-01-01T00:00:59.500Z", { roots: [newRoot], intermediate: "CC:02" });
    const trust = await requireFleetTrusts(store.edges, root, now);
    assert.deepEqual(trust, { fingerprint256: newRoot, trusting: ["edge-a", "edge-b", "edge-c"], holdingBack: [], notWaitedFor: [{ name: "edge-d", health: "silent" }] });
    // A report without a CA clears what the row said: a row says what its edge reports now.
    await row("edge-a", "2026-01-01T00:00:59.900Z", null);
    assert.deepEqual(fleetTrustOf((await store.edges.fleet({ now })).items, newRoot).holdingBack.map((edge) => edge.name), ["edge-a"]);
  });

  test("a store a newer Moat migrated is refused, and left as it is", async (t) => {
    const address = await engine.freshAddress(t);
    const first = await openStore({ address, validate });
    await first.put("distribution", "shop", distribution("shop"), { actor: "a" });
    await first.close();
    await engine.rawExecute(address, "insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2030-01-01T00:00:00.000Z')");
    await assert.rejects(openStore({ address, validate }), (error: unknown) => {
      assert.ok(error instanceof StoreNewerThanCodeError);
      assert.deepEqual(error.unknownMigrations, ["9999-from-the-future"]);
      assert.match(error.message, /a newer Moat has upgraded it/);
      return true;
    });
    await engine.rawExecute(address, "delete from kysely_migration where name = '9999-from-the-future'");
    const again = await open(t, address);
    assert.deepEqual((await again.read()).document, { distributions: [distribution("shop")] });
  });
}
