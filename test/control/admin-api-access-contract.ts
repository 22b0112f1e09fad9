// Who may use the admin API: no credentials, roles × routes, admin certificates, tokens, the TLS port itself. Run on each store engine.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { test } from "node:test";
import pino from "pino";
import { startAdminApi } from "../../src/control/index.ts";
import { ListenError } from "../../src/errors.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { API_ROLES } from "../../src/store/index.ts";
import type { ApiRole } from "../../src/store/index.ts";
import type { CallOptions } from "./admin-api-client.ts";
import { assertProblem, DAY_MS, distribution, secretOf, snapshot, useAdminApi } from "./admin-api-harness.ts";
import type { EngineUnderTest } from "./admin-api-harness.ts";

export function adminApiAccessContract(engine: EngineUnderTest): void {
  const suite = useAdminApi(engine);
  const setUp = suite.setUp;

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
    const rootSerial = new X509Certificate(suite.ca().rootPem).serialNumber.toLowerCase();
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
      ...["dataDir", "pki", "listen", "log", "metrics", "tracing", "connections", "cache", "workers"].flatMap((name): [string, string, ApiRole, string, CallOptions?][] => [
        ["GET", `/settings/${name}`, "viewer", `/settings/${name}`],
        ["PUT", `/settings/${name}`, "admin", `/settings/${name}`, { headers: ifMatch, body: name === "log" ? { level: "warn" } : name === "metrics" ? { listen: "127.0.0.1:9464" } : name === "tracing" ? { otlp: { endpoint: "https://collector.test:4318/v1/traces" } } : {} }],
        ["DELETE", `/settings/${name}`, "admin", `/settings/${name}`, { headers: ifMatch }],
      ]),
      ["GET", "/revisions", "viewer", "/revisions"],
      ["POST", "/tokens", "admin", "/tokens", { body: { name: "made", role: "admin" } }],
      ["GET", "/tokens", "admin", "/tokens"],
      ["GET", "/tokens/:id", "admin", `/tokens/${spare.token.id}`],
      ["DELETE", "/tokens/:id", "admin", `/tokens/${spare.token.id}`],
      ["GET", "/audit", "admin", "/audit"],
      ["GET", "/audit/verify", "admin", "/audit/verify"],
      ["GET", "/openapi.json", "viewer", "/openapi.json"],
      ["GET", "/config", "viewer", "/config"],
      ["POST", "/config/diff", "operator", "/config/diff", { body: { distributions: [distribution("shop")] } }],
      ["PUT", "/config", "admin", "/config", { headers: { "if-match": '"3"' }, body: { distributions: [distribution("shop")] } }],
      ["GET", "/certificates", "viewer", "/certificates"],
      ["GET", "/certificates/:serial", "viewer", `/certificates/${rootSerial}`],
      ["POST", "/certificates", "admin", "/certificates", { body: { name: "imported", use: "viewer-server", chainPem: "not PEM", keyPem: "not PEM" } }],
      ["POST", "/certificates/:serial/rotate", "operator", `/certificates/${rootSerial}/rotate`],
      ["POST", "/certificates/:serial/revoke", "admin", "/certificates/0badc0de/revoke", { body: { reason: "superseded" } }],
      ["GET", "/ca", "viewer", "/ca"],
      ["GET", "/ca/bundle", "viewer", "/ca/bundle"],
      ["GET", "/ca/crl", "viewer", "/ca/crl"],
      ["PUT", "/ca/publication", "admin", "/ca/publication", { body: { crlBaseUrl: null } }],
      ["POST", "/ca/renew-intermediate", "admin", "/ca/renew-intermediate", { body: {} }],
      ["POST", "/ca/rollover/prepare", "admin", "/ca/rollover/prepare", { body: {} }],
      ["POST", "/ca/rollover/activate", "admin", "/ca/rollover/activate", { body: {} }],
      ["POST", "/ca/rollover/finish", "admin", "/ca/rollover/finish", { body: {} }],
      ["POST", "/invalidations", "operator", "/invalidations", { body: { distribution: "shop", paths: ["/index.html"] } }],
      ["GET", "/invalidations", "viewer", "/invalidations"],
      ["GET", "/invalidations/:id", "viewer", "/invalidations/1"],
      ["GET", "/edges", "viewer", "/edges"],
      ["POST", "/edges/join-tokens", "admin", "/edges/join-tokens", { body: { name: "fra-1", region: "eu-central", ttl: "1h" } }],
      ["GET", "/edges/join-tokens", "admin", "/edges/join-tokens"],
      ["DELETE", "/edges/join-tokens/:id", "admin", "/edges/join-tokens/0123456789abcdef"],
      ["GET", "/traffic", "viewer", "/traffic"],
      ["GET", "/whoami", "viewer", "/whoami"],
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
    const certificate = (role: string, name = "alice", trustDomain = "moat.internal", issuer = suite.ca()) =>
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

    const edge = await suite.ca().issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "admin", originId: "admin", validityMs: 3_600_000 });
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
      startAdminApi({ store: api.store, ca: suite.ca(), listen: { host: "127.0.0.1", port: Number(port) }, logger: pino({ level: "silent" }) }),
      (error: unknown) => error instanceof ListenError && /the admin API on 127\.0\.0\.1/.test(error.message),
    );
  });

  test("the API speaks TLS 1.3 only, with a server certificate from Moat's CA", async (t) => {
    const api = await setUp(t);
    const { port } = new URL(api.url);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: suite.ca().bundlePem, maxVersion: "TLSv1.2" });
      socket.once("secureConnect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    assert.match(outcome, /ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ERR_SSL_UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION/);
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: suite.ca().bundlePem }, () => {
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
}
