// What the admin API does with resources: versions and preconditions, bad bodies, pages, deadlines, its OpenAPI document. Run on each store engine.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { CallOptions } from "./admin-api-client.ts";
import { assertProblem, distribution, snapshot, useAdminApi } from "./admin-api-harness.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";

export function adminApiResourcesContract(engine: EngineUnderTest): void {
  const { setUp } = useAdminApi(engine);

  test("ETags are versions: replace and delete need If-Match (428 without), a stale one gets 412, create refuses an existing one", async (t) => {
    const api = await setUp(t);
    const operator = { token: api.tokens.operator };
    const created = await api.call(operator, "/distributions", { method: "POST", body: distribution("shop") });
    assert.equal(created.status, 201);
    assert.equal(created.headers.etag, '"1"');
    assert.equal(created.headers.location, "/distributions/shop");
    const read = await api.call(operator, "/distributions/shop");
    assert.equal(read.headers.etag, '"1"');
    assert.deepEqual(read.json.document, distribution("shop"));

    const changed = distribution("shop", "shop.example", "https://v2.internal");
    const refusals: [CallOptions & { path?: string }, number, string][] = [
      [{ method: "PUT", body: changed }, 428, "api-precondition-required"],
      [{ method: "PUT", body: changed, headers: { "if-match": '"7"' } }, 412, "store-version-conflict"],
      [{ method: "PUT", body: changed, headers: { "if-match": 'W/"1"' } }, 400, "api-request-invalid"],
      [{ method: "PUT", body: changed, headers: { "if-none-match": "*" } }, 412, "store-version-conflict"],
      [{ method: "DELETE" }, 428, "api-precondition-required"],
      [{ method: "DELETE", headers: { "if-match": '"2"' } }, 412, "store-version-conflict"],
      [{ method: "POST", body: distribution("shop"), path: "/distributions" }, 409, "api-resource-exists"],
      [{ method: "PUT", body: distribution("blog"), headers: { "if-match": "*" }, path: "/distributions/blog" }, 404, "store-not-found"],
    ];
    for (const [options, status, code] of refusals) {
      const before = await snapshot(api.store);
      assertProblem(await api.call(operator, options.path ?? "/distributions/shop", options), status, code);
      assert.deepEqual(await snapshot(api.store), before, `${options.method} changed the store`);
    }
    const replaced = await api.call(operator, "/distributions/shop", { method: "PUT", body: changed, headers: { "if-match": '"1"' } });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.headers.etag, '"2"');
    assert.equal((await api.call(operator, "/distributions/shop", { method: "PUT", body: changed, headers: { "if-match": '"1"' } })).status, 412);
    const star = await api.call(operator, "/distributions/shop", { method: "PUT", body: distribution("shop"), headers: { "if-match": "*" } });
    assert.equal(star.headers.etag, '"3"');
    const made = await api.call(operator, "/distributions/blog", { method: "PUT", body: distribution("blog"), headers: { "if-none-match": "*" } });
    assert.equal(made.status, 201, made.text);
    assert.equal((await api.call(operator, "/distributions/blog", { method: "DELETE", headers: { "if-match": '"1"' } })).status, 204);
    assertProblem(await api.call(operator, "/distributions/blog"), 404, "api-not-found");
    assert.equal(await api.store.revision(), 5);
  });

  test("a document is stored as it was sent (durations and sizes as a config file writes them), not as the schema parsed it", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    const shop = { ...distribution("shop"), origins: [{ id: "app", url: "https://app.internal:8443", timeouts: { connect: "5s", response: "30s" } }] };
    const created = await api.call(admin, "/distributions", { method: "POST", body: shop });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.document, shop);
    const changed = { ...shop, aliases: ["shop.example", "www.shop.example"] };
    const replaced = await api.call(admin, "/distributions/shop", { method: "PUT", body: changed, headers: { "if-match": '"1"' } });
    assert.equal(replaced.status, 200, replaced.text);
    const cache = { memory: { maxSize: "64MiB" } };
    const stored = await api.call(admin, "/settings/cache", { method: "PUT", body: cache, headers: { "if-none-match": "*" } });
    assert.equal(stored.status, 201, stored.text);
    assert.deepEqual(stored.json.document, cache);
    assert.deepEqual((await api.store.read()).document, { cache, distributions: [changed] });
  });

  test("bad bodies are refused with problem details naming the field, and the store is left as it was", async (t) => {
    const api = await setUp(t, { bodyLimitBytes: 64 * 1024 });
    const admin = { token: api.tokens.admin };
    await api.call(admin, "/distributions", { method: "POST", body: distribution("shop") });
    const cases: [string, CallOptions, number, string, { path: string; message: RegExp; pointer?: string }[]][] = [
      ["wrong type", { method: "POST", body: { ...distribution("blog"), aliases: "blog.example" } }, 400, "api-request-invalid", [{ path: "aliases", message: /^must be a list \(got "blog\.example"\)$/, pointer: "/aliases" }]],
      ["nested wrong value", { method: "POST", body: { ...distribution("blog"), origins: [{ id: "app", url: "ftp://app.internal" }] } }, 400, "api-request-invalid", [{ path: "origins[0].url", message: /https/, pointer: "/origins/0/url" }]],
      ["unknown field", { method: "POST", body: { ...distribution("blog"), orgins: [] } }, 400, "api-request-invalid", [{ path: "orgins", message: /^unknown key \(did you mean "origins"\?\)$/, pointer: "/orgins" }]],
      ["invalid JSON", { method: "POST", rawBody: '{"id": "blog",', headers: { "content-type": "application/json" } }, 400, "api-request-invalid", [{ path: "", message: /not JSON/ }]],
      ["not JSON at all", { method: "POST", rawBody: "id=blog", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "api-unsupported-media-type", []],
      ["too large", { method: "POST", body: { ...distribution("blog"), aliases: Array.from({ length: 5000 }, (_, index) => `a${index}.example`) } }, 413, "api-body-too-large", []],
      // Paths in the config the change would make, as `moat config check` names them: distributions in name order (blog, shop).
      ["valid alone, not with the rest", { method: "POST", body: distribution("blog", "shop.example") }, 422, "config-invalid", [{ path: "distributions[1].aliases[0]", message: /duplicate alias "shop\.example"/ }]],
      ["a behavior naming no origin", { method: "POST", body: { ...distribution("blog"), behaviors: [{ path: "*", target: "nowhere" }] } }, 422, "config-invalid", [{ path: "distributions[0].behaviors[0].target", message: /nowhere/ }]],
      ["__proto__", { method: "POST", rawBody: '{"id":"blog","__proto__":{"x":1}}', headers: { "content-type": "application/json" } }, 400, "api-request-invalid", []],
    ];
    for (const [name, options, status, code, errors] of cases) {
      const before = await snapshot(api.store);
      const answer = await api.call(admin, "/distributions", options);
      assertProblem(answer, status, code);
      for (const expected of errors) {
        const found = (answer.json.errors as { path: string; message: string; pointer?: string }[]).find((error) => error.path === expected.path);
        assert.ok(found, `${name}: no error at ${expected.path} in ${answer.text}`);
        assert.match(found.message, expected.message, name);
        if (expected.pointer) assert.equal(found.pointer, expected.pointer, name);
      }
      assert.deepEqual(await snapshot(api.store), before, `${name} changed the store`);
    }
    // The path names the resource: an id in the body other than the one in the URL is refused, not stored under either.
    const before = await snapshot(api.store);
    const mismatch = await api.call(admin, "/distributions/shop", { method: "PUT", headers: { "if-match": '"1"' }, body: distribution("blog") });
    assertProblem(mismatch, 422, "config-invalid");
    assert.match(mismatch.json.errors[0].message, /must be "shop"/);
    assertProblem(await api.call(admin, "/trust-stores/partners", { method: "PUT", headers: { "if-none-match": "*" }, body: { caBundle: 5, crls: [] } }), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/settings/log", { method: "PUT", headers: { "if-none-match": "*" }, body: { level: "loud" } }), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/tokens", { method: "POST", body: { name: "x", role: "root" } }), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/tokens", { method: "POST", body: { name: "x", role: "admin", expiresIn: "10y" } }), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/distributions?limit=0"), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/revisions?page=2"), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/distributions/..%2Fetc"), 400, "api-request-invalid");
    assertProblem(await api.call(admin, "/distributions/shop", { method: "DELETE", headers: { "if-match": '"1"' }, body: {} }), 400, "api-request-invalid");
    assert.deepEqual(await snapshot(api.store), before);
  });

  test("lists come a page at a time in name order; revisions newest first with who made each", async (t) => {
    const api = await setUp(t);
    const operator = { token: api.tokens.operator };
    for (const id of ["c", "a", "b"]) assert.equal((await api.call(operator, "/distributions", { method: "POST", body: distribution(id) })).status, 201);
    const first = await api.call(operator, "/distributions?limit=2");
    assert.deepEqual(first.json.items.map((item: { id: string }) => item.id), ["a", "b"]);
    assert.equal(first.json.revision, 3);
    assert.equal(first.json.nextCursor, "b");
    const second = await api.call(operator, `/distributions?limit=2&cursor=${first.json.nextCursor}`);
    assert.deepEqual(second.json.items.map((item: { id: string }) => item.id), ["c"]);
    assert.equal(second.json.nextCursor, undefined);
    const revisions = await api.call({ token: api.tokens.viewer }, "/revisions?limit=2");
    assert.deepEqual(revisions.json.items.map((item: { revision: number; summary: string }) => [item.revision, item.summary]), [[3, "put distribution b"], [2, "put distribution a"]]);
    assert.equal(revisions.json.nextBefore, 2);
    const older = await api.call({ token: api.tokens.viewer }, "/revisions?limit=2&before=2");
    assert.deepEqual(older.json.items.map((item: { revision: number }) => item.revision), [1]);
    assert.equal(older.json.nextBefore, undefined);
  });

  test("edges: each edge that reported, by name, with the revision it serves and its health beside the store's newest; ?maxLag= sets when behind begins", async (t) => {
    const api = await setUp(t);
    const viewer = { token: api.tokens.viewer };
    assert.deepEqual((await api.call(viewer, "/edges")).json, { revision: 0, revisionAt: null, maxLagMs: 30_000, items: [] });
    await api.store.put("distribution", "shop", distribution("shop"), { actor: "test" });
    await api.store.put("distribution", "blog", distribution("blog"), { actor: "test" });
    // Heartbeats by the test's clock: now (live), an hour ago (silent: 3 intervals of 10 s passed), two days ago (gone).
    const now = new Date().toISOString();
    const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    const row = (name: string, revision: number, lastSeenAt: string) => ({ name, revision, servedAt: at(7_200_000), lastSeenAt, startedAt: at(7_200_000), version: "0.1.0", region: "eu-west", heartbeatMs: 10_000 });
    await api.store.edges.report(row("lagging", 1, now));
    await api.store.edges.report(row("current", 2, now));
    await api.store.edges.report(row("stopped", 2, at(3_600_000)));
    await api.store.edges.report(row("old", 2, at(48 * 3_600_000)));
    const listed = await api.call(viewer, "/edges");
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.revision, 2);
    assert.match(listed.json.revisionAt, /^\d{4}-\d\d-\d\dT/);
    // Revision 2 was committed a moment ago: within the default lag of 30 s, "lagging" is ok yet, one revision behind.
    const summary = (json: { items: { name: string; revision: number; health: string; behindRevisions: number; region: string }[] }) =>
      json.items.map((edge) => [edge.name, edge.region, edge.revision, edge.health, edge.behindRevisions]);
    assert.deepEqual(summary(listed.json), [
      ["current", "eu-west", 2, "ok", 0],
      ["lagging", "eu-west", 1, "ok", 1],
      ["old", "eu-west", 2, "gone", 0],
      ["stopped", "eu-west", 2, "silent", 0],
    ]);
    assert.equal(listed.json.items[1].behindSince, listed.json.revisionAt);
    // With no lag allowed, being one revision behind is behind (after the commit's millisecond has passed).
    await new Promise((resolve) => setTimeout(resolve, 5));
    const strict = await api.call(viewer, "/edges?maxLag=0s");
    assert.equal(strict.json.maxLagMs, 0);
    assert.deepEqual(summary(strict.json).map(([name, , , health]) => [name, health]), [["current", "ok"], ["lagging", "behind"], ["old", "gone"], ["stopped", "silent"]]);
    assertProblem(await api.call(viewer, "/edges?maxLag=soon"), 400, "api-request-invalid");
  });

  test("a request that passes its deadline is answered 503 with problem details", async (t) => {
    const api = await setUp(t, { deadlineMs: 300, wrapStore: (store) => ({ ...store, read: () => new Promise(() => undefined) }) });
    assertProblem(await api.call({ token: api.tokens.viewer }, "/distributions"), 503, "api-deadline-exceeded");
  });

  test("/openapi.json is a valid OpenAPI 3.1 document with every route the API serves, and closed bodies", async (t) => {
    const api = await setUp(t);
    const answer = await api.call({ token: api.tokens.viewer }, "/openapi.json");
    assert.equal(answer.status, 200);
    const validator = new Validator();
    const result = await validator.validate(answer.json);
    assert.deepEqual(result, { valid: true });
    assert.equal(validator.version, "3.1");
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(answer.json.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`);
    }
    assert.deepEqual([...documented].sort(), api.routes.map((route) => `${route.method} ${route.url}`).sort());
    const body = answer.json.paths["/distributions"].post.requestBody.content["application/json"].schema;
    const schema = answer.json.components.schemas[body.$ref.split("/").at(-1)];
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.required.sort(), ["aliases", "id", "origins"]);
    assert.equal(schema.properties.origins.items.additionalProperties, false);
  });

  test("every answer has the shape the OpenAPI document gives for its route and status", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    const calls: [string, string, CallOptions?][] = [
      ["POST", "/distributions", { body: distribution("shop") }],
      ["PUT", "/distributions/shop", { headers: { "if-match": '"1"' }, body: distribution("shop", "shop.example", "https://v2.internal") }],
      ["PUT", "/distributions/blog", { headers: { "if-none-match": "*" }, body: distribution("blog") }],
      ["GET", "/distributions"],
      ["GET", "/distributions/shop"],
      ["PUT", "/trust-stores/partners", { headers: { "if-none-match": "*" }, body: { caBundle: "/etc/partners.pem" } }],
      ["GET", "/trust-stores"],
      ["GET", "/trust-stores/partners"],
      ["PUT", "/settings/log", { headers: { "if-none-match": "*" }, body: { level: "warn" } }],
      ["PUT", "/settings/workers", { headers: { "if-none-match": "*" }, body: 2 }],
      ["GET", "/settings"],
      ["GET", "/settings/log"],
      ["GET", "/revisions"],
      ["POST", "/tokens", { body: { name: "ci", role: "viewer" } }],
      ["GET", "/tokens"],
      ["DELETE", "/distributions/blog", { headers: { "if-match": '"1"' } }],
      ["GET", "/config"],
      ["POST", "/config/diff", { body: { workers: 3, distributions: [distribution("blog")] } }],
      ["PUT", "/config", { headers: { "if-match": '"7"' }, body: { distributions: [distribution("blog")] } }],
    ];
    for (const [method, path, options] of calls) {
      const answer = await api.call(admin, path, { method, ...options });
      assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${answer.text}`);
      const route = api.routes.find((candidate) => candidate.method === method && new RegExp(`^${candidate.url.replace(/:\w+/g, "[^/]+")}$`).test(path));
      const spec = route?.responses[answer.status];
      assert.ok(spec, `${method} ${path} answered ${answer.status}, which its route does not document`);
      if (spec.schema) {
        const parsed = spec.schema.safeParse(answer.json);
        assert.ok(parsed.success, `${method} ${path}: ${JSON.stringify(parsed.error?.issues)}`);
      } else assert.equal(answer.text, "", `${method} ${path} answered a body its route does not document`);
    }
    const tokens = await api.call(admin, "/tokens");
    const id = (tokens.json.items as { id: string; name: string }[]).find((token) => token.name === "ci")?.id as string;
    for (const [method, path] of [["GET", `/tokens/${id}`], ["DELETE", `/tokens/${id}`]] as const) {
      const answer = await api.call(admin, path, { method });
      const route = api.routes.find((candidate) => candidate.method === method && candidate.url === "/tokens/:id");
      assert.ok(route?.responses[answer.status]?.schema?.safeParse(answer.json).success, `${method} ${path}: ${answer.text}`);
    }
  });
}
