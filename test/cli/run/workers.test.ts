// `moat start` with `workers: 2`: both workers serve one port; reloads, invalidations and revocations reach each; certificates are issued once; one SIGTERM drains all; a killed worker is replaced.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin, type TestOrigin } from "../../support/test-origin.ts";
import { createViewerClient, viewerRequest, viewerRequestWithSni } from "../../support/viewer-client.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { isGroupAlive, probePort, runMoat, startMoat, type LogLine, type RunningMoat } from "../moat-process.ts";

const config = (originUrl: string, extra = "") => `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
${extra}`;

describe("moat start with workers: 2", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let moat: RunningMoat;
  let port: number;
  let releaseSlow: () => void = () => {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-workers-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const gate = new Promise<void>((resolve) => (releaseSlow = resolve));
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        if (req.url === "/slow") {
          res.writeHead(200);
          res.write("slow start;");
          return void gate.then(() => res.end("slow end"));
        }
        res.setHeader("cache-control", "max-age=3600");
        res.end(`body of ${req.url}`);
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url));
    // The edge's name reaches every worker: each names its Cache-Status entries with it.
    moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: { ...key.env, MOAT_EDGE_NAME: "pop-7" }, detached: true });
    const listening = await withTimeout("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    assert.equal(listening.worker, 0, "the primary says the group listens, once every worker does");
    // Lines from three processes share one pipe: each worker's own line may arrive just after the primary's.
    for (const worker of [1, 2]) await withTimeout(`worker ${worker}`, moat.waitForLine(`worker ${worker}`, (line) => line.msg === "worker edge listening" && line.worker === worker), 30_000);
  });

  after(async () => {
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    releaseSlow();
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Resolves once each worker has logged a line that matches, after the line at `start`. */
  async function waitForEachWorker(what: string, start: number, predicate: (line: LogLine) => boolean): Promise<void> {
    for (const worker of [1, 2]) await withTimeout(what, moat.waitForLine(`${what} (worker ${worker})`, (line) => moat.lines.indexOf(line) >= start && line.worker === worker && predicate(line)), 30_000);
  }
  const fresh = (host: string, path: string) => viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: host, host, path });

  test("every line says which process wrote it, and each worker serves connections on the one port, under the edge's Cache-Status name", { timeout: 60_000 }, async () => {
    assert.ok(moat.lines.every((line) => typeof line.worker === "number"), "a line without its worker");
    const start = moat.lines.length;
    // Round-robin: consecutive connections go to alternate workers.
    for (let i = 0; i < 6; i++) {
      const res = await fresh("site.test", `/plain/${i}`);
      assert.equal(res.status, 200);
      assert.match(String(res.headers["cache-status"]), /^moat-pop-7; fwd=uri-miss; /);
    }
    await waitForEachWorker("an access log line", start, (line) => line.msg === "request");
  });

  test("certificates are issued by the primary only: workers build from the store", () => {
    assert.ok(!moat.lines.some((line) => line.worker !== 0 && line.msg === "stored certificate unusable; issuing a new one"));
    const renewed = moat.lines.filter((line) => line.msg === "origin client certificate renewed");
    assert.ok(renewed.every((line) => line.worker === 0), `a worker issued a certificate:\n${JSON.stringify(renewed)}`);
  });

  test("a config edit and SIGHUP reach both workers: the new alias answers on every new connection", { timeout: 60_000 }, async () => {
    const start = moat.lines.length;
    await writeFile(join(dir, "moat.yaml"), config(origin.url).replace("aliases: [site.test]", "aliases: [site.test, new.test]"));
    process.kill(moat.child.pid!, "SIGHUP");
    await waitForEachWorker("the new snapshot", start, (line) => line.msg === "snapshot applied" && JSON.stringify(line.distributions).includes("new.test"));
    for (let i = 0; i < 6; i++) assert.equal((await fresh("new.test", "/plain/new")).status, 200);
  });

  test("an invalidation reaches both workers: each refetches the object", { timeout: 60_000 }, async () => {
    const countSeen = () => origin.seen.filter((seen) => seen.url === "/cached/a").length;
    // Fill each worker's memory tier (each holds its own).
    for (let i = 0; i < 4; i++) assert.equal((await fresh("site.test", "/cached/a")).body, "body of /cached/a");
    const filled = countSeen();
    assert.ok(filled >= 1 && filled <= 2, `one fill per worker at most, saw ${filled}`);
    for (let i = 0; i < 4; i++) await fresh("site.test", "/cached/a");
    assert.equal(countSeen(), filled, "hits on both workers");
    const start = moat.lines.length;
    const run = await runMoat(["cache", "invalidate", "--config", join(dir, "moat.yaml"), "--distribution", "site", "/cached/a"], { cwd: dir, env: key.env });
    assert.equal(run.code, 0, run.stderr);
    await waitForEachWorker("the invalidation", start, (line) => line.msg === "cache invalidation applied");
    for (let i = 0; i < 4; i++) await fresh("site.test", "/cached/a");
    assert.equal(countSeen(), filled + 2, "each worker refetched it once");
  });

  /** One request on its own connection, offering `session`: whether it resumed, and the session it was given. */
  function tlsExchange(session?: Buffer): Promise<{ isResumed: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      let isResumed = false;
      let given: Buffer | undefined;
      const socket = tls.connect({ host: "127.0.0.1", port, servername: "site.test", ca: ca.bundlePem, session }, () => {
        isResumed = socket.isSessionReused();
        socket.write("GET /plain/session HTTP/1.1\r\nhost: site.test\r\nconnection: close\r\n\r\n");
      });
      socket.on("session", (next: Buffer) => (given ??= next));
      socket.on("data", () => {});
      socket.once("error", reject);
      socket.once("close", () => resolve({ isResumed, session: given }));
    });
  }
  let resumable: Buffer | undefined;

  test("a TLS session issued by one worker resumes on both (the primary's ticket keys)", { timeout: 60_000 }, async () => {
    const first = await tlsExchange();
    assert.ok(first.session, "no session ticket");
    resumable = first.session;
    // Round-robin: of consecutive connections, half reach the other worker.
    const resumed = (await Promise.all([1, 2, 3, 4, 5, 6].map(() => tlsExchange(first.session)))).filter((exchange) => exchange.isResumed).length;
    assert.equal(resumed, 6, `resumed ${resumed} of 6`);
  });

  test("a revocation is handled once: the primary issues one new certificate, both workers serve it", { timeout: 60_000 }, async () => {
    const serialDirs = async () => (await readdir(join(dir, "data", "certs"), { recursive: true })).filter((entry) => /^[0-9a-f]{8,}$/i.test(basename(entry)));
    const before = await serialDirs();
    const viewerSerial = () => (moat.lines.filter((line) => line.worker === 0 && Array.isArray(line.distributions)).at(-1)!.distributions as Array<{ viewerCertificateSerial: string }>)[0]!.viewerCertificateSerial;
    const revoked = viewerSerial();
    const start = moat.lines.length;
    const run = await runMoat(["ca", "revoke", revoked, "--reason", "key-compromise", "--data-dir", join(dir, "data")], { cwd: dir, env: key.env });
    assert.equal(run.code, 0, run.stderr);
    await waitForEachWorker("the replaced certificate", start, (line) => line.msg === "snapshot applied" && !JSON.stringify(line.distributions).includes(revoked));
    const replacements = moat.lines.slice(start).filter((line) => line.msg === "snapshot applied").map((line) => (line.distributions as Array<{ viewerCertificateSerial: string }>)[0]!.viewerCertificateSerial);
    assert.equal(new Set(replacements).size, 1, `one new certificate for all: ${replacements.join(", ")}`);
    // The store may drop the revoked certificate's directory: count what is new.
    const added = (await serialDirs()).filter((entry) => !before.includes(entry));
    assert.equal(added.length, 1, `one issuance, not one per worker: ${added.join(", ")}`);
    assert.equal((await fresh("site.test", "/plain/after-revocation")).status, 200);
    // The primary's new ticket keys reached both workers: no session from before resumes anywhere.
    if (resumable) {
      const resumed = (await Promise.all([1, 2, 3, 4].map(() => tlsExchange(resumable)))).filter((exchange) => exchange.isResumed).length;
      assert.equal(resumed, 0, `resumed ${resumed} of 4 after the revocation`);
    }
  });

  test("a killed worker is replaced, and the port keeps answering", { timeout: 60_000 }, async () => {
    const listening = moat.lines.filter((line) => line.msg === "worker listening" && line.workerNumber === 2).at(-1)!;
    const start = moat.lines.length;
    process.kill(Number(listening.pid), "SIGKILL");
    await withTimeout("the restart", moat.waitForLine("the restart", (line) => moat.lines.indexOf(line) >= start && line.msg === "worker exited: restarting it" && line.signal === "SIGKILL"), 30_000);
    const replaced = await withTimeout("the new worker", moat.waitForLine("the new worker", (line) => moat.lines.indexOf(line) >= start && line.msg === "worker listening" && line.workerNumber === 2), 60_000);
    assert.notEqual(replaced.pid, listening.pid);
    // The replacement took the reloaded config, not the one the group started with.
    for (let i = 0; i < 4; i++) assert.equal((await fresh("new.test", "/plain/after-restart")).status, 200);
  });

  test("one SIGTERM to the primary drains every worker: the request in flight completes, then nothing is left", { timeout: 90_000 }, async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "site.test" });
    const inFlight = viewerRequest(client, { path: "/slow", host: "site.test" });
    await withTimeout("the origin to see the request", new Promise<void>((resolve) => {
      const check = () => (origin.seen.some((seen) => seen.url === "/slow") ? resolve() : setImmediate(check));
      check();
    }), 30_000);
    const pid = moat.child.pid!;
    process.kill(pid, "SIGTERM");
    await waitForEachWorker("the drain", 0, (line) => line.msg === "stopping: no new connections; requests in flight finish");
    releaseSlow();
    assert.equal((await inFlight).body, "slow start;slow end");
    await client.close();
    if (moat.child.exitCode === null && moat.child.signalCode === null) await withTimeout("the primary to exit", once(moat.child, "exit"), 60_000);
    assert.equal(moat.child.exitCode, 0);
    assert.equal(isGroupAlive(pid), false, "a worker outlived its primary");
    assert.equal(await probePort(port), "ECONNREFUSED");
    const stopped = moat.lines.filter((line) => line.msg === "edge stopped").map((line) => line.worker);
    assert.deepEqual(stopped.slice(-1), [0], `the primary stops last, after every worker: ${stopped.join(", ")}`);
    assert.ok(stopped.includes(1) && stopped.includes(2), "both workers stopped");
  });
});

describe("moat start with workers: a worker that cannot start", () => {
  test("a port in use: the primary exits non-zero with the worker's error, and nothing is left", { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-workers-busy-"));
    const key = await createTestMasterKey();
    await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      await writeFile(join(dir, "moat.yaml"), config("https://localhost:1").replace("https: 0", `https: ${busyPort}`));
      const moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
      const exit = await withTimeout("the primary to exit", moat.exited, 60_000);
      assert.equal(exit.code, 1);
      assert.match(moat.stderr(), /worker \d could not start .*EADDRINUSE/);
      assert.equal(isGroupAlive(moat.child.pid!), false);
    } finally {
      busy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
