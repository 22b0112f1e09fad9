// The whole-document routes (GET /config, PUT /config, POST /config/diff): revisions as ETags, lost updates refused, invalid documents change nothing. Run on each store engine.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CallOptions } from "./admin-api-client.ts";
import { assertProblem, distribution, snapshot, useAdminApi } from "./admin-api-harness.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";

/** A document that names key files (a viewer certificate imported from PEM files, the master key file): by path only. */
function documentWithKeyFiles() {
  return {
    pki: { trustDomain: "moat.internal", masterKeyFile: "/etc/moat/master.key" },
    log: { level: "info" },
    distributions: [
      { ...distribution("shop"), viewerCertificate: { cert: "/etc/moat/shop.pem", key: "/etc/moat/shop.key" } },
      distribution("blog"),
    ],
  };
}

export function adminApiConfigContract(engine: EngineUnderTest): void {
  const { setUp } = useAdminApi(engine);

  test("GET /config: the whole document at the newest revision, ETag = revision; key files are named by path, never their content", async (t) => {
    const api = await setUp(t);
    const empty = await api.call({ token: api.tokens.viewer }, "/config");
    assert.equal(empty.status, 200, empty.text);
    assert.equal(empty.headers.etag, '"0"');
    assert.deepEqual(empty.json, { revision: 0, document: { distributions: [] } });

    const document = documentWithKeyFiles();
    await api.store.replaceAll(document, { actor: "test", summary: "seed" });
    await api.store.put("setting", "workers", 2, { actor: "test" });
    const read = await api.call({ token: api.tokens.viewer }, "/config");
    assert.equal(read.status, 200, read.text);
    assert.equal(read.headers.etag, '"2"');
    assert.equal(read.json.revision, 2);
    // The same document `moat export` writes: the store's read, as the loader takes it.
    assert.deepEqual(read.json.document, (await api.store.read()).document);
    assert.deepEqual(read.json.document.distributions[1].viewerCertificate, { cert: "/etc/moat/shop.pem", key: "/etc/moat/shop.key" });
    assert.doesNotMatch(read.text, /PRIVATE KEY|BEGIN /);
  });

  test("PUT /config: If-Match required (428), a stale revision refused (412), * refused (400), an invalid document refused (422) naming paths; nothing stored changes", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    await api.store.replaceAll(documentWithKeyFiles(), { actor: "test", summary: "seed" });
    // Someone else writes after our read: our If-Match "1" is stale.
    await api.store.put("setting", "log", { level: "warn" }, { actor: "someone-else" });
    const wanted = { ...documentWithKeyFiles(), log: { level: "debug" } };
    const refusals: [string, CallOptions, number, string][] = [
      ["no If-Match", { body: wanted }, 428, "api-precondition-required"],
      ["stale", { body: wanted, headers: { "if-match": '"1"' } }, 412, "store-revision-conflict"],
      ["a revision not reached yet", { body: wanted, headers: { "if-match": '"9"' } }, 412, "store-revision-conflict"],
      ["*", { body: wanted, headers: { "if-match": "*" } }, 400, "api-request-invalid"],
      ["If-None-Match", { body: wanted, headers: { "if-none-match": "*" } }, 428, "api-precondition-required"],
      ["not an object", { body: [wanted], headers: { "if-match": '"2"' } }, 400, "api-request-invalid"],
    ];
    for (const [name, options, status, code] of refusals) {
      const before = await snapshot(api.store);
      const answer = await api.call(admin, "/config", { method: "PUT", ...options });
      assertProblem(answer, status, code);
      assert.deepEqual(await snapshot(api.store), before, `${name} changed the store`);
    }
    const stale = await api.call(admin, "/config", { method: "PUT", body: wanted, headers: { "if-match": '"1"' } });
    assert.match(stale.json.detail, /the store is at revision 2, not 1 as the change assumed/);
    assert.match((await api.call(admin, "/config", { method: "PUT", body: wanted })).json.detail, /If-Match/);

    const invalid = {
      ...wanted,
      cache: { memory: "lots" },
      distributions: [{ ...distribution("shop"), viewerCertificate: { cert: "./shop.pem", key: "/etc/moat/shop.key" } }, distribution("blog", "shop.example")],
    };
    const before = await snapshot(api.store);
    const answer = await api.call(admin, "/config", { method: "PUT", body: invalid, headers: { "if-match": '"2"' } });
    assertProblem(answer, 422, "config-invalid");
    const paths = (answer.json.errors as { path: string; message: string }[]).map((error) => error.path);
    for (const expected of ["cache.memory", "distributions[0].viewerCertificate.cert", "distributions[1].aliases[0]"]) assert.ok(paths.includes(expected), `no error at ${expected}: ${answer.text}`);
    assert.deepEqual(await snapshot(api.store), before, "the invalid document changed the store");

    // Key material where a key file's path belongs is refused, and not repeated in the answer: the store never holds a key.
    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIC3rU3vV8Gm2m3Yp1aJb0m9sYq3l3n7sG3c1mQ9a7b2Z\n-----END PRIVATE KEY-----\n";
    const withKey = { ...wanted, distributions: [{ ...distribution("shop"), viewerCertificate: { cert: "/etc/moat/shop.pem", key: pem } }, distribution("blog")] };
    const keyRefused = await api.call(admin, "/config", { method: "PUT", body: withKey, headers: { "if-match": '"2"' } });
    assertProblem(keyRefused, 422, "config-invalid");
    const keyIssue = (keyRefused.json.errors as { path: string; message: string }[]).find((error) => error.path === "distributions[0].viewerCertificate.key");
    assert.match(keyIssue?.message ?? "", /not the file's content/, keyRefused.text);
    assert.equal(keyRefused.text.includes("MC4CAQAw"), false, "the key is not echoed");
    assert.equal(api.logs.some((line) => line.includes("MC4CAQAw")), false, "nor logged");
    assert.deepEqual(await snapshot(api.store), before);
  });

  test("PUT /config at the current revision: one new revision with every change, ETag = it; the same document again makes none", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    await api.store.replaceAll(documentWithKeyFiles(), { actor: "test", summary: "seed" });
    const read = await api.call(admin, "/config");
    const wanted = { ...read.json.document, log: { level: "debug" }, distributions: [distribution("docs"), read.json.document.distributions[1]] };

    const put = await api.call(admin, "/config", { method: "PUT", body: wanted, headers: { "if-match": read.headers.etag as string } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers.etag, '"2"');
    assert.equal(put.json.revision, 2);
    assert.equal(put.json.applied, true);
    assert.deepEqual(put.json.changes.map((change: { action: string; name: string }) => `${change.action} ${change.name}`), ["change log", "delete blog", "create docs"]);
    assert.deepEqual((await api.store.read()).document, { ...wanted, distributions: [distribution("docs"), read.json.document.distributions[1]] });
    const [revision] = await api.store.revisions(1);
    assert.equal(revision?.summary, "PUT /config: ~setting log, -distribution blog, +distribution docs");
    assert.match(revision?.actor ?? "", /^api:token\/[0-9a-f]{16}$/);

    const again = await api.call(admin, "/config", { method: "PUT", body: wanted, headers: { "if-match": '"2"' } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual([again.json.applied, again.json.revision, again.json.changes, again.headers.etag], [false, 2, [], '"2"']);
    assert.equal(await api.store.revision(), 2, "no revision for a document the store already holds");
  });

  test("POST /config/diff: what PUT would change, per resource and field by field, against the newest revision; nothing is written", async (t) => {
    const api = await setUp(t);
    const operator = { token: api.tokens.operator };
    await api.store.replaceAll(documentWithKeyFiles(), { actor: "test", summary: "seed" });
    const document = documentWithKeyFiles();
    const wanted = {
      pki: document.pki,
      workers: 2,
      distributions: [{ ...document.distributions[0]!, aliases: ["shop.example", "www.shop.example"] }, distribution("blog", "blog.example", "https://v2.internal:8443")],
    };
    const before = await snapshot(api.store);
    const answer = await api.call(operator, "/config/diff", { method: "POST", body: wanted });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, {
      revision: 1,
      unchanged: 1,
      changes: [
        { action: "delete", kind: "setting", name: "log", document: { level: "info" } },
        { action: "create", kind: "setting", name: "workers", document: 2 },
        { action: "change", kind: "distribution", name: "blog", fields: [{ change: "changed", path: "origins[id=app].url", before: "https://app.internal:8443", after: "https://v2.internal:8443" }] },
        { action: "change", kind: "distribution", name: "shop", fields: [{ change: "changed", path: "aliases", before: ["shop.example"], after: ["shop.example", "www.shop.example"] }] },
      ],
    });
    assert.deepEqual(await snapshot(api.store), before, "a diff changed the store");
    const invalid = await api.call(operator, "/config/diff", { method: "POST", body: { distributions: [{ id: "x" }] } });
    assertProblem(invalid, 422, "config-invalid");
    assert.ok((invalid.json.errors as { path: string }[]).some((error) => error.path.startsWith("distributions[0]")), invalid.text);
  });
}
