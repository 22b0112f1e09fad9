// The audit trail over the admin API: pages by sequence, filters, admins only, and verification. Run on each store engine.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { AuditRecord } from "../../src/store/index.ts";
import { assertProblem, distribution, secretOf, useAdminApi } from "./admin-api-harness.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";

export function adminApiAuditContract(engine: EngineUnderTest): void {
  const suite = useAdminApi(engine);

  test("GET /audit: the trail oldest first, a page at a time by seq, filtered by resource, actor, action, distribution; no token secret in it", async (t) => {
    const api = await suite.setUp(t);
    const admin = { token: api.tokens.admin };
    const adminId = api.tokens.admin.slice(5, 21);
    assert.equal((await api.call(admin, "/distributions", { method: "POST", body: distribution("shop") })).status, 201);
    assert.equal((await api.call(admin, "/distributions", { method: "POST", body: distribution("blog") })).status, 201);
    assert.equal((await api.call(admin, "/distributions/shop", { method: "PUT", headers: { "if-match": '"1"' }, body: distribution("shop", "www.shop.example") })).status, 200);
    const created = await api.call(admin, "/tokens", { method: "POST", body: { name: "ci", role: "operator" } });
    assert.equal(created.status, 201, created.text);
    const tokenId = created.json.token.id as string;
    assert.equal((await api.call(admin, `/tokens/${tokenId}`, { method: "DELETE" })).status, 200);
    // A refused change leaves no record.
    assertProblem(await api.call(admin, "/distributions/shop", { method: "PUT", headers: { "if-match": '"1"' }, body: distribution("shop") }), 412, "store-version-conflict");

    const pages: AuditRecord[][] = [];
    for (let path = "/audit?limit=3"; ; ) {
      const answer = await api.call(admin, path);
      assert.equal(answer.status, 200, answer.text);
      pages.push(answer.json.items);
      if (answer.json.nextAfter === undefined) break;
      assert.equal(answer.json.nextAfter, answer.json.items.at(-1).seq);
      path = `/audit?limit=3&after=${answer.json.nextAfter}`;
    }
    const records = pages.flat();
    // The harness's three tokens, then this test's five changes.
    assert.deepEqual(pages.map((page) => page.length), [3, 3, 2]);
    assert.deepEqual(records.map((record) => record.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(records, await api.store.audit.list({ limit: 100 }));
    assert.deepEqual(
      records.slice(3).map((record) => [record.action, record.resource, record.actor]),
      [
        ["config.put", "distribution/shop", `api:token/${adminId}`],
        ["config.put", "distribution/blog", `api:token/${adminId}`],
        ["config.put", "distribution/shop", `api:token/${adminId}`],
        ["token.create", `token/${tokenId}`, `api:token/${adminId}`],
        ["token.revoke", `token/${tokenId}`, `api:token/${adminId}`],
      ],
    );

    const seqs = async (query: string) => ((await api.call(admin, `/audit?${query}`)).json.items as AuditRecord[]).map((record) => record.seq);
    assert.deepEqual(await seqs("distribution=shop"), [4, 6]);
    assert.deepEqual(await seqs("resource=distribution%2Fblog"), [5]);
    assert.deepEqual(await seqs("action=token.create"), [1, 2, 3, 7]);
    assert.deepEqual(await seqs(`actor=api%3Atoken%2F${adminId}&action=token.revoke`), [8]);
    assert.deepEqual(await seqs("after=6&action=config.put"), []);
    assertProblem(await api.call(admin, "/audit?action=config.nope"), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/audit?limit=0"), 400, "api-request-invalid");

    // The new token's secret, and its hash, are in the one answer that made it and nowhere in the trail.
    const secret = created.json.secret as string;
    const everything = JSON.stringify([records, await engine.rawRows(api.address, "audit_log")]);
    assert.ok(!everything.includes(secretOf(secret)));
    assert.ok(!everything.includes(createHash("sha256").update(secret).digest("hex")));
    assert.ok(!everything.includes(secretOf(api.tokens.admin)));

    // Admins only: the trail shows token records that only an admin may list.
    for (const role of ["viewer", "operator"] as const) assertProblem(await api.call({ token: api.tokens[role] }, "/audit"), 403, "api-forbidden");
  });

  test("PUT /config: one config.apply record per resource it changes, of its one revision; the same document again, none", async (t) => {
    const api = await suite.setUp(t);
    const admin = { token: api.tokens.admin };
    await api.call(admin, "/distributions", { method: "POST", body: distribution("shop") });
    const wanted = { log: { level: "warn" }, distributions: [distribution("blog")] };
    const put = await api.call(admin, "/config", { method: "PUT", body: wanted, headers: { "if-match": '"1"' } });
    assert.equal(put.status, 200, put.text);
    const again = await api.call(admin, "/config", { method: "PUT", body: wanted, headers: { "if-match": '"2"' } });
    assert.equal(again.status, 200, again.text);
    const records = (await api.call(admin, "/audit?after=4")).json.items as AuditRecord[];
    assert.deepEqual(
      records.map((record) => [record.action, record.resource, record.revision, record.before === null, record.after === null]),
      [
        ["config.apply", "distribution/shop", 2, false, true],
        ["config.apply", "distribution/blog", 2, true, false],
        ["config.apply", "setting/log", 2, true, false],
      ],
    );
  });

  test("GET /audit/verify: ok on an intact trail; a checkpoint signed after its signer's revocation fails it; names the first edited record once one is edited behind the store's back", async (t) => {
    const api = await suite.setUp(t);
    const admin = { token: api.tokens.admin };
    await api.call(admin, "/distributions", { method: "POST", body: distribution("shop") });
    const intact = await api.call(admin, "/audit/verify");
    assert.equal(intact.status, 200, intact.text);
    const head = await api.store.audit.head();
    const { checkpoints, ...verified } = intact.json;
    assert.deepEqual(verified, { ok: true, records: 4, head });
    // No checkpoint yet: unanchored, said so.
    assert.deepEqual([checkpoints.count, checkpoints.coveredThrough], [0, 0]);
    assert.match(checkpoints.warnings.join("\n"), /no signed checkpoint: records 1\.\.4 are only hash-chained/);
    // Signed with the API's data directory: verified against its CA bundle, and no piece of the signer's key in the answer.
    const { makeAuditCheckpoint } = await import("../../src/control/audit-checkpoints.ts");
    const { openCertificateAuthority, openPrivateKey } = await import("../../src/pki/index.ts");
    const ca = await openCertificateAuthority({ dataDir: api.dataDir, masterKey: api.masterKey });
    await makeAuditCheckpoint({ audit: api.store.audit, label: api.store.label, dataDir: api.dataDir, masterKey: api.masterKey, ca, name: "api-test" });
    const anchored = await api.call(admin, "/audit/verify");
    assert.equal(anchored.status, 200, anchored.text);
    assert.deepEqual([anchored.json.ok, anchored.json.checkpoints.count, anchored.json.checkpoints.coveredThrough, anchored.json.checkpoints.signatures, anchored.json.checkpoints.warnings], [true, 1, 4, "verified", []]);
    const keyPath = `${api.dataDir}/audit/signer.key`;
    const { readFile } = await import("node:fs/promises");
    const { keyPem } = openPrivateKey(await readFile(keyPath, "utf8"), api.masterKey, keyPath);
    const keyBody = keyPem.replace(/-----[^-]+-----|\s/g, "");
    assert.ok(!anchored.text.includes(keyBody.slice(40, 80)) && !api.logs.join("").includes(keyBody.slice(40, 80)), "a piece of the signer's key in the answer or the logs");
    // The API reads its data directory's revocations: a signer revoked (here dated) before the checkpoint's time fails it, naming its serial.
    const { revokeCertificate } = await import("../../src/pki/index.ts");
    const last = anchored.json.checkpoints.last;
    const serial = /\(serial ([0-9a-f]+),/.exec(last.signer)?.[1] ?? "";
    assert.ok(serial, last.signer);
    await revokeCertificate({ dataDir: api.dataDir, serialHex: serial, reason: "keyCompromise", clock: () => new Date(Date.parse(last.at) - 1_000) });
    const revoked = await api.call(admin, "/audit/verify");
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual([revoked.json.ok, revoked.json.problem?.kind], [false, "checkpoint-invalid"]);
    assert.match(revoked.json.problem.message, new RegExp(`was revoked at .* \\(serial ${serial}\\), at or before this checkpoint's time`));
    assert.ok(engine.rawExecute, "the engine must be able to run a statement behind the store's back");
    await engine.rawExecute(api.address, "update audit_log set actor = 'cli:mallory' where seq = 2");
    const broken = await api.call(admin, "/audit/verify");
    assert.equal(broken.status, 200);
    assert.equal(broken.json.ok, false);
    assert.equal(broken.json.records, 1);
    assert.deepEqual([broken.json.problem.seq, broken.json.problem.kind], [2, "edited"]);
    assert.match(broken.json.problem.message, /record 2 was edited/);
    assertProblem(await api.call({ token: api.tokens.operator }, "/audit/verify"), 403, "api-forbidden");
  });
}
