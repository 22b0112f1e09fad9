// The admin API's tests, run on each store engine (SQLite, a real PostgreSQL): a real TLS server on loopback, real clients with tokens and certificates.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "node:tls";
import { before, test } from "node:test";
import type { TestContext } from "node:test";
import pino from "pino";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startAdminApi, storeDocumentValidator } from "../../src/control/index.ts";
import { ListenError } from "../../src/errors.ts";
import type { AdminApiOptions } from "../../src/control/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { API_ROLES, openStore } from "../../src/store/index.ts";
import type { ApiRole, Store } from "../../src/store/index.ts";
import { callApi } from "./admin-api-client.ts";
import type { ApiAnswer, CallOptions, Caller } from "./admin-api-client.ts";

export interface EngineUnderTest {
  /** A new, empty store address for this test. */
  freshAddress(t: TestContext): Promise<string>;
  /** Every row of a table, read behind the store's back. */
  rawRows(address: string, table: string): Promise<Record<string, unknown>[]>;
}

export function distribution(id: string, alias = `${id}.example`, url = "https://app.internal:8443") {
  return { id, aliases: [alias], origins: [{ id: "app", url }] };
}

const DAY_MS = 86_400_000;

interface Harness {
  store: Store;
  address: string;
  url: string;
  routes: readonly { method: string; url: string }[];
  logs: string[];
  /** A token per role, made in the store directly. */
  tokens: Record<ApiRole, string>;
  call(caller: Caller, path: string, options?: CallOptions): Promise<ApiAnswer>;
  /** Moves the API's clock on. */
  advance(ms: number): void;
}

/** What a refused request must leave as it was: the revision, every resource, every token (whose last use may move: it was used). */
async function snapshot(store: Store) {
  const tokens = (await store.tokens.list()).map(({ lastUsedAt: _lastUsedAt, ...token }) => token);
  return { revision: await store.revision(), read: await store.read(), tokens };
}

/** The random part of a token (`moat_<16 hex>_<secret>`), which must never be shown again or logged. */
function secretOf(token: string): string {
  return token.slice("moat_0123456789abcdef_".length);
}

function assertProblem(answer: ApiAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(String(answer.headers["content-type"]), /^application\/problem\+json/);
  assert.equal(answer.json.status, status);
  assert.equal(answer.json.code, code);
  assert.equal(answer.json.type, `urn:moat:error:${code}`);
  assert.equal(typeof answer.json.detail, "string");
}

