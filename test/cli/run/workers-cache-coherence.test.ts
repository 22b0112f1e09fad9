// `moat start` with workers: 2, each with its own memory tier: an unsafe request through one worker invalidates what the
// other holds in memory (RFC 9111 §4.4) before its response is sent, and `moat cache invalidate` waits for every worker.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Client } from "undici";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin, type TestOrigin } from "../../support/test-origin.ts";
import { createViewerClient, viewerRequest } from "../../support/viewer-client.ts";
import { isGroupAlive, runMoat, startMoat, type RunningMoat } from "../moat-process.ts";

const config = (originUrl: string) => `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
`;

describe("moat start with workers: 2, cache coherence between the workers' memory tiers", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let moat: RunningMoat;
  let port: number;
  // Each served by one worker: a keep-alive connection stays with the worker it was handed to.
  const pinned = new Map<number, Client>();
  let version = 1;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-workers-coherence-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        req.resume();
        req.on("end", () => {
          // A POST changes the document: the stored GET response no longer describes it.
          if (req.method === "POST") version += 1;
          res.setHeader("cache-control", "max-age=3600");
          res.end(req.method === "POST" ? "updated" : `version ${version}`);
        });
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url));
    moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
    const listening = await withTimeout("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    // Which worker holds a connection is what the access log's `worker` says of the request sent on it.
    for (let i = 0; pinned.size < 2 && i < 20; i++) {
      const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });
      assert.equal((await viewerRequest(client, { path: `/whoami/${i}`, host: "site.test" })).status, 200);
      const line = await withTimeout("the access log line", moat.waitForLine(`the request /whoami/${i}`, (l) => l.msg === "request" && l.path === `/whoami/${i}`), 30_000);
      const worker = Number(line.worker);
      if (pinned.has(worker)) await client.close();
      else pinned.set(worker, client);
    }
    assert.deepEqual([...pinned.keys()].sort(), [1, 2], "a connection on each worker");
  });

  after(async () => {
    await Promise.all([...pinned.values()].map((client) => client.close().catch(() => {})));
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const gets = () => origin.seen.filter((seen) => seen.method === "GET" && seen.url === "/doc").length;
  const get = (worker: number) => viewerRequest(pinned.get(worker)!, { path: "/doc", host: "site.test" });

  /** Makes both workers hold /doc in memory: each has answered it from its cache since its last fill. */
  async function fillBoth(): Promise<void> {
    for (const worker of [1, 2]) await get(worker);
    const filled = gets();
    for (const worker of [1, 2]) assert.equal((await get(worker)).body, `version ${version}`);
    assert.equal(gets(), filled, "both workers answer /doc from their cache");
  }

  for (const [through, other] of [[1, 2], [2, 1]] as const) {
    test(`a POST through worker ${through} invalidates what worker ${other} holds in memory, before the POST's response`, { timeout: 60_000 }, async () => {
      await fillBoth();
      const before = gets();
      const posted = await viewerRequest(pinned.get(through)!, { path: "/doc", host: "site.test", method: "POST", body: "new" });
      assert.equal(posted.status, 200);
      const after = await get(other);
      assert.equal(after.body, `version ${version}`, `worker ${other} served its memory copy from before the POST`);
      assert.equal(gets(), before + 1, "the GET after the POST went to the origin");
    });
  }

  test("moat cache invalidate waits for every worker, and names the one that has not applied it", { timeout: 90_000 }, async () => {
    const workerPid = (worker: number) => Number(moat.lines.filter((line) => line.msg === "worker listening" && line.workerNumber === worker).at(-1)!.pid);
    const invalidate = (path: string, wait: string) => runMoat(["cache", "invalidate", "--config", join(dir, "moat.yaml"), "--distribution", "site", "--wait", wait, path], { cwd: dir, env: key.env });
    const stuck = workerPid(2);
    // A worker that cannot run (stopped) cannot apply it: the command must not say it was applied.
    process.kill(stuck, "SIGSTOP");
    let lagging;
    try {
      const start = moat.lines.length;
      lagging = await invalidate("/doc", "2s");
      await withTimeout("worker 1 to apply it", moat.waitForLine("worker 1's invalidation", (line) => moat.lines.indexOf(line) >= start && line.worker === 1 && line.msg === "cache invalidation applied"), 30_000);
    } finally {
      process.kill(stuck, "SIGCONT");
    }
    assert.equal(lagging.code, 1, `${lagging.stdout}\n${lagging.stderr}`);
    assert.match(lagging.stderr, new RegExp(`worker 2 \\(pid ${stuck}\\) has applied up to #\\d+`));
    assert.doesNotMatch(lagging.stdout, /applied it:/);

    const done = await invalidate("/other", "30s");
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /All 2 workers of the running edge have applied it/);
  });
});
