// The same tests on SQLite and PostgreSQL: two edges (separate processes) on one store; `moat edge list` shows both with the revision each serves, one killed turns silent, and an invalidation made meanwhile is done once the live one applied it, naming the silent one as not waited for.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import type { EdgeList } from "../../../src/sdk/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { MoatRun, RunningMoat } from "../moat-process.ts";

export interface FleetStoreEngine {
  /** The store both edges run from, empty; `dir` is the suite's directory. */
  storeAddress(dir: string): Promise<string>;
}

const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "", MOAT_EDGE_REGION: "" };
// A 2 s heartbeat: an edge killed is silent 6 s after its last one, and a live one has 4 s of slack on a busy machine.
const HEARTBEAT_MS = 2_000;

/** Registers the suite (two edges, started once) on an engine; call it inside a describe. */
export function fleetEdgesContract(engine: FleetStoreEngine): void {
  let dir: string;
  let store: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  const edges = new Map<string, RunningMoat>();
  const env: Record<"viewer" | "operator", NodeJS.ProcessEnv> = { viewer: {}, operator: {} };
  const moat = (args: string[], role: "viewer" | "operator"): Promise<MoatRun> => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: env[role] }), 90_000);
  const local = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...CLEAN_ENV, ...key.env } }), 60_000);

  const startEdge = async (name: string, region: string, api: boolean) => {
    const copies = join(dir, `edge-${name}`);
    await mkdir(copies, { recursive: true, mode: 0o700 });
    const edge = startMoat(["start", "--store", store, "--edge-name", name, "--region", region, ...(api ? ["--api", "127.0.0.1:0"] : [])], {
      cwd: dir,
      env: { ...CLEAN_ENV, ...key.env, MOAT_DATA_DIR: copies, MOAT_EDGE_HEARTBEAT_MS: String(HEARTBEAT_MS) },
      detached: true,
    });
    edges.set(name, edge);
    await withDeadline(`edge ${name} to listen`, edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    return edge;
  };

  /** `moat edge list --json`, polled until `isDone` holds (bounded). */
  const edgeListUntil = async (what: string, isDone: (list: EdgeList) => boolean): Promise<EdgeList> => {
    let last: EdgeList | undefined;
    return withDeadline(
      what,
      (async () => {
        for (;;) {
          const run = await moat(["edge", "list", "--json"], "viewer");
          assert.equal(run.code, 0, run.stderr);
          last = JSON.parse(run.stdout) as EdgeList;
          if (isDone(last)) return last;
          await sleep(250);
        }
      })(),
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last answer: ${JSON.stringify(last)}`);
    });
  };
  const row = (list: EdgeList, name: string) => list.items.find((item) => item.name === name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-fleet-edges-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.setHeader("cache-control", "max-age=3600");
        res.end("page");
      },
    });
    store = await engine.storeAddress(dir);
    await writeFile(
      join(dir, "moat.yaml"),
      `dataDir: ./data
workers: 1
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins:
      - { id: a, url: "${origin.url}" }
    behaviors:
      - { path: "*", target: a }
`,
    );
    const applied = await local(["apply", "-f", join(dir, "moat.yaml"), "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    await writeFile(join(dir, "moat-ca.pem"), ca.bundlePem);
    const apiEdge = await startEdge("edge-a", "eu-west", true);
    const apiUrl = String((await withDeadline("the admin API to listen", apiEdge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    await startEdge("edge-b", "us-east", false);
    for (const role of ["viewer", "operator"] as const) {
      const created = await local(["token", "create", "--role", role, "--name", `${role}-cli`, "--store", store]);
      assert.equal(created.code, 0, created.stderr);
      await writeFile(join(dir, `${role}.token`), created.stdout, { mode: 0o600 });
      env[role] = { ...CLEAN_ENV, MOAT_CONTEXTS: join(dir, "contexts.yaml"), MOAT_API: apiUrl, MOAT_API_CA: join(dir, "moat-ca.pem"), MOAT_TOKEN_FILE: join(dir, `${role}.token`) };
    }
  });

  after(async () => {
    for (const edge of edges.values()) {
      if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
    }
    await Promise.all([...edges.values()].map((edge) => withDeadline("an edge to exit", edge.exited, 60_000).catch(() => undefined)));
    await origin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("moat edge list shows both edges with their region and the revision each serves; one killed turns silent; an invalidation made then is done once the live one applied it, the silent one named as not waited for", { timeout: 300_000 }, async () => {
    // Both report revision 1 within a heartbeat or two of starting.
    await edgeListUntil("both edges to report revision 1", (list) => list.items.length === 2 && list.items.every((item) => item.revision === 1 && item.health === "ok"));
    const table = await moat(["edge", "list"], "viewer");
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^NAME +REGION +REVISION +BEHIND +LAST HEARTBEAT +HEALTH +CERTS EXPIRE +JOINED\nedge-a +eu-west +1 +0 +.+ ago +ok +(-|\d{4}-\d\d-\d\d[^\n]*?) +self-issuing\nedge-b +us-east +1 +0 +.+ ago +ok +(-|\d{4}-\d\d-\d\d[^\n]*?) +self-issuing\nNewest revision: 1, committed \d{4}-\d\d-\d\dT\S+; behind means serving an older one for over 30s\.\n$/,
    );
    const usage = await moat(["edge", "list", "--max-lag", "soon"], "viewer");
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /edge list: --max-lag /);

    // Edge b is killed (no goodbye): silent once 3 of its heartbeat intervals pass without one; edge a stays ok.
    const b = edges.get("edge-b")!;
    process.kill(-b.child.pid!, "SIGKILL");
    await withDeadline("edge b to exit", b.exited, 60_000);
    const silent = await edgeListUntil("edge b to turn silent", (list) => row(list, "edge-b")?.health === "silent");
    assert.equal(row(silent, "edge-a")?.health, "ok");
    assert.ok(row(silent, "edge-b")!.heartbeatAgeMs > 3 * HEARTBEAT_MS);
    const silentSince = row(silent, "edge-b")!.lastSeenAt;

    // A new revision: edge a serves it, edge b (dead) stays at 1, behind by one revision, and silent (its heartbeat decides first).
    const changed = join(dir, "moat-2.yaml");
    await writeFile(changed, (await readFile(join(dir, "moat.yaml"), "utf8")).replace("aliases: [site.test]", "aliases: [site.test, www.site.test]"));
    const applied = await local(["apply", "-f", changed, "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    const behind = await edgeListUntil("edge a to report revision 2", (list) => list.revision === 2 && row(list, "edge-a")?.revision === 2);
    assert.deepEqual(
      behind.items.map((item) => [item.name, item.region, item.revision, item.behindRevisions, item.health]),
      [
        ["edge-a", "eu-west", 2, 0, "ok"],
        ["edge-b", "us-east", 1, 1, "silent"],
      ],
    );
    assert.equal(row(behind, "edge-b")!.behindSince, behind.revisionAt);
    const lagging = await moat(["edge", "list"], "viewer");
    assert.match(lagging.stdout, /\nedge-b +us-east +1 +1 revision, \S+ +.+ ago +silent +(-|\d{4}-\d\d-\d\d[^\n]*?) +self-issuing\n/);

    // An invalidation while b is silent: done once edge a applied it; b is named, not waited for.
    const run = await moat(["cache", "invalidate", "--distribution", "site", "/page", "--wait", "60s"], "operator");
    assert.equal(run.code, 0, run.stderr);
    const [, id] = /^Invalidation #(\d+) recorded for site: \/page\n/.exec(run.stdout) ?? [];
    assert.ok(id, run.stdout);
    assert.equal(
      run.stdout,
      `Invalidation #${id} recorded for site: /page\nEdge edge-a has applied it on every worker: the next request for these paths goes to the origin.\nNot waited for: edge-b (silent since ${silentSince}); an edge applies every invalidation when it comes back.\n`,
    );
    const shown = await moat(["invalidations", "show", id!], "viewer");
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`\\nstatus +applied \\(1/1; not waited for: edge-b \\(silent since ${silentSince.replace(/[.]/g, "\\.")}\\)\\)\\n`));
    assert.match(shown.stdout, new RegExp(`\\n +edge-a +applied +\\S+\\n +edge-b +not waited for \\(silent since ${silentSince.replace(/[.]/g, "\\.")}\\) +-\\n$`));
    const json = await moat(["invalidations", "show", id!, "--json"], "viewer");
    const item = JSON.parse(json.stdout) as { status: string; edges: { edge: string; status: string; heartbeat: string }[] };
    assert.equal(item.status, "applied");
    assert.deepEqual(item.edges.map((edge) => [edge.edge, edge.status, edge.heartbeat]), [["edge-a", "applied", "live"], ["edge-b", "not-waited-for", "silent"]]);

    // The store form waits by the same rule.
    const direct = await local(["cache", "invalidate", "--store", store, "--distribution", "site", "/other", "--wait", "60s"]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, new RegExp(`\\nApplied by the edge edge-a: the next request for these paths goes to the origin\\.\\nNot waited for: edge-b \\(silent since ${silentSince.replace(/[.]/g, "\\.")}\\); `));
  });

  test("an edge stopped cleanly (SIGTERM) says so at once: stopped, not silent, and not waited for; its restart clears it; each reports the version in package.json", { timeout: 300_000 }, async () => {
    const { version } = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    // Edge b (killed by the test before) starts again: its first report clears what the last stop left.
    await startEdge("edge-b", "us-east", false);
    const back = await edgeListUntil("edge b to report again", (list) => row(list, "edge-b")?.health === "ok");
    assert.deepEqual(back.items.map((item) => [item.name, item.version, item.stoppedAt]), [["edge-a", version, null], ["edge-b", version, null]]);

    const b = edges.get("edge-b")!;
    process.kill(-b.child.pid!, "SIGTERM");
    await withDeadline("edge b to drain and exit", b.exited, 60_000);
    assert.ok(b.lines.some((line) => line.msg === "edge marked stopped in the store: invalidations do not wait for it"), "edge b logged its farewell");
    // At once: stopped is only ever the farewell's (silence would read silent), so no wait for 3 heartbeats.
    const list = await moat(["edge", "list", "--json"], "viewer");
    const stopped = row(JSON.parse(list.stdout) as EdgeList, "edge-b")!;
    assert.equal(stopped.health, "stopped");
    assert.match(stopped.stoppedAt ?? "", /^\d{4}-\d\d-\d\dT/);
    assert.equal(stopped.lastSeenAt, stopped.stoppedAt, "the farewell is its last word");
    const table = await moat(["edge", "list"], "viewer");
    assert.match(table.stdout, /\nedge-b +us-east +\d+ +0 +.+ ago +stopped +/);

    const run = await moat(["cache", "invalidate", "--distribution", "site", "/stopped", "--wait", "60s"], "operator");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`\\nNot waited for: edge-b \\(stopped since ${stopped.stoppedAt!.replace(/[.]/g, "\\.")}\\); `));

    // A restart clears it.
    await startEdge("edge-b", "us-east", false);
    const again = await edgeListUntil("edge b to run again", (answer) => row(answer, "edge-b")?.health === "ok");
    assert.equal(row(again, "edge-b")!.stoppedAt, null);
  });
}
