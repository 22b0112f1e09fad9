// The admin API's parts for the web console: /whoami, /traffic from the edge's own counters, and the console's files under /console/ (public, with their CSP), on a real TLS port.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { TestContext } from "node:test";
import { CONSOLE_CSP } from "../../src/control/index.ts";
import { createProcessMetrics, groupJson } from "../../src/observe/metrics-registry.ts";
import { assertProblem, useAdminApi } from "./admin-api-harness.ts";

describe("admin API: what the web console needs", () => {
  const suite = useAdminApi({
    freshAddress: async (t) => {
      const dir = await mkdtemp(join(tmpdir(), "moat-api-console-"));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "moat.db")}`;
    },
    rawRows: async () => [],
  });

  /** A built console as Vite lays one out: index.html and hashed assets. */
  async function builtConsole(t: TestContext): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "moat-console-build-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), '<!doctype html><title>Moat console</title><script type="module" src="/console/assets/index-abc123.js"></script>');
    await writeFile(join(dir, "assets", "index-abc123.js"), "console.log('console');");
    await writeFile(join(dir, "assets", "index-abc123.css"), "body{margin:0}");
    await writeFile(join(dir, "assets", "index-abc123.js.map"), "{}");
    return dir;
  }

  test("GET /whoami names a token's caller and role, never its secret; an admin certificate's too", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    for (const role of ["viewer", "operator", "admin"] as const) {
      const answer = await api.call({ token: api.tokens[role] }, "/whoami");
      assert.equal(answer.status, 200, answer.text);
      const tokenId = api.tokens[role].slice(5, 21);
      assert.deepEqual(answer.json, { kind: "token", name: `${role}-test`, role, actor: `api:token/${tokenId}`, tokenId });
      assert.equal(answer.text.includes(api.tokens[role].slice(22)), false, "no secret in the answer");
    }
    const certificate = await suite.ca().issueAdminClientCertificate({ trustDomain: "moat.internal", role: "operator", name: "alice", validityMs: 3_600_000 });
    const answer = await api.call({ certificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem } }, "/whoami");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.kind, "certificate");
    assert.equal(answer.json.role, "operator");
    assert.equal(answer.json.spiffeId, "spiffe://moat.internal/admin/operator/alice");
    assert.equal(answer.json.actor, "api:certificate/alice");
    assertProblem(await api.call({}, "/whoami"), 401, "api-unauthenticated");
  });

  test("a browser's request from another site's page is refused before its credentials are read (Fetch Metadata); the console's own, and non-browsers, are not", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const certificate = await suite.ca().issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "alice", validityMs: 3_600_000 });
    const admin = { certificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem } };
    const before = (await api.call({ token: api.tokens.admin }, "/invalidations")).json.items.length;
    for (const site of ["cross-site", "same-site"]) {
      for (const caller of [admin, { token: api.tokens.admin }]) {
        const answer = await api.call(caller, "/invalidations", { method: "POST", headers: { "sec-fetch-site": site }, body: { distribution: "shop", paths: ["/*"] } });
        assertProblem(answer, 403, "api-cross-site-request");
      }
      assertProblem(await api.call(admin, "/certificates/0badc0de/rotate", { method: "POST", headers: { "sec-fetch-site": site } }), 403, "api-cross-site-request");
    }
    assert.equal((await api.call({ token: api.tokens.admin }, "/invalidations")).json.items.length, before, "nothing was recorded");
    for (const site of ["same-origin", "none"]) assert.equal((await api.call(admin, "/whoami", { headers: { "sec-fetch-site": site } })).status, 200, site);
    assert.equal((await api.call(admin, "/whoami")).status, 200, "no header: not a browser");
  });

  test("GET /traffic sums the edge's counters per distribution: requests by cache result and status class, origin failures by cause", async (t) => {
    const metrics = createProcessMetrics();
    const api = await suite.setUp(t, { consoleDir: false, traffic: () => metrics.json() });
    metrics.recorder.request("shop", 200, "hit", 0.001);
    metrics.recorder.request("shop", 200, "hit", 0.001);
    metrics.recorder.request("shop", 200, "miss", 0.01);
    metrics.recorder.request("shop", 502, "none", 0.2);
    metrics.recorder.request("", 421, "none", 0.0001);
    metrics.recorder.originFailure("shop", "app", "origin-connect-timeout");
    metrics.recorder.originFailure("shop", "app", "origin-connect-timeout");
    metrics.recorder.originFailure("shop", "app", "origin-cert-untrusted");
    const answer = await api.call({ token: api.tokens.viewer }, "/traffic");
    assert.equal(answer.status, 200, answer.text);
    assert.ok(!Number.isNaN(Date.parse(answer.json.at)));
    assert.deepEqual(answer.json.distributions, [
      { distribution: "", requests: 1, cache: { none: 1 }, status: { "4xx": 1 }, originFailures: {} },
      {
        distribution: "shop",
        requests: 4,
        cache: { hit: 2, miss: 1, none: 1 },
        status: { "2xx": 3, "5xx": 1 },
        originFailures: { "origin-connect-timeout": 2, "origin-cert-untrusted": 1 },
      },
    ]);
  });

  test("GET /traffic of a worker group: the primary's counters and each worker's that answered, summed", async (t) => {
    const primary = createProcessMetrics();
    const workers = [createProcessMetrics(), createProcessMetrics()];
    const api = await suite.setUp(t, { consoleDir: false, traffic: () => groupJson(primary, async () => ({ asked: 2, answers: await Promise.all(workers.map((worker) => worker.json())) })) });
    workers[0]!.recorder.request("shop", 200, "hit", 0.001);
    workers[1]!.recorder.request("shop", 200, "hit", 0.001);
    workers[1]!.recorder.request("shop", 200, "miss", 0.02);
    workers[1]!.recorder.originFailure("shop", "app", "origin-connect-timeout");
    const answer = await api.call({ token: api.tokens.viewer }, "/traffic");
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json.distributions, [{ distribution: "shop", requests: 3, cache: { hit: 2, miss: 1 }, status: { "2xx": 3 }, originFailures: { "origin-connect-timeout": 1 } }]);
  });

  test("GET /traffic without the edge's metrics: 503 traffic-unavailable, saying how to turn them on", async (t) => {
    const api = await suite.setUp(t, { consoleDir: false });
    const answer = await api.call({ token: api.tokens.viewer }, "/traffic");
    assertProblem(answer, 503, "traffic-unavailable");
    assert.match(answer.json.detail, /--metrics/);
  });

  test("/console/: its files with no credentials, each with the CSP; a console page loaded afresh is its index; nothing else of the directory is served", async (t) => {
    const api = await suite.setUp(t, { consoleDir: await builtConsole(t) });
    const index = await api.call({}, "/console/");
    assert.equal(index.status, 200, index.text);
    assert.match(String(index.headers["content-type"]), /^text\/html; charset=utf-8/);
    assert.equal(index.headers["content-security-policy"], CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /default-src 'none'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(index.headers["x-content-type-options"], "nosniff");
    assert.equal(index.headers["x-frame-options"], "DENY");
    assert.equal(index.headers["cache-control"], "no-store");
    const script = await api.call({}, "/console/assets/index-abc123.js");
    assert.equal(script.status, 200);
    assert.match(String(script.headers["content-type"]), /^text\/javascript/);
    assert.equal(script.text, "console.log('console');");
    assert.match(String((await api.call({}, "/console/assets/index-abc123.css")).headers["content-type"]), /^text\/css/);
    assert.equal((await api.call({}, "/console/certificates")).text, index.text);
    assert.equal((await api.call({}, "/console/distributions/shop/edit")).text, index.text);
    assertProblem(await api.call({}, "/console/assets/index-abc123.js.map"), 404, "api-not-found");
    assertProblem(await api.call({}, "/console/assets/other.js"), 404, "api-not-found");
    assertProblem(await api.call({}, "/console/../openapi.json"), 401, "api-unauthenticated");
    const bare = await api.call({}, "/console");
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, "/console/");
    // Public files, not a public API: every route of the API still needs credentials.
    assertProblem(await api.call({}, "/distributions"), 401, "api-unauthenticated");
  });

  test("/console/ on an unbuilt console: 503 console-not-built with the command; with the console off, no route at all", async (t) => {
    const empty = await mkdtemp(join(tmpdir(), "moat-console-empty-"));
    t.after(() => rm(empty, { recursive: true, force: true }));
    const unbuilt = await suite.setUp(t, { consoleDir: empty });
    const answer = await unbuilt.call({}, "/console/");
    assertProblem(answer, 503, "console-not-built");
    assert.match(answer.json.detail, /npm run console:build/);
    const off = await suite.setUp(t, { consoleDir: false });
    assertProblem(await off.call({}, "/console/"), 401, "api-unauthenticated");
    assertProblem(await off.call({ token: off.tokens.viewer }, "/console/"), 404, "api-not-found");
  });
});
