// `moat start` stopped by one signal to the one PID a supervisor started (`npm run moat -- start`, or node directly): the edge drains, its port closes, nothing is left running.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin, type TestOrigin } from "../../support/test-origin.ts";
import { createViewerClient, viewerRequest } from "../../support/viewer-client.ts";
import { isGroupAlive, probePort, startMoat, type MoatLauncher, type RunningMoat } from "../moat-process.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";

describe("moat start under a supervisor: one signal to the started PID stops everything", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let releaseSlow: () => void = () => {};
  const started: RunningMoat[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-signals-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const gate = new Promise<void>((resolve) => (releaseSlow = resolve));
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        if (req.url !== "/slow") return res.end("fast");
        res.writeHead(200);
        res.write("slow start;");
        void gate.then(() => res.end("slow end"));
      },
    });
    await writeFile(
      join(dir, "moat.yaml"),
      `dataDir: ./data
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - { id: site, aliases: [site.test], origins: [{ id: app, url: "${origin.url}" }] }
`,
    );
  });

  after(async () => {
    // Whatever a failed test left: the whole group, by its leader's PID, never by name.
    for (const moat of started) if (moat.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    releaseSlow();
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(launcher: MoatLauncher): Promise<{ moat: RunningMoat; port: number; pid: number }> {
    const moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, launcher, detached: true });
    started.push(moat);
    const listening = await withTimeout("the edge to listen", moat.waitForLine("the edge to listen", (line) => line.msg === "edge listening"), 60_000);
    const port = Number(listening.httpsPort);
    assert.equal(await probePort(port), "connected");
    return { moat, port, pid: moat.child.pid! };
  }

  async function assertAllGone(moat: RunningMoat, pid: number, port: number): Promise<void> {
    // Its exit, not the close of its output: an orphaned edge would keep that pipe open.
    const child = moat.child;
    if (child.exitCode === null && child.signalCode === null) await withTimeout("the started process to exit", once(child, "exit"), 40_000);
    assert.equal(isGroupAlive(pid), false, "a process of the group is still running: the edge was orphaned");
    assert.equal(await probePort(port), "ECONNREFUSED", "the edge's port is still open");
    // Nothing holds its output open any more: read it to the end.
    await withTimeout("its output to end", moat.exited);
  }

  for (const [launcher, signal] of [["npm run", "SIGTERM"], ["npm run", "SIGINT"], ["node", "SIGTERM"], ["node", "SIGINT"]] as const) {
    test(`${launcher === "npm run" ? "npm run moat -- start" : "node src/cli/main.ts start"}: ${signal} to that PID alone drains the edge and leaves nothing running`, { timeout: 90_000 }, async () => {
      const { moat, port, pid } = await start(launcher);
      process.kill(pid, signal);
      await assertAllGone(moat, pid, port);
      assert.ok(moat.lines.some((line) => line.msg === "edge stopped"), `the edge drained and said so:\n${moat.stdout()}`);
    });
  }

  test("npm run moat -- start: a second SIGTERM during the drain ends the edge at once, with its request still in flight", { timeout: 90_000 }, async () => {
    const { moat, port, pid } = await start("npm run");
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });
    const inFlight = viewerRequest(client, { path: "/slow", host: "site.test" }).catch((error: unknown) => error);
    await withTimeout("the origin to see the request", new Promise<void>((resolve) => {
      const check = () => (origin.seen.some((seen) => seen.url === "/slow") ? resolve() : setImmediate(check));
      check();
    }));
    process.kill(pid, "SIGTERM");
    await withTimeout("the drain to start", moat.waitForLine("the drain", (line) => String(line.msg).startsWith("stopping")));
    process.kill(pid, "SIGTERM");
    await assertAllGone(moat, pid, port);
    assert.ok(moat.lines.some((line) => line.msg === "second signal: exiting without waiting for requests in flight"), `exit ${moat.child.exitCode} ${moat.child.signalCode}\n${moat.stdout()}\n${moat.stderr()}`);
    // A worker with nothing in flight drains and says so; the primary's line (no worker field) must not come.
    assert.ok(!moat.lines.some((line) => line.msg === "edge stopped" && line.worker === undefined), `the edge did not wait for the drain\n${moat.stdout()}`);
    await inFlight;
    await client.destroy();
  });

  test("node src/cli/main.ts start: a SIGTERM while the edge is still starting is held, and the edge drains as soon as it is up", { timeout: 90_000 }, async () => {
    const moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, launcher: "node", detached: true });
    started.push(moat);
    const pid = moat.child.pid!;
    // Before the edge listens: Node's default action would have killed it without a drain or a word.
    await withTimeout("the master key to load", moat.waitForLine("the master key", (line) => line.msg === "master key loaded"), 60_000);
    process.kill(pid, "SIGTERM");
    const listening = await withTimeout("the edge to listen", moat.waitForLine("the edge to listen", (line) => line.msg === "edge listening"), 60_000);
    await assertAllGone(moat, pid, Number(listening.httpsPort));
    assert.equal(moat.child.exitCode, 0, moat.stdout());
    assert.ok(moat.lines.some((line) => line.msg === "stop requested while starting: the edge drains as soon as it is up"));
    assert.ok(moat.lines.some((line) => line.msg === "edge stopped"), moat.stdout());
  });
});
