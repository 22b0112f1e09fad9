// The same tests on SQLite and PostgreSQL: `moat start --store` serving the store's revisions, and apply/diff/export/store log.
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { TestContext } from "node:test";
import { validateStoredDocument } from "../../../src/config/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import type { ConfigStore } from "../../../src/store/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { createViewerClient, viewerRequest, viewerRequestWithSni } from "../../support/viewer-client.ts";
import type { Client } from "undici";
import { callApi } from "../../control/admin-api-client.ts";
import { applyDocument, documentForStore } from "../../../src/cli/local/apply-command.ts";
import { diffText } from "../../../src/cli/local/config-diff-text.ts";
import { StoreRevisionConflictError } from "../../../src/errors.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { LogLine } from "../moat-process.ts";

export interface StoreEngine {
  /** A new, empty store for one test, given the directory the test keeps its data in. */
  freshAddress(t: TestContext, dataDir: string): Promise<string>;
  /**
   * Makes the store refuse every connection until the returned function is called; `refusals()` counts the
   * connections it refused so far (the edge's polls), so a test can wait for several without a clock.
   */
  cutOff?(address: string): Promise<{ refusals(): Promise<number>; restore(): Promise<void> }>;
  /** Run a second edge on the store too (the fleet's engine: PostgreSQL). */
  hasTwoEdges?: boolean;
}

const PARTNERS_CA = "partners-ca.pem";

/** A config file with relative paths (dataDir, a trust store's bundle), as an operator writes one. */
function configFile(options: { aOrigin: string; bOrigin: string; target: "a" | "b"; logLevel?: string; aliases?: string[]; withPartners?: boolean; blog?: boolean }): string {
  const aliases = options.aliases ?? ["site.test"];
  return `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
log: { level: ${options.logLevel ?? "info"} }
${options.withPartners === false ? "" : `trustStores:\n  partners: { caBundle: ./${PARTNERS_CA} }\n`}distributions:
  - id: site
    aliases: [${aliases.join(", ")}]
    origins:
      - { id: a, url: "${options.aOrigin}" }
      - { id: b, url: "${options.bOrigin}" }
    behaviors:
      - { path: "*", target: ${options.target} }
${options.blog ? `  - id: blog\n    aliases: [blog.test]\n    origins: [{ id: app, url: "${options.aOrigin}" }]\n` : ""}`;
}

