// `moat start` with workers: 2 drains as one when SIGTERM reaches the whole process group (a terminal's Ctrl-C, `kill -TERM -PGID`,
// a supervisor that signals every process): each worker drains its responses in flight, and the primary exits 0, not on an EPIPE.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import { withTimeout } from "../guard/guard-fixture.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import { viewerRequestWithSni } from "../support/viewer-client.ts";
import { isGroupAlive, probePort, startMoat } from "./moat-process.ts";

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

test("SIGTERM to the whole process group: every response in flight arrives whole, the primary exits 0, nothing is left", { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-workers-group-term-"));
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
        // As `kill -TERM -PGID` does: the primary and each worker get their own SIGTERM at once.
        process.kill(-pgid, "SIGTERM");
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
