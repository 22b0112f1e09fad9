// The same tests on SQLite and PostgreSQL: the CLI over the admin API of `moat start --store --api` (two workers): `moat cache invalidate` and `moat certs rotate` wait until the running edge has done it, with progress on stderr.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import { config, presentedSerial } from "../store-api-edge-scene.ts";
import type { MoatRun, RunningMoat } from "../moat-process.ts";

export interface EdgeStoreEngine {
  /** The store the edge runs from, empty, given the data directory that holds the suite's CA (which is the store itself on SQLite). */
  storeAddress(dataDir: string): Promise<string>;
}

const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "" };

/** Registers the suite (one edge, started once) on an engine; call it inside a describe. */
export function apiCliEdgeContract(engine: EdgeStoreEngine): void {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let originHits = 0;
  let edge: RunningMoat;
  let port: number;
  const env: Record<"viewer" | "operator", NodeJS.ProcessEnv> = { viewer: {}, operator: {} };
  const moat = (args: string[], role: "viewer" | "operator"): Promise<MoatRun> => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: env[role] }), 90_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-api-cli-edge-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        originHits += 1;
        res.setHeader("cache-control", "max-age=3600");
        res.end(`hit ${originHits}`);
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url));
    const local = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...CLEAN_ENV, ...key.env } }), 60_000);
    const store = await engine.storeAddress(join(dir, "data"));
    const applied = await local(["apply", "-f", join(dir, "moat.yaml"), "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    await writeFile(join(dir, "moat-ca.pem"), ca.bundlePem);
    edge = startMoat(["start", "--store", store, "--api", "127.0.0.1:0"], { cwd: tmpdir(), env: key.env, detached: true });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    const apiUrl = String((await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    for (const role of ["viewer", "operator"] as const) {
      const created = await local(["token", "create", "--role", role, "--name", `${role}-cli`, "--store", store]);
      assert.equal(created.code, 0, created.stderr);
      await writeFile(join(dir, `${role}.token`), created.stdout, { mode: 0o600 });
      env[role] = { ...CLEAN_ENV, MOAT_CONTEXTS: join(dir, "contexts.yaml"), MOAT_API: apiUrl, MOAT_API_CA: join(dir, "moat-ca.pem"), MOAT_TOKEN_FILE: join(dir, `${role}.token`) };
    }
  });

  after(async () => {
    if (edge?.child.pid && isGroupAlive(edge.child.pid)) {
      process.kill(edge.child.pid, "SIGTERM");
      await withDeadline("the edge to exit", edge.exited, 60_000).catch(() => edge.kill());
    }
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = () => viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/page" });

  test("moat cache invalidate over the API returns once the edge applied it on both workers: the next request is a miss; a viewer is refused on one line", { timeout: 120_000 }, async () => {
    for (let i = 0; i < 4; i++) assert.equal((await get()).status, 200);
    const cachedHits = originHits;
    for (let i = 0; i < 4; i++) await get();
    assert.equal(originHits, cachedHits, "served from cache");

    const refused = await moat(["cache", "invalidate", "--distribution", "site", "/page"], "viewer");
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.split("\n").length, 2, refused.stderr);
    assert.match(refused.stderr, /^moat: the admin API refused POST \/invalidations \(403, api-forbidden\): /);

    const run = await moat(["cache", "invalidate", "--distribution", "site", "/page", "--wait", "60s"], "operator");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Invalidation #\d+ recorded for site: \/page\nEdge \S+ has applied it on every worker: the next request for these paths goes to the origin\.\n$/);
    assert.match(run.stderr, /^moat: invalidation #\d+ recorded for site: \/page\n/);
    // The list and the invalidation itself say so too, naming the edge and when it applied it.
    const [, id, edgeName] = /^Invalidation #(\d+) recorded for site: \/page\nEdge (\S+) has/.exec(run.stdout)!;
    const shown = await moat(["invalidations", "show", id!], "viewer");
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      new RegExp(`^id            ${id}\\ndistribution  site\\npaths         /page\\ncreated       \\S+\\nby            api:token/[0-9a-f]{16}\\nstatus        applied \\(1/1\\)\\nedges         EDGE +STATUS +APPLIED AT\\n              ${edgeName} +applied +\\S+\\n$`),
    );
    const listed = await moat(["invalidations", "list", "--distribution", "site", "--limit", "1"], "viewer");
    assert.match(listed.stdout, new RegExp(`^ID +DISTRIBUTION +CREATED +BY +EDGES +PATHS\\n${id} +site +\\S+ +api:token/[0-9a-f]{16} +applied \\(1/1\\) +/page\\n$`));
    const after = await get();
    assert.equal(originHits, cachedHits + 1, "the first request after the invalidation is a miss");
    assert.equal(after.body, `hit ${cachedHits + 1}`);

    const noWait = await moat(["cache", "invalidate", "--distribution", "site", "/other", "--no-wait", "--json"], "operator");
    assert.equal(noWait.code, 0, noWait.stderr);
    assert.deepEqual(JSON.parse(noWait.stdout).paths, ["/other"]);
  });

  test("moat certs rotate returns once the API lists a new certificate active in its place, which the edge presents; a viewer is refused", { timeout: 150_000 }, async () => {
    const listed = await moat(["certs", "list", "--distribution", "site", "--use", "viewer-server", "--state", "active", "--json"], "viewer");
    assert.equal(listed.code, 0, listed.stderr);
    const [old] = (JSON.parse(listed.stdout) as { serialHex: string; name: string }[]).map((item) => item.serialHex);
    assert.ok(old);
    assert.equal(await presentedSerial(port, ca.bundlePem), old);

    const refused = await moat(["certs", "rotate", old], "viewer");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^moat: the admin API refused POST \/certificates\/[0-9a-f]+\/rotate \(403, api-forbidden\): [^\n]+\n$/);

    const run = await moat(["certs", "rotate", old, "--wait", "60s"], "operator");
    assert.equal(run.code, 0, run.stderr);
    const match = /^Rotated viewer-server certificate viewer-site: serial ([0-9a-f]+) is active, valid until \S+ \(it replaces ([0-9a-f]+)\)\.\n$/.exec(run.stdout);
    assert.ok(match, run.stdout);
    const [, rotated, replaced] = match;
    assert.equal(replaced, old);
    assert.notEqual(rotated, old);
    assert.match(run.stderr, new RegExp(`^moat: asked the edge to rotate viewer-server certificate viewer-site \\(serial ${old}\\) at \\S+\\n`));
    // The API lists what the edge's store holds; the workers present it once they have swapped it in.
    const presented = await withDeadline(
      "both workers to present the rotated certificate",
      (async () => {
        for (let inARow = 0; inARow < 4; ) {
          if ((await presentedSerial(port, ca.bundlePem)) === rotated) inARow += 1;
          else {
            inARow = 0;
            await sleep(100);
          }
        }
        return rotated;
      })(),
      30_000,
    );
    assert.equal(presented, rotated);
    const shown = await moat(["certs", "show", old, "--json"], "viewer");
    assert.equal(JSON.parse(shown.stdout).state, "retired");
  });
}
