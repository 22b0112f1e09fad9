// The audit trail's contract on every store engine: one record per change in its transaction, none for a refusal, no secret, and tampering found.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { AuditChainBrokenError, ConfigInvalidError, StoreNotFoundError, StoreVersionConflictError } from "../../src/errors.ts";
import { Migrator } from "kysely/migration";
import { auditRecordHash, GENESIS_HASH, MIGRATIONS, openStore, parseStoreAddress } from "../../src/store/index.ts";
import { openPostgresEngine } from "../../src/store/postgres-engine.ts";
import { openSqliteEngine } from "../../src/store/sqlite-engine.ts";
import type { AuditRecord, Store } from "../../src/store/index.ts";
import { distribution, validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

async function open(t: TestContext, address: string): Promise<Store> {
  const store = await openStore({ address, validate });
  t.after(() => store.close());
  return store;
}

async function allRecords(store: Store): Promise<AuditRecord[]> {
  return store.audit.list({ limit: 10_000 });
}

/** Five config records (revisions 1-5) and a token's two: the trail the tampering tests break. */
async function sevenRecords(store: Store): Promise<void> {
  await store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice" });
  await store.put("distribution", "blog", distribution("blog"), { actor: "cli:alice" });
  await store.put("setting", "log", { level: "warn" }, { actor: "api:token/0123456789abcdef" });
  await store.put("distribution", "shop", distribution("shop", "shop.example", "https://other.internal"), { actor: "cli:bob", ifVersion: 1 });
  await store.remove("distribution", "blog", { actor: "cli:bob" });
  const now = new Date();
  const { token } = await store.tokens.create({ name: "ci", role: "operator", expiresAt: new Date(now.getTime() + 3_600_000), createdBy: "cli:alice", now });
  await store.tokens.revoke(token.id, now, "cli:alice");
}

/** A record as an attacker who knows the encoding forges one: a correct hash over its fields. */
function forged(seq: number, prevHash: string): AuditRecord {
  const unhashed = { seq, at: new Date().toISOString(), actor: "cli:mallory", action: "config.put" as const, resource: "distribution/evil", distribution: "evil", revision: null, before: null, after: { id: "evil" }, prevHash };
  return { ...unhashed, hash: auditRecordHash(unhashed) };
}

function insertStatement(record: AuditRecord): string {
  const text = (value: string | null) => (value === null ? "null" : `'${value.replaceAll("'", "''")}'`);
  return `insert into audit_log (seq, at, actor, action, resource, distribution, revision, before, after, prev_hash, hash) values (${record.seq}, ${text(record.at)}, ${text(record.actor)}, ${text(record.action)}, ${text(record.resource)}, ${text(record.distribution)}, null, null, ${text(JSON.stringify(record.after))}, ${text(record.prevHash)}, ${text(record.hash)})`;
}

export function auditContract(engine: EngineUnderTest): void {
  test("audit: each change writes exactly one record per resource in its transaction; a refused change writes none", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    assert.deepEqual(await store.audit.head(), { seq: 0, hash: GENESIS_HASH });
    const count = async () => (await allRecords(store)).length;

    await store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice" });
    await store.put("trustStore", "partners", { caBundle: "/etc/partners.pem" }, { actor: "api:token/0123456789abcdef" });
    await store.put("distribution", "shop", distribution("shop", "shop.example", "https://v2.internal"), { actor: "cli:alice", ifVersion: 1 });
    await store.remove("trustStore", "partners", { actor: "api:certificate/alice" });
    // Refused: a stale version, an invalid document, a missing resource. None leaves a record.
    const before = await count();
    await assert.rejects(store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice", ifVersion: 1 }), StoreVersionConflictError);
    await assert.rejects(store.put("distribution", "bad", { id: "bad", aliases: [] }, { actor: "cli:alice" }), ConfigInvalidError);
    await assert.rejects(store.remove("distribution", "nope", { actor: "cli:alice" }), StoreNotFoundError);
    assert.equal(await count(), before);

    // An apply: one record per resource it changes, all of its one revision.
    const applied = await store.replaceAll({ log: { level: "info" }, distributions: [distribution("shop", "shop.example", "https://v2.internal"), distribution("blog")] }, { actor: "cli:carol", summary: "apply moat.yaml" });
    // An apply of what is there changes no resource: still one record, of the revision it made.
    const same = await store.replaceAll({ log: { level: "info" }, distributions: [distribution("shop", "shop.example", "https://v2.internal"), distribution("blog")] }, { actor: "cli:carol", summary: "apply moat.yaml" });

    const now = new Date("2026-12-05T12:00:00.000Z");
    const { token } = await store.tokens.create({ name: "ci", role: "operator", expiresAt: new Date(now.getTime() + 3_600_000), createdBy: "cli:alice", now });
    await store.tokens.revoke(token.id, now, "api:token/0123456789abcdef");
    const afterTokens = await count();
    await store.tokens.revoke(token.id, now, "cli:alice");
    assert.equal(await store.tokens.revoke("0000000000000000", now, "cli:alice"), undefined);
    assert.equal(await count(), afterTokens, "revoking a revoked or unknown token is no change, and no record");

    const records = await allRecords(store);
    assert.deepEqual(
      records.map((record) => [record.seq, record.action, record.actor, record.resource, record.distribution, record.revision]),
      [
        [1, "config.put", "cli:alice", "distribution/shop", "shop", 1],
        [2, "config.put", "api:token/0123456789abcdef", "trustStore/partners", null, 2],
        [3, "config.put", "cli:alice", "distribution/shop", "shop", 3],
        [4, "config.remove", "api:certificate/alice", "trustStore/partners", null, 4],
        [5, "config.apply", "cli:carol", "distribution/blog", "blog", applied.revision],
        [6, "config.apply", "cli:carol", "setting/log", null, applied.revision],
        [7, "config.apply", "cli:carol", "config", null, same.revision],
        [8, "token.create", "cli:alice", `token/${token.id}`, null, null],
        [9, "token.revoke", "api:token/0123456789abcdef", `token/${token.id}`, null, null],
      ],
    );
    // Before and after are the resource's documents; the time is the revision's own.
    assert.deepEqual([records[0]?.before, records[0]?.after], [null, distribution("shop")]);
    assert.deepEqual([records[2]?.before, records[2]?.after], [distribution("shop"), distribution("shop", "shop.example", "https://v2.internal")]);
    assert.deepEqual([records[3]?.before, records[3]?.after], [{ caBundle: "/etc/partners.pem" }, null]);
    const revisions = await store.revisions(100);
    for (const record of records.filter((item) => item.revision !== null)) {
      assert.equal(record.at, revisions.find((revision) => revision.revision === record.revision)?.createdAt);
    }
    assert.equal((records[8]?.before as { revokedAt: unknown }).revokedAt, null);
    assert.equal((records[8]?.after as { revokedAt: unknown }).revokedAt, now.toISOString());
    // A chain: each record names the hash of the one before.
    assert.equal(records[0]?.prevHash, GENESIS_HASH);
    for (let index = 1; index < records.length; index += 1) assert.equal(records[index]?.prevHash, records[index - 1]?.hash);
    assert.deepEqual(await store.audit.head(), { seq: 9, hash: records[8]?.hash });
    const { checkpoints, ...verified } = await store.audit.verify();
    assert.deepEqual(verified, { ok: true, records: 9, head: { seq: 9, hash: records[8]?.hash } });
    // No checkpoint signed: the trail is reported as unanchored, not passed silently.
    assert.equal(checkpoints.count, 0);
    assert.match(checkpoints.warnings.join("\n"), /no signed checkpoint: records 1\.\.9 are only hash-chained/);
  });

  test("audit: a record that cannot be written fails its change, and nothing of the change is kept", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, address);
    await store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice" });
    // A row planted after the head behind the store's back: the change's record cannot follow it, and the change is refused whole.
    await engine.rawExecute(address, insertStatement(forged(2, GENESIS_HASH)));
    const refused = (error: unknown) => error instanceof AuditChainBrokenError && error.code === "audit-chain-broken" && /record 2 is after the store's head \(record 1\)/.test(error.message);
    await assert.rejects(store.put("distribution", "blog", distribution("blog"), { actor: "cli:alice" }), refused);
    assert.equal(await store.revision(), 1);
    assert.equal(await store.get("distribution", "blog"), undefined);
    const now = new Date();
    await assert.rejects(store.tokens.create({ name: "ci", role: "admin", expiresAt: new Date(now.getTime() + 60_000), createdBy: "cli:alice", now }), refused);
    assert.deepEqual(await store.tokens.list(), []);
  });

  test("audit: a change that fails after its record was written takes the record with it", async (t) => {
    const address = await engine.freshAddress(t);
    const store = await open(t, address);
    await store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice" });
    const head = await store.audit.head();
    // A trigger that fails the distribution's row, which is written after the record, in the same transaction.
    const statements = address.startsWith("postgres")
      ? [
          "create function planted_failure() returns trigger as $$ begin raise exception 'planted failure'; end $$ language plpgsql",
          "create trigger planted_failure before insert on distributions for each row when (new.name = 'blog') execute function planted_failure()",
        ]
      : ["create trigger planted_failure before insert on distributions when new.name = 'blog' begin select raise(abort, 'planted failure'); end"];
    for (const statement of statements) await engine.rawExecute(address, statement);
    await assert.rejects(store.put("distribution", "blog", distribution("blog"), { actor: "cli:alice" }), /planted failure/);
    assert.deepEqual(await store.audit.head(), head);
    assert.deepEqual((await allRecords(store)).map((record) => record.resource), ["distribution/shop"]);
    assert.equal(await store.revision(), 1);
    // The next change takes the next number: nothing was left half-written.
    await store.put("distribution", "cart", distribution("cart"), { actor: "cli:alice" });
    assert.deepEqual((await allRecords(store)).map((record) => [record.seq, record.resource]), [[1, "distribution/shop"], [2, "distribution/cart"]]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  test("audit: a store made before the trail existed is migrated: its revisions keep no head, its first change after is record 1, and verify passes", async (t) => {
    const address = await engine.freshAddress(t);
    const { engine: kind, target } = parseStoreAddress(address);
    const db = kind === "postgres" ? openPostgresEngine(target) : openSqliteEngine(target);
    const older = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < "0003"));
    const migrated = await new Migrator({ db, provider: { getMigrations: async () => older } }).migrateToLatest();
    await db.destroy();
    assert.equal(migrated.error, undefined);
    await engine.rawExecute(address, "insert into revisions (revision, created_at, actor, summary) values (1, '2026-01-01T00:00:00.000Z', 'cli:old', 'put distribution shop')");
    await engine.rawExecute(address, `insert into distributions (name, document, version, revision) values ('shop', '${JSON.stringify(distribution("shop"))}', 1, 1)`);
    const store = await open(t, address);
    assert.deepEqual(await store.audit.verify(), { ok: true, records: 0, head: { seq: 0, hash: GENESIS_HASH }, checkpoints: { count: 0, coveredThrough: 0, last: null, signatures: "not-checked", warnings: [] } });
    await store.put("distribution", "shop", distribution("shop", "www.shop.example"), { actor: "cli:new", ifVersion: 1 });
    const [record] = await allRecords(store);
    assert.deepEqual([record?.seq, record?.revision, record?.before, record?.prevHash], [1, 2, distribution("shop"), GENESIS_HASH]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  test("audit: no token secret or hash anywhere in the trail", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    const now = new Date();
    const { secret, token } = await store.tokens.create({ name: "ci", role: "admin", expiresAt: new Date(now.getTime() + 60_000), createdBy: "cli:alice", now });
    await store.tokens.verify(secret, now);
    await store.tokens.revoke(token.id, now, "cli:alice");
    const trail = JSON.stringify(await allRecords(store));
    const random = secret.slice(`moat_${token.id}_`.length);
    assert.ok(trail.includes(token.id), "the token is named by its id");
    assert.ok(!trail.includes(random), "the secret is in the trail");
    assert.ok(!trail.includes(createHash("sha256").update(secret).digest("hex")), "the secret's hash is in the trail");
    assert.ok(!/secret/i.test(trail), trail);
  });

  test("audit: the sink records an event of its own (a certificate's) under the write lock, in order with config changes", async (t) => {
    const store = await open(t, await engine.freshAddress(t));
    await store.put("distribution", "shop", distribution("shop"), { actor: "cli:alice" });
    const record = await store.audit.record({
      actor: "api:certificate/alice",
      action: "certificate.revoke",
      resource: "certificate/1a2b3c",
      distribution: "shop",
      before: { serialHex: "1a2b3c", revoked: false },
      after: { serialHex: "1a2b3c", revoked: true, reason: "keyCompromise" },
    });
    assert.equal(record.seq, 2);
    assert.equal(record.revision, null);
    await store.put("distribution", "blog", distribution("blog"), { actor: "cli:alice" });
    assert.deepEqual((await store.audit.list({ limit: 10, distribution: "shop" })).map((item) => item.action), ["config.put", "certificate.revoke"]);
    assert.deepEqual((await store.audit.list({ limit: 10, action: "certificate.revoke" })).map((item) => item.seq), [2]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  // Each tampering on a fresh trail of seven records; verify names the first record that is wrong, and how.
  const tamperings: [name: string, kind: string, seq: number, message: RegExp, tamper: (address: string, records: AuditRecord[]) => string[]][] = [
    ["an edited field", "edited", 3, /record 3 was edited/, () => ["update audit_log set actor = 'cli:mallory' where seq = 3"]],
    ["an edited document", "edited", 2, /record 2 was edited/, () => [`update audit_log set after = '{"id":"blog","aliases":["evil.example"],"origins":[]}' where seq = 2`]],
    ["a deleted middle record", "deleted", 4, /record 4 is missing/, () => ["delete from audit_log where seq = 4"]],
    ["a swapped pair", "reordered", 2, /record 2 was written as record 3: records were reordered/, () => ["update audit_log set seq = -2 where seq = 2", "update audit_log set seq = 2 where seq = 3", "update audit_log set seq = 3 where seq = -2"]],
    [
      "an inserted record (a correct hash, the rest renumbered)",
      "inserted",
      4,
      /record 5 was written as record 4: record 4 was inserted before it/,
      (_, records) => ["update audit_log set seq = seq + 1000 where seq >= 4", "update audit_log set seq = seq - 999 where seq >= 1000", insertStatement(forged(4, records[2]?.hash as string))],
    ],
    ["a record appended behind the store's back", "inserted", 8, /record 8 is after the store's head \(record 7\)/, (_, records) => [insertStatement(forged(8, records[6]?.hash as string))]],
    ["a truncated tail", "truncated", 6, /the trail ends at record 5 but the store's head is record 7: records 6 to 7 are missing/, () => ["delete from audit_log where seq >= 6"]],
    [
      "a truncated tail with the head rewritten to match",
      "head-mismatch",
      5,
      /revision 5 recorded record 5 with hash .*but there is no such record/,
      (_, records) => ["delete from audit_log where seq >= 5", `update write_lock set audit_seq = 4, audit_hash = '${records[3]?.hash}'`],
    ],
  ];
  for (const [name, kind, seq, message, tamper] of tamperings) {
    test(`audit verify finds ${name}`, async (t) => {
      const address = await engine.freshAddress(t);
      const store = await open(t, address);
      await sevenRecords(store);
      const records = await allRecords(store);
      assert.equal(records.length, 7);
      assert.equal((await store.audit.verify()).ok, true);
      for (const statement of tamper(address, records)) await engine.rawExecute(address, statement);
      const result = await store.audit.verify();
      assert.equal(result.ok, false, JSON.stringify(result));
      if (result.ok) return;
      assert.equal(result.problem.kind, kind, result.problem.message);
      assert.equal(result.problem.seq, seq, result.problem.message);
      assert.match(result.problem.message, message);
    });
  }
}
