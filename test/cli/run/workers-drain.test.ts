// `moat start` with workers: 2 drains as one when SIGTERM reaches the whole process group (a terminal's Ctrl-C, `kill -TERM -PGID`,
// a supervisor that signals every process): each worker drains its responses in flight, and the primary exits 0, not on an EPIPE.
import assert from "node:assert/strict";
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startWorkerGroup } from "../../../src/cli/run/worker-group.ts";
import { loadConfigFile } from "../../../src/config/index.ts";
import { runEdge } from "../../../src/edge/index.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { cliMain, isGroupAlive, probePort, startMoat } from "../moat-process.ts";

const BIG_BYTES = 7 * 2 ** 20;

const config = (originUrl: string) => `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
`;

/** A GET on its own TLS connection that reads nothing once the response began: the edge's response waits in its socket. */
function pausedRequest(port: number, caPem: string): Promise<{ readAll(): Promise<{ head: string; bodyBytes: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "site.test", ca: caPem }, () => {
      socket.write("GET /big HTTP/1.1\r\nhost: site.test\r\n\r\n");
    });
    socket.once("error", reject);
    socket.once("readable", () =>
      resolve({
        readAll: () =>
          new Promise((done, fail) => {
            const chunks: Buffer[] = [];
            socket.on("data", (chunk: Buffer) => chunks.push(chunk));
            socket.once("error", fail);
            socket.once("end", () => {
              const all = Buffer.concat(chunks);
              const split = all.indexOf("\r\n\r\n");
              done({ head: all.subarray(0, split).toString("latin1"), bodyBytes: all.length - split - 4 });
            });
          }),
      }),
    );
  });
}

// SIGTERM to the primary (a supervisor's stop), or to the whole process group (a terminal's Ctrl-C, `kill -TERM -PGID`:
// the primary and each worker get their own SIGTERM at once).
for (const target of ["the primary", "the whole process group"] as const) {
  test(`SIGTERM to ${target}: every response in flight arrives whole, the primary exits 0, nothing is left`, { timeout: 240_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-workers-term-"));
    const key = await createTestMasterKey();
    const ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const big = Buffer.alloc(BIG_BYTES, "m");
    const origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.setHeader("cache-control", "max-age=3600");
        res.end(big);
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url));
    try {
      // The race is between a worker's own drain and the primary's "stop" to it: a few rounds give it every chance.
      for (let round = 1; round <= 3; round++) {
        const moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
        try {
          const listening = await withTimeout("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
          const port = Number(listening.httpsPort);
          for (let i = 0; i < 4; i++) assert.equal((await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/big" })).body.length, BIG_BYTES);
          const paused = await Promise.all([1, 2, 3, 4].map(() => pausedRequest(port, ca.bundlePem)));
          const start = moat.lines.length;
          const pgid = moat.child.pid!;
          process.kill(target === "the primary" ? pgid : -pgid, "SIGTERM");
          for (const worker of [1, 2]) {
            await withTimeout("the drain", moat.waitForLine(`the drain (worker ${worker})`, (line) => moat.lines.indexOf(line) >= start && line.worker === worker && line.msg === "stopping: no new connections; requests in flight finish"), 30_000);
          }
          const received = await Promise.all(paused.map((request) => request.readAll()));
          for (const { head, bodyBytes } of received) {
            assert.match(head, /^HTTP\/1\.1 200/);
            assert.equal(bodyBytes, BIG_BYTES, `round ${round}: a response cut short`);
          }
          const exit = await withTimeout("the primary to exit", moat.exited, 60_000);
          assert.doesNotMatch(moat.stderr(), /EPIPE|ERR_IPC|Error/, `round ${round}: the primary failed while stopping:\n${moat.stderr()}`);
          assert.equal(exit.code, 0, `round ${round}: exit ${JSON.stringify(exit)}\n${moat.stderr()}`);
          assert.equal(isGroupAlive(pgid), false, "a worker outlived its primary");
          assert.equal(await probePort(port), "ECONNREFUSED");
          const stopped = moat.lines.filter((line) => line.msg === "edge stopped").map((line) => line.worker);
          assert.deepEqual(stopped.slice(-1), [0], `the primary stops last, after every worker: ${stopped.join(", ")}`);
          assert.ok(stopped.includes(1) && stopped.includes(2), `both workers stopped: ${stopped.join(", ")}`);
        } finally {
          await moat.kill();
        }
      }
    } finally {
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** Linux's process state letter ("Z": exited, not yet reaped by its parent), or null once the process is gone. */
function processState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0]!;
  } catch {
    return null;
  }
}

// The race the group SIGTERM above gives a chance to, made certain: each worker drains on its own signal and closes its
// channel before the primary's event loop has seen it close, and the primary then tells it to stop. A write to that
// channel fails with EPIPE; the primary must take it as "already stopping", not crash.
test("the primary stops workers that closed their channel an instant before: no EPIPE crash, stop resolves", { timeout: 120_000, skip: process.platform !== "linux" && "reads /proc" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-workers-epipe-"));
  const key = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
  await writeFile(join(dir, "moat.yaml"), config("https://localhost:1"));
  const previousKey = process.env.MOAT_MASTER_KEY;
  process.env.MOAT_MASTER_KEY = key.env.MOAT_MASTER_KEY;
  // This test process is the primary; its workers run the real `moat start` worker.
  cluster.setupPrimary({ exec: cliMain, args: ["start"], silent: true });
  const log = createLogger({ level: "error" });
  const primary = await runEdge({ config: await loadConfigFile(join(dir, "moat.yaml")), ca, masterKey: key.masterKey, log, role: "primary" });
  try {
    const group = await startWorkerGroup({ count: 2, config: await loadConfigFile(join(dir, "moat.yaml")), ticketKeys: primary.ticketKeys()!, log, logLevel: "error" });
    const pids = Object.values(cluster.workers ?? {}).map((worker) => worker!.process.pid!);
    assert.equal(pids.length, 2);
    for (const pid of pids) process.kill(pid, "SIGTERM");
    // Synchronously: this event loop must not run (and read the closed channels) before stop() writes to them.
    const deadline = Date.now() + 60_000;
    while (!pids.every((pid) => processState(pid) === "Z")) {
      assert.ok(Date.now() < deadline, `the workers did not exit on SIGTERM: ${pids.map(processState).join(", ")}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      // A failed write's 'error' comes on the next tick, long before the workers' exits that stop() waits for.
      await withTimeout("the group to stop", group.stop(), 30_000);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    assert.deepEqual(uncaught.map((error) => error.message), [], "the primary failed on a closed channel");
    assert.ok(pids.every((pid) => processState(pid) === null), "every worker was reaped");
  } finally {
    await primary.stop();
    if (previousKey === undefined) delete process.env.MOAT_MASTER_KEY;
    else process.env.MOAT_MASTER_KEY = previousKey;
    await rm(dir, { recursive: true, force: true });
  }
});
