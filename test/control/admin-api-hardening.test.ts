// The admin API against an outside tester: credentials that cannot outlive themselves, bounded and printable input, requests from other origins refused, connections capped, every answer with its security headers. Real TLS on loopback, SQLite store.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertProblem, distribution, snapshot, useAdminApi } from "./admin-api-harness.ts";

describe("admin API hardening", () => {
  const suite = useAdminApi({
    freshAddress: async (t) => {
      const dir = await mkdtemp(join(tmpdir(), "moat-api-hardening-"));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "moat.db")}`;
    },
    rawRows: async () => [],
  });

  test("a token cannot mint a token that outlives it: a longer expiresIn is refused naming the field, the default is cut to its own expiry", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const root = { token: api.tokens.admin };
    const short = await api.call(root, "/tokens", { method: "POST", body: { name: "short", role: "admin", expiresIn: "1h" } });
    assert.equal(short.status, 201, short.text);
    const caller = { token: short.json.secret as string };
    const before = await snapshot(api.store);
    const longer = await api.call(caller, "/tokens", { method: "POST", body: { name: "long", role: "admin", expiresIn: "366d" } });
    assertProblem(longer, 400, "api-request-invalid");
    assert.equal(longer.json.errors[0].path, "expiresIn");
    assert.equal(longer.json.errors[0].pointer, "/expiresIn");
    assert.match(longer.json.errors[0].message, /outlive/);
    assert.deepEqual(await snapshot(api.store), before, "nothing stored");
    // No expiresIn: the default (90d) is cut to the creator's own expiry.
    const defaulted = await api.call(caller, "/tokens", { method: "POST", body: { name: "defaulted", role: "viewer" } });
    assert.equal(defaulted.status, 201, defaulted.text);
    assert.ok(Date.parse(defaulted.json.token.expiresAt) <= Date.parse(short.json.token.expiresAt), `${defaulted.json.token.expiresAt} is after ${short.json.token.expiresAt}`);
    const within = await api.call(caller, "/tokens", { method: "POST", body: { name: "within", role: "viewer", expiresIn: "30m" } });
    assert.equal(within.status, 201, within.text);
  });

  test("an admin certificate cannot mint a token that outlives the certificate", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const certificate = await suite.ca().issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "alice", validityMs: 2 * 3_600_000 });
    const admin = { certificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem } };
    const longer = await api.call(admin, "/tokens", { method: "POST", body: { name: "long", role: "admin", expiresIn: "1d" } });
    assertProblem(longer, 400, "api-request-invalid");
    assert.equal(longer.json.errors[0].path, "expiresIn");
    const defaulted = await api.call(admin, "/tokens", { method: "POST", body: { name: "defaulted", role: "viewer" } });
    assert.equal(defaulted.status, 201, defaulted.text);
    assert.ok(Date.parse(defaulted.json.token.expiresAt) <= certificate.notAfter.getTime() + 1000);
  });

  test("lists and strings of a config document are bounded, and free text refuses control characters, each naming its field; nothing is stored", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false, bodyLimitBytes: 4 * 1024 * 1024 });
    const operator = { token: api.tokens.operator };
    const base = distribution("shop");
    const cases: [string, unknown, string][] = [
      ["101 aliases", { ...base, aliases: Array.from({ length: 101 }, (_, index) => `a${index}.example`) }, "aliases"],
      ["101 origins", { ...base, origins: Array.from({ length: 101 }, (_, index) => ({ id: `o${index}`, url: "https://app.internal:8443" })) }, "origins"],
      ["a behavior path with CR/LF", { ...base, behaviors: [{ path: "*", target: "app" }, { path: "/a\r\nX-Evil: 1", target: "app" }] }, "behaviors[1].path"],
      ["a behavior path with a terminal escape", { ...base, behaviors: [{ path: "*", target: "app" }, { path: "/a\u001b]0;owned\u0007", target: "app" }] }, "behaviors[1].path"],
      ["a behavior path with a bidi override", { ...base, behaviors: [{ path: "*", target: "app" }, { path: "/a\u202eb", target: "app" }] }, "behaviors[1].path"],
      ["an overlong behavior path", { ...base, behaviors: [{ path: "*", target: "app" }, { path: `/${"a".repeat(5000)}`, target: "app" }] }, "behaviors[1].path"],
      ["201 behaviors", { ...base, behaviors: [{ path: "*", target: "app" }, ...Array.from({ length: 200 }, (_, index) => ({ path: `/p${index}`, target: "app" }))] }, "behaviors"],
      ["a file path with NUL", { ...base, origins: [{ id: "app", url: "https://app.internal:8443", mtls: { trustedCa: "/etc/moat/ca.pem\u0000.txt" } }] }, "origins[0].mtls.trustedCa"],
    ];
    for (const [name, body, path] of cases) {
      const before = await snapshot(api.store);
      const answer = await api.call(operator, "/distributions", { method: "POST", body });
      assertProblem(answer, 400, "api-request-invalid");
      const paths = (answer.json.errors as { path: string }[]).map((error) => error.path);
      assert.ok(paths.includes(path), `${name}: no error at ${path} in ${answer.text.slice(0, 500)}`);
      assert.deepEqual(await snapshot(api.store), before, `${name} changed the store`);
    }
    // At the bounds: accepted.
    const atBounds = { ...base, aliases: Array.from({ length: 100 }, (_, index) => `a${index}.example`) };
    assert.equal((await api.call(operator, "/distributions", { method: "POST", body: atBounds })).status, 201);
  });

  test("invalidation paths are bounded and printable, each naming its index", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const operator = { token: api.tokens.operator };
    assert.equal((await api.call(operator, "/distributions", { method: "POST", body: distribution("shop") })).status, 201);
    for (const [name, path] of [
      ["CR/LF", "/a\r\nb"],
      ["NUL", "/a\u0000"],
      ["a terminal escape", "/\u001b[2J"],
      ["a bidi override", "/\u202egnp.exe"],
      ["overlong", `/${"a".repeat(5000)}`],
    ] as const) {
      const before = await api.call(operator, "/invalidations");
      const answer = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "shop", paths: ["/ok", path] } });
      assertProblem(answer, 400, "api-request-invalid");
      assert.equal(answer.json.errors[0].path, "paths[1]", `${name}: ${answer.text.slice(0, 300)}`);
      assert.equal(answer.json.errors[0].pointer, "/paths/1", name);
      assert.deepEqual((await api.call(operator, "/invalidations")).json, before.json, `${name} recorded an invalidation`);
    }
  });

  test("a write from another origin is refused even when the browser sends no Fetch Metadata (Origin is checked); a text/plain body is not taken", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const certificate = await suite.ca().issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "alice", validityMs: 3_600_000 });
    const admin = { certificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem } };
    const serial = "0badc0de";
    // A browser without Sec-Fetch-Site (Safari before 16.4) still sends Origin on a cross-origin POST, even a bodiless one (sendBeacon, fetch no-cors).
    for (const origin of ["https://evil.example", "null", "https://127.0.0.1.evil.example", "http://127.0.0.1"]) {
      assertProblem(await api.call(admin, `/certificates/${serial}/rotate`, { method: "POST", headers: { origin } }), 403, "api-cross-site-request");
      assertProblem(await api.call(admin, "/invalidations", { method: "POST", headers: { origin }, body: { distribution: "shop", paths: ["/*"] } }), 403, "api-cross-site-request");
    }
    // The console on the API's own origin sends its own Origin: let through (to the next check: no such certificate).
    const port = new URL(api.url).port;
    const own = await api.call(admin, `/certificates/${serial}/rotate`, { method: "POST", headers: { origin: `https://localhost:${port}`, host: `localhost:${port}` } });
    assert.notEqual(own.json.code, "api-cross-site-request", own.text);
    // A form's text/plain body is a "simple" cross-site request: the API takes JSON only.
    const plain = await api.call({ token: api.tokens.admin }, "/invalidations", { method: "POST", rawBody: '{"distribution":"shop","paths":["/*"]}', headers: { "content-type": "text/plain" } });
    assertProblem(plain, 415, "api-unsupported-media-type");
  });

  test("every answer of the API, not only the console's files, says nosniff, no framing, no referrer, no caching", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    for (const [path, caller] of [
      ["/whoami", { token: api.tokens.viewer }],
      ["/ca/bundle", { token: api.tokens.viewer }],
      ["/whoami", {}],
      ["/no-such-route", { token: api.tokens.viewer }],
    ] as const) {
      const answer = await api.call(caller, path);
      assert.equal(answer.headers["x-content-type-options"], "nosniff", path);
      assert.match(String(answer.headers["content-security-policy"]), /default-src 'none'.*frame-ancestors 'none'/, path);
      assert.equal(answer.headers["x-frame-options"], "DENY", path);
      assert.equal(answer.headers["referrer-policy"], "no-referrer", path);
      assert.equal(answer.headers["cache-control"], "no-store", path);
    }
  });

  test("a connection that never starts its TLS handshake is closed at the handshake deadline, and one address cannot hold more than its share of connections", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false, connections: { handshakeMs: 500, firstByteMs: 500, requestHeadMs: 1_000, idleMs: 1_000, maxConnections: 64, maxConnectionsPerAddress: 4 } });
    const { port } = new URL(api.url);
    const open = (): Promise<{ closedAt: Promise<number> }> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => resolve({ closedAt: new Promise((done) => socket.on("close", () => done(Date.now()))) }));
        socket.on("error", () => undefined);
        socket.once("error", reject);
        t.after(() => socket.destroy());
      });
    const startedAt = Date.now();
    const silent = await Promise.all(Array.from({ length: 6 }, open));
    const closedAt = await Promise.all(silent.map((socket) => socket.closedAt));
    // Two over the per-address cap are closed at once; the four others at the handshake deadline, long before Node's default of 120 s.
    const early = closedAt.filter((at) => at - startedAt < 400).length;
    assert.ok(early >= 2, `only ${early} closed at once`);
    assert.ok(Math.max(...closedAt) - startedAt < 5_000, `a silent connection lived ${Math.max(...closedAt) - startedAt} ms`);
    // The API still answers.
    assert.equal((await api.call({ token: api.tokens.viewer }, "/whoami")).status, 200);
  });
});

