// `moat start` with `workers: 2` and log.accessLog.file: each worker writes its own rolled file, named by its number; request lines leave stdout.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin, type TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { isGroupAlive, startMoat, type RunningMoat } from "../moat-process.ts";

describe("moat start with workers: 2 and an access log file", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let moat: RunningMoat;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-workers-access-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    await writeFile(
      join(dir, "moat.yaml"),
      `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
log: { accessLog: { file: ./logs/access.log } }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${origin.url}" }]
`,
    );
  });

  after(async () => {
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("each worker's request lines are in its own file; none on stdout; all there after SIGTERM", { timeout: 120_000 }, async () => {
    moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
    const listening = await withTimeout("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
    for (const worker of [1, 2]) await withTimeout(`worker ${worker}`, moat.waitForLine(`worker ${worker}`, (line) => line.msg === "worker edge listening" && line.worker === worker), 30_000);
    const port = Number(listening.httpsPort);
    // New connections go to the workers in turn: ten reach both.
    for (let index = 0; index < 10; index++) assert.equal((await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: `/w/${index}` })).status, 200);
    process.kill(moat.child.pid as number, "SIGTERM");
    const exit = await withTimeout("the group to exit", moat.exited, 60_000);
    assert.equal(exit.code, 0);

    const folder = join(dir, "logs");
    assert.deepEqual((await readdir(folder)).sort(), ["access-w1.1.log", "access-w2.1.log"]);
    const paths: string[] = [];
    for (const worker of [1, 2]) {
      const lines = (await readFile(join(folder, `access-w${worker}.1.log`), "utf8")).split("\n").filter(Boolean).map((text) => JSON.parse(text) as Record<string, unknown>);
      assert.ok(lines.length > 0, `worker ${worker} served some`);
      for (const line of lines) {
        assert.deepEqual([line.msg, line.worker], ["request", worker]);
        paths.push(String(line.path));
      }
    }
    assert.deepEqual(paths.sort(), Array.from({ length: 10 }, (_, index) => `/w/${index}`).sort(), "every request once, in one file or the other");
    assert.equal(moat.lines.filter((line) => line.msg === "request").length, 0, "no request line on stdout");
  });
});
