// The SDK against a real admin API (TLS 1.3 on loopback) on each store engine: a round trip per resource, and problems as typed errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { ApiProblemError, createMoatClient, ifMatch, versionOf } from "../../src/sdk/index.ts";
import type { MoatClient } from "../../src/sdk/index.ts";
import { distribution, useAdminApi } from "../control/admin-api-harness.ts";
import type { EngineUnderTest, Harness } from "../control/admin-api-harness.ts";

/** Runs `call` and returns the ApiProblemError it must throw. */
export async function problemOf(call: Promise<unknown>): Promise<ApiProblemError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiProblemError, `expected an ApiProblemError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

export function sdkContract(engine: EngineUnderTest): void {
  const suite = useAdminApi(engine);

  async function connect(t: TestContext, role: "viewer" | "operator" | "admin" = "admin"): Promise<{ api: Harness; moat: MoatClient }> {
    const api = await suite.setUp(t);
    const moat = createMoatClient({ url: api.url, ca: suite.ca().bundlePem, token: api.tokens[role] });
    t.after(() => moat.close());
    return { api, moat };
  }

  test("distributions: create, list, read with its version, replace with If-Match, delete", async (t) => {
    const { api, moat } = await connect(t);
    const created = await moat.POST("/distributions", { body: distribution("shop") });
    assert.equal(created.response.status, 201);
    assert.equal(created.data?.id, "shop");
    assert.equal(versionOf(created.response), 1);
    await moat.POST("/distributions", { body: distribution("blog") });

    const listed = await moat.GET("/distributions", { params: { query: { limit: 1 } } });
    assert.deepEqual(listed.data?.items.map((item) => item.id), ["blog"]);
    assert.equal(listed.data?.nextCursor, "blog");
    const next = await moat.GET("/distributions", { params: { query: { cursor: listed.data?.nextCursor } } });
    assert.deepEqual(next.data?.items.map((item) => [item.id, item.version]), [["shop", 1]]);

    const read = await moat.GET("/distributions/{id}", { params: { path: { id: "shop" } } });
    assert.deepEqual(read.data?.document, distribution("shop"));
    const version = versionOf(read.response) as number;
    const changed = { ...distribution("shop"), aliases: ["shop.example", "www.shop.example"] };
    const replaced = await moat.PUT("/distributions/{id}", { params: { path: { id: "shop" }, header: { "If-Match": ifMatch(version) } }, body: changed });
    assert.equal(replaced.response.status, 200);
    assert.equal(replaced.data?.version, 2);
    assert.deepEqual((await api.store.get("distribution", "shop"))?.document, changed);

    const deleted = await moat.DELETE("/distributions/{id}", { params: { path: { id: "blog" }, header: { "If-Match": ifMatch(1) } } });
    assert.equal(deleted.response.status, 204);
    assert.equal(deleted.data, undefined);
    assert.equal(await api.store.get("distribution", "blog"), undefined);
  });

  test("trust stores: create with If-None-Match, list, replace, delete", async (t) => {
    const { api, moat } = await connect(t, "operator");
    const path = { name: "partners" };
    const created = await moat.PUT("/trust-stores/{name}", { params: { path, header: { "If-None-Match": "*" } }, body: { caBundle: "/etc/moat/partners.pem" } });
    assert.equal(created.response.status, 201);
    assert.deepEqual((await moat.GET("/trust-stores")).data?.items.map((item) => [item.name, item.version, item.document.caBundle]), [["partners", 1, "/etc/moat/partners.pem"]]);
    const replaced = await moat.PUT("/trust-stores/{name}", { params: { path, header: { "If-Match": ifMatch(1) } }, body: { caBundle: "/etc/moat/partners-2.pem", allowNoEku: true } });
    assert.equal(replaced.data?.version, 2);
    await moat.DELETE("/trust-stores/{name}", { params: { path, header: { "If-Match": ifMatch(2) } } });
    assert.equal(await api.store.get("trustStore", "partners"), undefined);
  });

  test("settings, revisions and tokens: stored, listed with who did it, created and revoked", async (t) => {
    const { api, moat } = await connect(t);
    const stored = await moat.PUT("/settings/log", { params: { header: { "If-None-Match": "*" } }, body: { level: "warn" } });
    assert.equal(stored.response.status, 201);
    assert.deepEqual((await moat.GET("/settings/log")).data?.document, { level: "warn" });
    assert.deepEqual((await moat.GET("/settings")).data?.items.map((item) => item.name), ["log"]);

    const made = await moat.POST("/tokens", { body: { name: "ci-deploy", role: "viewer", expiresIn: "1d" } });
    assert.match(made.data?.secret ?? "", /^moat_[0-9a-f]{16}_/);
    const id = made.data?.token.id as string;
    assert.ok((await moat.GET("/tokens")).data?.items.some((token) => token.id === id && token.name === "ci-deploy"));
    const revoked = await moat.DELETE("/tokens/{id}", { params: { path: { id } } });
    assert.equal(typeof revoked.data?.revokedAt, "string");
    // The new token, once revoked, is refused: the SDK sends what it is given.
    const asRevoked = createMoatClient({ url: api.url, ca: suite.ca().bundlePem, token: made.data?.secret as string });
    t.after(() => asRevoked.close());
    assert.equal((await problemOf(asRevoked.GET("/revisions"))).status, 401);

    const revisions = await moat.GET("/revisions", { params: { query: { limit: 5 } } });
    assert.deepEqual(revisions.data?.items.map((record) => [record.revision, record.summary]), [[1, "put setting log"]]);
    assert.match(revisions.data?.items[0]?.actor ?? "", /^api:token\//);
  });

  test("problems are ApiProblemError: status, code, type, detail, and each issue with its path", async (t) => {
    const { moat } = await connect(t, "operator");
    await moat.POST("/distributions", { body: distribution("shop") });

    const stale = await problemOf(moat.PUT("/distributions/{id}", { params: { path: { id: "shop" }, header: { "If-Match": ifMatch(7) } }, body: distribution("shop") }));
    assert.equal(stale.status, 412);
    assert.equal(stale.code, "store-version-conflict");
    assert.equal(stale.type, "urn:moat:error:store-version-conflict");
    assert.equal(stale.request, "PUT /distributions/shop");
    assert.match(stale.detail, /distribution shop is version 1, not version 7/);
    assert.ok(!stale.message.includes("\n"), "one line");

    const invalid = await problemOf(moat.POST("/distributions", { body: { ...distribution("blog"), origins: [{ id: "app", url: "ftp://x" }], orgins: [] } as never }));
    assert.equal(invalid.status, 400);
    assert.equal(invalid.code, "api-request-invalid");
    assert.deepEqual(invalid.issues.map((issue) => [issue.path, issue.pointer]), [["origins[0].url", "/origins/0/url"], ["orgins", "/orgins"]]);
    assert.match(invalid.message, /^the admin API refused POST \/distributions \(400, api-request-invalid\): the request body is not valid: origins\[0\]\.url: .*; orgins: unknown key/);
    assert.ok(!invalid.message.includes("\n"), "one line");

    // Valid alone, not with the rest: an alias another distribution has.
    const clash = await problemOf(moat.POST("/distributions", { body: distribution("blog", "shop.example") }));
    assert.equal(clash.status, 422);
    assert.equal(clash.code, "config-invalid");
    assert.ok(clash.issues.length > 0 && clash.issues.every((issue) => issue.path.startsWith("distributions[")), JSON.stringify(clash.issues));

    const missing = await problemOf(moat.GET("/distributions/{id}", { params: { path: { id: "nope" } } }));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, "api-not-found");
  });
}