export function adminApiContract(engine: EngineUnderTest): void {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createEphemeralCertificateAuthority();
  });

  async function setUp(t: TestContext, options: Partial<AdminApiOptions> & { wrapStore?: (store: Store) => Store } = {}): Promise<Harness> {
    const address = await engine.freshAddress(t);
    const store = await openStore({ address, validate: storeDocumentValidator });
    const logs: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(line) });
    let nowMs = Date.now();
    const clock = () => new Date(nowMs);
    const { wrapStore, ...rest } = options;
    const api = await startAdminApi({ store: wrapStore ? wrapStore(store) : store, ca, listen: { host: "127.0.0.1", port: 0 }, logger, clock, ...rest });
    t.after(async () => {
      await api.close();
      await store.close();
    });
    const tokens = {} as Record<ApiRole, string>;
    for (const role of API_ROLES) {
      tokens[role] = (await store.tokens.create({ name: `${role}-test`, role, expiresAt: new Date(nowMs + DAY_MS), createdBy: "test", now: clock() })).secret;
    }
    return {
      store,
      address,
      url: api.url,
      routes: api.routes,
      logs,
      tokens,
      call: (caller, path, callOptions) => callApi(api.url, ca.bundlePem, caller, path, callOptions),
      advance: (ms) => {
        nowMs += ms;
      },
    };
  }

  test("no credentials: 401 with problem details on every route (and on a route that does not exist), each refusal logged", async (t) => {
    const api = await setUp(t);
    const before = await snapshot(api.store);
    for (const route of [...api.routes, { method: "GET", url: "/no-such-route" }]) {
      const path = route.url.replace(/:id$/, "shop").replace(/:name$/, "partners");
      const answer = await api.call({}, path, { method: route.method, ...(route.method === "POST" || route.method === "PUT" ? { body: {} } : {}) });
      assertProblem(answer, 401, "api-unauthenticated");
      assert.match(String(answer.headers["www-authenticate"]), /^Bearer/);
    }
    assert.deepEqual(await snapshot(api.store), before);
    const refusals = api.logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "admin API request refused" && entry.status === 401);
    assert.equal(refusals.length, api.routes.length + 1);
    assert.ok(refusals.every((entry) => entry.who === "anonymous" && /no bearer token/.test(entry.reason)));
  });

  test("each role is refused (403) what it may not do, and nothing changes; it may do the rest", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    await api.call(admin, "/distributions", { method: "POST", body: distribution("shop") });
    await api.call(admin, "/trust-stores/partners", { method: "PUT", headers: { "if-none-match": "*" }, body: { caBundle: "/etc/partners.pem" } });
    await api.call(admin, "/settings/log", { method: "PUT", headers: { "if-none-match": "*" }, body: { level: "info" } });
    const spare = await api.store.tokens.create({ name: "spare", role: "viewer", expiresAt: new Date(Date.now() + DAY_MS), createdBy: "test", now: new Date() });
    const ifMatch = { "if-match": '"1"' };
    // Written here, not read from the code: who may do what is the contract.
    const table: [method: string, pattern: string, least: ApiRole, path: string, options?: CallOptions][] = [
      ["GET", "/distributions", "viewer", "/distributions"],
      ["POST", "/distributions", "operator", "/distributions", { body: distribution("blog") }],
      ["GET", "/distributions/:id", "viewer", "/distributions/shop"],
      ["PUT", "/distributions/:id", "operator", "/distributions/shop", { headers: ifMatch, body: distribution("shop") }],
      ["DELETE", "/distributions/:id", "operator", "/distributions/shop", { headers: ifMatch }],
      ["GET", "/trust-stores", "viewer", "/trust-stores"],
      ["GET", "/trust-stores/:name", "viewer", "/trust-stores/partners"],
      ["PUT", "/trust-stores/:name", "operator", "/trust-stores/partners", { headers: ifMatch, body: { caBundle: "/etc/other.pem" } }],
      ["DELETE", "/trust-stores/:name", "operator", "/trust-stores/partners", { headers: ifMatch }],
      ["GET", "/settings", "viewer", "/settings"],
      ...["dataDir", "pki", "listen", "log", "connections", "cache", "workers"].flatMap((name): [string, string, ApiRole, string, CallOptions?][] => [
        ["GET", `/settings/${name}`, "viewer", `/settings/${name}`],
        ["PUT", `/settings/${name}`, "admin", `/settings/${name}`, { headers: ifMatch, body: name === "log" ? { level: "warn" } : {} }],
        ["DELETE", `/settings/${name}`, "admin", `/settings/${name}`, { headers: ifMatch }],
      ]),
      ["GET", "/revisions", "viewer", "/revisions"],
      ["POST", "/tokens", "admin", "/tokens", { body: { name: "made", role: "admin" } }],
      ["GET", "/tokens", "admin", "/tokens"],
      ["GET", "/tokens/:id", "admin", `/tokens/${spare.token.id}`],
      ["DELETE", "/tokens/:id", "admin", `/tokens/${spare.token.id}`],
      ["GET", "/openapi.json", "viewer", "/openapi.json"],
    ];
    const covered = new Set(table.map(([method, pattern]) => `${method} ${pattern}`));
    for (const route of api.routes) assert.ok(covered.has(`${route.method} ${route.url}`), `the table has no row for ${route.method} ${route.url}`);
    assert.equal(covered.size, api.routes.length);

    for (const role of API_ROLES) {
      for (const [method, , least, path, options] of table) {
        if (API_ROLES.indexOf(role) >= API_ROLES.indexOf(least)) continue;
        const before = await snapshot(api.store);
        const answer = await api.call({ token: api.tokens[role] }, path, { method, ...options });
        assertProblem(answer, 403, "api-forbidden");
        assert.match(answer.json.detail, new RegExp(`the role ${role} may not ${method}`));
        assert.deepEqual(await snapshot(api.store), before, `${role} ${method} ${path} changed the store`);
      }
    }
    const refused = api.logs.map((line) => JSON.parse(line)).filter((entry) => entry.status === 403);
    assert.ok(refused.length > 0 && refused.every((entry) => /^token [0-9a-f]{16} \((viewer|operator)-test, (viewer|operator)\)$/.test(entry.who) && /may not/.test(entry.reason)));
    // What a role may do is not refused (it may fail for other reasons: a precondition, a resource an earlier row removed).
    for (const role of API_ROLES) {
      for (const [method, , least, path, options] of table) {
        if (API_ROLES.indexOf(role) < API_ROLES.indexOf(least)) continue;
        const answer = await api.call({ token: api.tokens[role] }, path, { method, ...options });
        assert.ok(answer.status !== 401 && answer.status !== 403, `${role} ${method} ${path}: ${answer.status} ${answer.text}`);
      }
    }
  });

  test("admin client certificates: the role in the certificate decides; other certificates of Moat's CA, or another CA's, are refused", async (t) => {
    const api = await setUp(t);
    const certificate = (role: string, name = "alice", trustDomain = "moat.internal", issuer = ca) =>
      issuer.issueAdminClientCertificate({ trustDomain, role, name, validityMs: 3_600_000 });
    const admin = await certificate("admin");
    assert.equal((await api.call({ certificate: admin }, "/tokens")).status, 200);
    const created = await api.call({ certificate: admin }, "/distributions", { method: "POST", body: distribution("shop") });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual((await api.store.revisions(1)).map((record) => record.actor), ["api:certificate/alice"]);

    const viewer = await certificate("viewer", "bob");
    assert.equal((await api.call({ certificate: viewer }, "/distributions")).status, 200);
    assertProblem(await api.call({ certificate: viewer }, "/distributions", { method: "POST", body: distribution("blog") }), 403, "api-forbidden");
    assertProblem(await api.call({ certificate: viewer }, "/tokens"), 403, "api-forbidden");

    const edge = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "admin", originId: "admin", validityMs: 3_600_000 });
    const notAdmin = await api.call({ certificate: edge }, "/distributions");
    assertProblem(notAdmin, 403, "api-forbidden");
    assert.match(notAdmin.json.detail, /not an admin certificate/);
    assertProblem(await api.call({ certificate: await certificate("root") }, "/distributions"), 403, "api-forbidden");
    assertProblem(await api.call({ certificate: await certificate("admin", "eve", "other.internal") }, "/distributions"), 403, "api-forbidden");

    const otherCa = await createEphemeralCertificateAuthority({ name: "Other" });
    // Revoked by Moat's CA: refused from the next request on, on the connection it opened too.
    const revokedApi = await setUp(t, { isRevoked: (serial) => serial === admin.serialHex });
    const revoked = await revokedApi.call({ certificate: admin }, "/distributions");
    assertProblem(revoked, 401, "api-unauthenticated");
    assert.match(revoked.json.detail, new RegExp(`serial ${admin.serialHex}\\) was revoked`));
    assert.equal((await revokedApi.call({ certificate: viewer }, "/distributions")).status, 200);
    const foreign = await api.call({ certificate: await certificate("admin", "mallory", "moat.internal", otherCa) }, "/distributions");
    assertProblem(foreign, 401, "api-unauthenticated");
    assert.match(foreign.json.detail, /does not verify against Moat's CA/);
    const refusals = api.logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "admin API request refused");
    assert.ok(refusals.some((entry) => entry.status === 401 && /^certificate moat admin mallory \(serial [0-9a-f]+\)$/.test(entry.who)));
    assert.ok(refusals.some((entry) => entry.status === 403 && /^certificate spiffe:\/\/moat\.internal\/admin\/viewer\/bob/.test(entry.who)));
  });

  test("a port that is taken is refused with listen-failed, naming the admin API", async (t) => {
    const api = await setUp(t);
    const { port } = new URL(api.url);
    await assert.rejects(
      startAdminApi({ store: api.store, ca, listen: { host: "127.0.0.1", port: Number(port) }, logger: pino({ level: "silent" }) }),
      (error: unknown) => error instanceof ListenError && /the admin API on 127\.0\.0\.1/.test(error.message),
    );
  });

  test("the API speaks TLS 1.3 only, with a server certificate from Moat's CA", async (t) => {
    const api = await setUp(t);
    const { port } = new URL(api.url);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: ca.bundlePem, maxVersion: "TLSv1.2" });
      socket.once("secureConnect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    assert.match(outcome, /ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ERR_SSL_UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION/);
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: ca.bundlePem }, () => {
        resolve(socket.getProtocol());
        socket.destroy();
      });
      socket.once("error", reject);
    });
    assert.equal(protocol, "TLSv1.3");
  });

  test("a token is shown once: lists and reads never return it, the store holds only its SHA-256, logs never name it", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    const created = await api.call(admin, "/tokens", { method: "POST", body: { name: "ci-deploy", role: "operator", expiresIn: "7d" } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers["cache-control"], "no-store");
    const secret: string = created.json.secret;
    const id: string = created.json.token.id;
    assert.match(secret, /^moat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(secret.split("_")[1], id);
    assert.equal(created.json.token.role, "operator");
    assert.equal(Date.parse(created.json.token.expiresAt) - Date.parse(created.json.token.createdAt), 7 * DAY_MS);

    const used = await api.call({ token: secret }, "/distributions", { method: "POST", body: distribution("shop") });
    assert.equal(used.status, 201, used.text);
    assert.deepEqual((await api.store.revisions(1)).map((record) => record.actor), [`api:token/${id}`]);

    const hash = createHash("sha256").update(secret).digest("hex");
    const secretPart = secretOf(secret);
    const list = await api.call(admin, "/tokens");
    const one = await api.call(admin, `/tokens/${id}`);
    for (const answer of [list, one]) {
      assert.equal(answer.status, 200);
      assert.ok(!answer.text.includes(secretPart) && !answer.text.includes(hash), answer.text);
    }
    assert.ok(one.json.lastUsedAt !== null, "its use is recorded");
    assert.deepEqual(Object.keys(one.json).sort(), ["createdAt", "createdBy", "expiresAt", "id", "lastUsedAt", "name", "revokedAt", "role"]);
    const rows = await engine.rawRows(api.address, "api_tokens");
    const row = rows.find((candidate) => candidate.id === id);
    assert.equal(row?.secret_sha256, hash);
    assert.ok(rows.every((candidate) => !Object.values(candidate).some((value) => String(value).includes(secretPart))));
    // A wrong secret for a real id is refused as unknown; the log names the id, never what was sent.
    const guessed = `moat_${id}_${"A".repeat(43)}`;
    const wrong = await api.call({ token: guessed }, "/distributions");
    assertProblem(wrong, 401, "api-unauthenticated");
    assert.match(wrong.json.detail, new RegExp(`token ${id} is not known`));
    const everything = api.logs.join("\n");
    for (const token of [secret, ...Object.values(api.tokens), guessed]) assert.ok(!everything.includes(secretOf(token)), "a token's secret is in the log");
  });

  test("revoked, expired, malformed and unknown tokens are refused (401), each logged with why", async (t) => {
    const api = await setUp(t);
    const admin = { token: api.tokens.admin };
    const made = await api.call(admin, "/tokens", { method: "POST", body: { name: "short", role: "viewer", expiresIn: "1h" } });
    const short = made.json.secret as string;
    assert.equal((await api.call({ token: short }, "/distributions")).status, 200);
    api.advance(3_600_000);
    const expired = await api.call({ token: short }, "/distributions");
    assertProblem(expired, 401, "api-unauthenticated");
    assert.match(expired.json.detail, /has expired/);

    const other = (await api.call(admin, "/tokens", { method: "POST", body: { name: "revoked", role: "admin" } })).json;
    assert.equal((await api.call({ token: other.secret }, "/tokens")).status, 200);
    const revoked = await api.call(admin, `/tokens/${other.token.id}`, { method: "DELETE" });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.json.revokedAt !== null);
    const refused = await api.call({ token: other.secret }, "/tokens");
    assertProblem(refused, 401, "api-unauthenticated");
    assert.match(refused.json.detail, /was revoked/);
    assertProblem(await api.call(admin, "/tokens/0000000000000000", { method: "DELETE" }), 404, "api-not-found");

    assertProblem(await api.call({ token: "not-a-token" }, "/distributions"), 401, "api-unauthenticated");
    assertProblem(await api.call({}, "/distributions", { headers: { authorization: "Basic YWRtaW46YWRtaW4=" } }), 401, "api-unauthenticated");
    const reasons = api.logs.map((line) => JSON.parse(line)).filter((entry) => entry.status === 401).map((entry) => `${entry.who}: ${entry.reason}`);
    assert.ok(reasons.some((line) => new RegExp(`^token ${made.json.token.id}: .*has expired`).test(line)), reasons.join("\n"));
    assert.ok(reasons.some((line) => new RegExp(`^token ${other.token.id}: .*was revoked`).test(line)), reasons.join("\n"));
    assert.ok(reasons.some((line) => /^a bearer token: .*not a Moat API token/.test(line)), reasons.join("\n"));
  });

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
}