export function storeEdgeContract(engine: StoreEngine): void {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let originA: TestOrigin;
  let originB: TestOrigin;
  let caBundlePem: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-store-edge-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "ca-source"), masterKey: key.masterKey });
    caBundlePem = ca.bundlePem;
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    originA = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("from a") });
    originB = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("from b") });
  });

  after(async () => {
    await Promise.all([originA?.close(), originB?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** A directory of its own for one test: the config file, the partners' CA bundle, and data/ with the suite's CA. */
  async function workspace(t: TestContext): Promise<{ root: string; dataDir: string; address: string; write(name: string, text: string): Promise<string> }> {
    const root = await mkdtemp(join(dir, "case-"));
    const dataDir = join(root, "data");
    // The one CA of the suite: the origins trust it, and the viewers trust the edge's certificates from it.
    await cp(join(dir, "ca-source"), dataDir, { recursive: true });
    await writeFile(join(root, PARTNERS_CA), caBundlePem);
    const address = await engine.freshAddress(t, dataDir);
    return { root, dataDir, address, write: async (name, text) => (await writeFile(join(root, name), text), join(root, name)) };
  }

  async function openTestStore(t: TestContext, address: string): Promise<ConfigStore> {
    const store = await openStore({ address, validate: validateStoredDocument });
    t.after(() => store.close());
    return store;
  }

  const moat = (args: string[], cwd: string) => withDeadline(`moat ${args[0]}`, runMoat(args, { cwd, env: key.env }), 60_000);
  const files = () => ({ aOrigin: originA.url, bOrigin: originB.url });

  test("an edge serves the store's revisions: a new one within a poll, a bad one refused with its revision and cause while the last good one serves", { timeout: 120_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);

    const edge = startMoat(["start", "--store", w.address], { cwd: tmpdir(), env: { ...key.env, MOAT_DATA_DIR: w.dataDir }, detached: true });
    t.after(async () => {
      if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
      await edge.exited;
    });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    const port = Number(listening.httpsPort);
    // Fresh connections: round-robin puts consecutive ones on the two workers, so both are seen.
    const get = () => viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" });
    const bodies = async () => [(await get()).body, (await get()).body];
    assert.deepEqual(await bodies(), ["from a", "from a"]);
    const reloaded = (revision: number) =>
      withDeadline(`revision ${revision} to be served`, edge.waitForLine(`config reloaded at revision ${revision}`, (line: LogLine) => line.msg === "config reloaded" && line.revision === revision), 30_000);

    // A change through the store: no signal, no restart.
    await writeFile(file, configFile({ ...files(), target: "b" }));
    const applied = await moat(["apply", "-f", file, "--store", w.address], w.root);
    assert.equal(applied.code, 0, applied.stderr);
    const committedAt = Date.now();
    const line = await reloaded(2);
    const servedAfterMs = Date.now() - committedAt;
    assert.equal(line.store !== undefined, true);
    assert.deepEqual(await bodies(), ["from b", "from b"]);
    // One poll interval (1 s) plus the rebuild on every worker; bounded loosely, as two cores are shared.
    t.diagnostic(`revision 2 served ${servedAfterMs} ms after its commit`);
    assert.ok(servedAfterMs < 5_000, `revision 2 took ${servedAfterMs} ms to be served`);

    // A revision the store accepts but this edge cannot build: a certificate file missing on this host.
    const store = await openTestStore(t, w.address);
    const site = (await store.get("distribution", "site"))!.document as Record<string, unknown>;
    const missing = join(w.root, "missing", "site.pem");
    const bad = await store.put("distribution", "site", { ...site, viewerCertificate: { cert: missing, key: `${missing}.key` } }, { actor: "test" });
    assert.equal(bad.revision, 3);
    const refused = await withDeadline(
      "revision 3 to be refused",
      edge.waitForLine("refused revision 3", (entry) => entry.msg === "config reload refused; keeping the running config" && entry.revision === 3),
      30_000,
    );
    const message = String((refused.error as { message: string }).message);
    assert.match(message, /revision 3 is not a valid Moat config/);
    assert.ok(message.includes(`distributions[0].viewerCertificate.cert: file not found: ${missing}`), message);
    assert.deepEqual(await bodies(), ["from b", "from b"], "the last good snapshot still serves");

    // The next good revision is served again.
    await writeFile(file, configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    await reloaded(4);
    assert.deepEqual(await bodies(), ["from a", "from a"]);
    assert.equal(edge.lines.filter((entry) => entry.msg === "config reload refused; keeping the running config").length, 1, "a refused revision is read once, not at every poll");

    if (engine.cutOff) {
      const cut = await engine.cutOff(w.address);
      await withDeadline("the outage to be logged", edge.waitForLine("store unreachable", (entry) => entry.msg === "store unreachable; serving the last good snapshot until it answers"), 30_000);
      // Several polls refused: still one line, and traffic served all along.
      await withDeadline(
        "three refused polls",
        (async () => {
          while ((await cut.refusals()) < 3) await new Promise((resolve) => setTimeout(resolve, 100));
        })(),
        30_000,
      );
      assert.deepEqual(await bodies(), ["from a", "from a"]);
      await cut.restore();
      await withDeadline("the store to be back", edge.waitForLine("store reachable again", (entry) => entry.msg === "store reachable again"), 30_000);
      assert.equal(edge.lines.filter((entry) => entry.msg === "store unreachable; serving the last good snapshot until it answers").length, 1, "one line per outage");
      await writeFile(file, configFile({ ...files(), target: "b" }));
      assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
      await reloaded(5);
      assert.deepEqual(await bodies(), ["from b", "from b"]);
    }

    process.kill(edge.child.pid!, "SIGTERM");
    assert.equal((await withDeadline("the edge to exit", edge.exited, 60_000)).code, 0);
  });

  test("moat start --store --api: a change through the admin API, or the CLI over it, serves traffic on the edge within a poll; a stale If-Match changes nothing", { timeout: 120_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    const created = await moat(["token", "create", "--role", "operator", "--name", "deploys", "--store", w.address], w.root);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();

    const edge = startMoat(["start", "--store", w.address, "--api", "127.0.0.1:0"], { cwd: tmpdir(), env: { ...key.env, MOAT_DATA_DIR: w.dataDir }, detached: true });
    t.after(async () => {
      if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
      await edge.exited;
    });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    const apiUp = await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000);
    const apiUrl = String(apiUp.url);
    const get = () => viewerRequestWithSni(Number(listening.httpsPort), { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" });
    assert.equal((await get()).body, "from a");

    assert.equal((await callApi(apiUrl, ca.bundlePem, {}, "/distributions")).status, 401, "no anonymous access");
    const site = await callApi(apiUrl, ca.bundlePem, { token }, "/distributions/site");
    assert.equal(site.status, 200, site.text);
    const changed = { ...site.json.document, behaviors: [{ path: "*", target: "b" }] };
    const stale = await callApi(apiUrl, ca.bundlePem, { token }, "/distributions/site", { method: "PUT", body: changed, headers: { "if-match": '"99"' } });
    assert.equal(stale.status, 412, stale.text);
    const replaced = await callApi(apiUrl, ca.bundlePem, { token }, "/distributions/site", { method: "PUT", body: changed, headers: { "if-match": String(site.headers.etag) } });
    assert.equal(replaced.status, 200, replaced.text);
    const committedAt = Date.now();
    await withDeadline("the API's change to be served", edge.waitForLine("config reloaded at revision 2", (line: LogLine) => line.msg === "config reloaded" && line.revision === 2), 30_000);
    t.diagnostic(`the API's change served ${Date.now() - committedAt} ms after its answer`);
    assert.equal((await get()).body, "from b");

    // The CLI over the same API, as the demo prints it (MOAT_API, MOAT_API_CA, MOAT_TOKEN_FILE): read, then a change the edge serves.
    const apiEnv = {
      ...key.env,
      MOAT_API: apiUrl,
      MOAT_API_CA: await w.write("moat-ca.pem", ca.bundlePem),
      MOAT_TOKEN_FILE: await w.write("operator.token", `${token}\n`),
      MOAT_CONTEXTS: join(w.root, "contexts.yaml"),
    };
    const cli = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: w.root, env: apiEnv }), 60_000);
    const listed = await cli(["dist", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { id: string; version: number }[]).map((item) => [item.id, item.version]), [["site", 2]]);
    const siteFile = await w.write("site.json", JSON.stringify({ ...changed, behaviors: [{ path: "*", target: "a" }] }));
    const staleByCli = await cli(["dist", "replace", "-f", siteFile, "--if-match", "1"]);
    assert.equal(staleByCli.code, 1);
    assert.match(staleByCli.stderr, /^moat: the admin API refused PUT \/distributions\/site \(412, store-version-conflict\): distribution site is version 2, not version 1/);
    const replacedByCli = await cli(["dist", "replace", "-f", siteFile]);
    assert.equal(replacedByCli.stdout, "Replaced distribution site: version 3 (revision 3).\n", replacedByCli.stderr);
    await withDeadline("the CLI's change to be served", edge.waitForLine("config reloaded at revision 3", (line: LogLine) => line.msg === "config reloaded" && line.revision === 3), 30_000);
    assert.equal((await get()).body, "from a");

    // A clean stop signs the trail's head with the data directory's audit signer before the store closes.
    process.kill(edge.child.pid!, "SIGTERM");
    assert.equal((await withDeadline("the edge to exit", edge.exited, 60_000)).code, 0);
    assert.ok(edge.lines.some((line) => line.msg === "audit checkpoint signed"), "no audit checkpoint at the clean stop");
    const { verifyAuditTrail } = await import("../../../src/control/audit-checkpoints.ts");
    const store = await openStore({ address: w.address, validate: validateStoredDocument });
    try {
      const verified = await verifyAuditTrail(store.audit, { dataDir: w.dataDir });
      assert.equal(verified.ok, true, JSON.stringify(verified));
      assert.equal(verified.checkpoints.coveredThrough, verified.head.seq);
    } finally {
      await store.close();
    }
  });

  test("invalidations in the store: one through the API is applied by every worker of the edge (a miss on each) and reads applied for it by name; the CLI writes them too", { timeout: 180_000 }, async (t) => {
    const w = await workspace(t);
    let pageHits = 0;
    const cacheable = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        if (req.url === "/page") pageHits += 1;
        res.setHeader("cache-control", "max-age=3600");
        res.end(`page ${pageHits}`);
      },
    });
    t.after(() => cacheable.close());
    const file = await w.write("moat.yaml", configFile({ aOrigin: cacheable.url, bOrigin: originB.url, target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    const token = (await moat(["token", "create", "--role", "operator", "--name", "purges", "--store", w.address], w.root)).stdout.trim();

    const edges: ReturnType<typeof startMoat>[] = [];
    const pinned = new Map<number, Client>();
    t.after(async () => {
      await Promise.all([...pinned.values()].map((client) => client.close().catch(() => {})));
      for (const edge of edges) if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
      await Promise.all(edges.map((edge) => edge.exited));
    });
    const startEdge = async (name: string, extra: string[]) => {
      const edge = startMoat(["start", "--store", w.address, "--edge-name", name, ...extra], { cwd: tmpdir(), env: { ...key.env, MOAT_DATA_DIR: join(w.root, `copy-${name}`) }, detached: true });
      edges.push(edge);
      const listening = await withDeadline(`${name} to listen`, edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
      assert.equal(listening.edge, name, "the start line names the edge");
      return { edge, port: Number(listening.httpsPort) };
    };
    const one = await startEdge("edge-one", ["--api", "127.0.0.1:0"]);
    const apiUrl = String((await withDeadline("the admin API to listen", one.edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    const api = (path: string, options?: Parameters<typeof callApi>[4]) => callApi(apiUrl, ca.bundlePem, { token }, path, options);

    // A connection on each worker: which one holds it is what the access log says of a request sent on it.
    for (let i = 0; pinned.size < 2 && i < 20; i++) {
      const client = createViewerClient(one.port, { caPem: ca.bundlePem, servername: "site.test" });
      assert.equal((await viewerRequest(client, { path: `/whoami/${i}`, host: "site.test" })).status, 200);
      const line = await withDeadline("the access log line", one.edge.waitForLine(`/whoami/${i}`, (l) => l.msg === "request" && l.path === `/whoami/${i}`), 30_000);
      if (pinned.has(Number(line.worker))) await client.close();
      else pinned.set(Number(line.worker), client);
    }
    assert.deepEqual([...pinned.keys()].sort(), [1, 2], "a connection on each worker");
    const getOn = async (worker: number) => (await viewerRequest(pinned.get(worker)!, { path: "/page", host: "site.test" })).body;
    for (const worker of [1, 2, 1, 2]) await getOn(worker);
    assert.equal(pageHits, 2, "each worker filled /page once, then served it from its cache");

    const created = await api("/invalidations", { method: "POST", body: { distribution: "site", paths: ["/page"] } });
    assert.equal(created.status, 202, created.text);
    assert.equal(created.json.seq, 1);
    const appliedBy = (id: string, names: string[]) =>
      withDeadline(
        `invalidation ${id} applied by ${names.join(", ")}`,
        (async () => {
          for (;;) {
            const status = await api(`/invalidations/${id}`);
            const applied = status.json.edges.filter((edge: { status: string }) => edge.status === "applied").map((edge: { edge: string }) => edge.edge);
            if (status.json.status === "applied" && names.every((name) => applied.includes(name))) return status.json;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
        30_000,
      );
    const status = await appliedBy(created.json.id, ["edge-one"]);
    assert.deepEqual(status.edges.map((edge: { edge: string; status: string }) => [edge.edge, edge.status]), [["edge-one", "applied"]]);
    assert.match(status.edges[0].appliedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(await getOn(1), "page 3", "a miss on worker 1");
    assert.equal(await getOn(2), "page 4", "a miss on worker 2");
    assert.equal(await getOn(1), "page 3", "then cached again");

    const names = ["edge-one"];
    if (engine.hasTwoEdges) {
      // A second edge on the same store: it applies what the store holds at its start, and every later one, and records each.
      const two = await startEdge("edge-two", []);
      names.push("edge-two");
      await appliedBy(created.json.id, names);
      const second = await api("/invalidations", { method: "POST", body: { distribution: "site", paths: ["/page"] } });
      const both = await appliedBy(second.json.id, names);
      assert.deepEqual(both.edges.map((edge: { edge: string }) => edge.edge), ["edge-one", "edge-two"]);
      for (const worker of [1, 2]) {
        await withDeadline(`edge-two worker ${worker} to apply #2`, two.edge.waitForLine(`worker ${worker}`, (l) => l.msg === "cache invalidation applied" && l.worker === worker && l.invalidation === "2"), 30_000);
      }
    }
    // The CLI writes to the store too, and waits for every edge that follows it.
    const cli = await moat(["cache", "invalidate", "--store", w.address, "--distribution", "site", "/page"], w.root);
    assert.equal(cli.code, 0, cli.stderr);
    const expected = names.length === 1 ? "the edge edge-one" : `all 2 edges (${names.join(", ")})`;
    assert.match(cli.stdout, new RegExp(`^Invalidation #\\d+ recorded in .* for site: /page\nApplied by ${expected.replace(/[()]/g, "\\$&")}: `), cli.stdout);
    assert.match(await getOn(2), /^page \d+$/);
    assert.equal(pageHits, 5, "the CLI's invalidation made worker 2 miss");
  });

  test("export then apply changes nothing and makes no revision; relative paths were stored absolute", { timeout: 60_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    const first = await moat(["apply", "-f", file, "--store", w.address], w.root);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Applied .*moat\.yaml: revision 1 \(6 created, 0 changed, 0 deleted\)\./);

    const exported = join(w.root, "exported.yaml");
    assert.equal((await moat(["export", "--store", w.address, "-o", exported], w.root)).code, 0);
    const text = await readFile(exported, "utf8");
    assert.ok(text.includes(`caBundle: ${join(w.root, PARTNERS_CA)}`), text);
    assert.ok(text.includes(`dataDir: ${w.dataDir}`), text);

    const again = await moat(["apply", "-f", exported, "--store", w.address], tmpdir());
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `No changes: the store at revision 1 already matches ${exported}.\n`);
    assert.equal((await moat(["diff", "-f", exported, "--store", w.address], tmpdir())).code, 0);
    const log = await moat(["store", "log", "--store", w.address, "--json"], w.root);
    const revisions = JSON.parse(log.stdout) as { revision: number; actor: string; summary: string }[];
    assert.deepEqual(
      revisions.map((record) => [record.revision, record.summary]),
      [[1, "apply moat.yaml: +setting dataDir, +setting listen, +setting log, +setting workers, +trust store partners, +distribution site"]],
    );
    assert.match(revisions[0]!.actor, /^cli:/);
  });

  test("apply writes exactly the diff it planned: a write by another client between the diff and the write makes it refuse (412), nothing of it written", { timeout: 60_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    await writeFile(file, configFile({ ...files(), target: "b", logLevel: "warn" }));
    const checked = await documentForStore(file);
    assert.ok("document" in checked);
    const applying = await openTestStore(t, w.address);
    // Another client on its own connection (an operator's PUT through the API, say) commits once the diff is made.
    const other = await openTestStore(t, w.address);
    const planned: string[] = [];
    await assert.rejects(
      applyDocument(applying, checked.document, {
        actor: "cli:test",
        summary: () => "apply moat.yaml",
        rerun: `moat apply -f ${file}`,
        onPlanned: async (diff) => {
          planned.push(diffText(diff));
          await other.put("distribution", "blog", { id: "blog", aliases: ["blog.test"], origins: [{ id: "app", url: originA.url }] }, { actor: "api:token/other" });
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof StoreRevisionConflictError, String(error));
        assert.equal(error.status, 412);
        assert.match(error.message, /the store is at revision 2, not 1 as the change assumed: someone else changed it first, and nothing was written\./);
        assert.ok(error.message.includes(`run \`moat apply -f ${file}\` again: it diffs against revision 2`), error.message);
        return true;
      },
    );
    assert.match(planned[0] ?? "", /~ setting log\n {4}~ level: "info" → "warn"/);
    const after = await other.read();
    assert.equal(after.revision, 2, "only the other client's revision");
    assert.equal((after.document.log as { level: string }).level, "info", "nothing of the refused diff was written");
    assert.ok((after.document.distributions as { id: string }[]).some((item) => item.id === "blog"), "the other client's write was not overwritten");

    // Run again, apply plans against revision 2: its diff now deletes blog, in plain sight, and is written.
    const again = await moat(["apply", "-f", file, "--store", w.address], w.root);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^- distribution blog$/m);
    assert.match(again.stdout, /Applied .*moat\.yaml: revision 3 \(0 created, 2 changed, 1 deleted\)\./);
  });

  test("diff prints each change field by field, exit 1; 0 once applied", { timeout: 60_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    await writeFile(file, configFile({ ...files(), target: "b", logLevel: "warn", aliases: ["site.test", "www.site.test"], withPartners: false, blog: true }));
    const diff = await moat(["diff", "-f", file, "--store", w.address], w.root);
    assert.equal(diff.code, 1, diff.stderr);
    assert.equal(
      diff.stdout,
      `~ setting log
    ~ level: "info" → "warn"
- trust store partners
+ distribution blog
~ distribution site
    ~ aliases: ["site.test"] → ["site.test","www.site.test"]
    ~ behaviors[0].target: "a" → "b"

1 to create, 2 to change, 1 to delete (the store is at revision 1).
`,
    );
    const json = JSON.parse((await moat(["diff", "-f", file, "--store", w.address, "--json"], w.root)).stdout) as { changes: { action: string; name: string }[] };
    assert.deepEqual(json.changes.map((change) => `${change.action} ${change.name}`), ["change log", "delete partners", "create blog", "change site"]);
    const applied = await moat(["apply", "-f", file, "--store", w.address], w.root);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /revision 2 \(1 created, 2 changed, 1 deleted\)/);
    const after = await moat(["diff", "-f", file, "--store", w.address], w.root);
    assert.equal(after.code, 0);
    assert.equal(after.stdout, `No changes: the store at revision 2 matches ${file}.\n`);
  });

  test("an invalid file is refused with config check's messages and the store is left as it was", { timeout: 60_000 }, async (t) => {
    const w = await workspace(t);
    const file = await w.write("moat.yaml", configFile({ ...files(), target: "a" }));
    assert.equal((await moat(["apply", "-f", file, "--store", w.address], w.root)).code, 0);
    const store = await openTestStore(t, w.address);
    const before = await store.read();
    const invalid = await w.write("invalid.yaml", configFile({ ...files(), target: "a", aliases: [] }).replace(`./${PARTNERS_CA}`, "./nowhere.pem"));

    const applied = await moat(["apply", "-f", invalid, "--store", w.address], w.root);
    const checked = await moat(["config", "check", invalid], w.root);
    assert.equal(applied.code, 1);
    assert.equal(applied.stdout, "");
    assert.equal(applied.stderr, checked.stderr, "the same messages as moat config check");
    assert.match(applied.stderr, /distributions\[0\]\.aliases: /);
    assert.match(applied.stderr, /trustStores\.partners\.caBundle: file not found: /);
    const diff = await moat(["diff", "-f", invalid, "--store", w.address], w.root);
    assert.equal(diff.code, 2, "diff's exit code for a diff it could not make");
    assert.equal(diff.stderr, checked.stderr);
    assert.deepEqual(await store.read(), before);
  });
}
