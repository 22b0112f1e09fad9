// A fleet of two edges (separate processes) on one PostgreSQL: a change reaches both by NOTIFY; with PostgreSQL stopped both serve on, one restarted starts from its local copy, and both catch up when it returns.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { validateStoredDocument } from "../../../src/config/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import type { EdgeRecord } from "../../../src/store/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { LogLine, RunningMoat } from "../moat-process.ts";

const OUTAGE = "store unreachable; serving the last good snapshot until it answers";
const RECOVERED = "store reachable again";

describe("a fleet of edges on one PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let originA: TestOrigin;
  let originB: TestOrigin;

  before(async () => {
    server = await startPostgres(findPostgres() as string);
    dir = await mkdtemp(join(tmpdir(), "moat-fleet-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    originA = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("from a") });
    originB = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("from b") });
  });

  after(async () => {
    await Promise.all([originA?.close(), originB?.close()]);
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const configFile = (target: "a" | "b") => `dataDir: ./data
workers: 1
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins:
      - { id: a, url: "${originA.url}" }
      - { id: b, url: "${originB.url}" }
    behaviors:
      - { path: "*", target: ${target} }
`;

  test("a change reaches both edges by NOTIFY, each records the revision it serves; with PostgreSQL stopped both serve, a restarted one from its local copy, and both catch up once it is back", { timeout: 300_000 }, async (t) => {
    const running = server!;
    const file = join(dir, "moat.yaml");
    const apply = async (target: "a" | "b") => {
      await writeFile(file, configFile(target));
      const applied = await withDeadline("moat apply", runMoat(["apply", "-f", file, "--store", running.url], { cwd: dir, env: key.env }), 60_000);
      assert.equal(applied.code, 0, applied.stderr);
    };
    await apply("a");

    const processes: RunningMoat[] = [];
    t.after(async () => {
      for (const edge of processes) if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
      await Promise.all(processes.map((edge) => edge.exited));
    });
    // Each edge keeps its local copy in a data directory of its own; the fallback poll is 10 minutes, so only a notification brings a change within the test.
    const copyDir = (name: string) => join(dir, `edge-${name}`);
    const startEdge = async (name: string) => {
      await mkdir(copyDir(name), { recursive: true, mode: 0o700 });
      const edge = startMoat(["start", "--store", running.url, "--edge-name", name], {
        cwd: dir,
        env: { ...key.env, MOAT_DATA_DIR: copyDir(name), MOAT_STORE_FALLBACK_POLL_MS: "600000" },
        detached: true,
      });
      processes.push(edge);
      const listening = await withDeadline(`edge ${name} to listen`, edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
      return { edge, port: Number(listening.httpsPort) };
    };
    const get = async (port: number) => (await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" })).body;
    const reloaded = (edge: RunningMoat, name: string, revision: number) =>
      withDeadline(`edge ${name} to serve revision ${revision}`, edge.waitForLine(`config reloaded at ${revision}`, (line: LogLine) => line.msg === "config reloaded" && line.revision === revision), 60_000);
    const count = (edge: RunningMoat, msg: string) => edge.lines.filter((line) => line.msg === msg).length;

    let a = await startEdge("a");
    let b = await startEdge("b");
    for (const { edge } of [a, b]) await withDeadline("LISTEN", edge.waitForLine("listening", (line) => line.msg === "listening for store changes"), 30_000);
    assert.equal(await get(a.port), "from a");
    assert.equal(await get(b.port), "from a");

    // (a) A change through `moat apply`: both edges read it when notified, not at a poll (the next one is minutes away).
    await apply("b");
    const committedAt = Date.now();
    const [onA, onB] = await Promise.all([reloaded(a.edge, "a", 2), reloaded(b.edge, "b", 2)]);
    const servedAfterMs = Date.now() - committedAt;
    t.diagnostic(`revision 2 served by both edges ${servedAfterMs} ms after its commit`);
    assert.equal(onA.why, "store notified revision 2");
    assert.equal(onB.why, "store notified revision 2");
    assert.ok(servedAfterMs < 10_000, `revision 2 took ${servedAfterMs} ms to reach both edges`);
    assert.equal(await get(a.port), "from b");
    assert.equal(await get(b.port), "from b");

    // (c) Each edge's row says which revision it serves.
    const store = await openStore({ address: running.url, validate: validateStoredDocument });
    const rows = async () => (await store.edges.list()).map((row: EdgeRecord) => [row.name, row.revision]);
    try {
      await withDeadline(
        "both edges to record revision 2",
        (async () => {
          while (JSON.stringify(await rows()) !== JSON.stringify([["a", 2], ["b", 2]])) await new Promise((resolve) => setTimeout(resolve, 100));
        })(),
        30_000,
      );
      const rowA = (await store.edges.list())[0]!;
      assert.match(rowA.servedAt ?? "", /^\d{4}-\d\d-\d\dT/);
      assert.match(rowA.lastSeenAt, /^\d{4}-\d\d-\d\dT/);
      assert.equal(rowA.version, "0.1.0");
    } finally {
      await store.close();
    }
    // The local copy: revision 2, the owner's alone.
    const copyFile = join(copyDir("b"), "store-copy.json");
    await withDeadline(
      "edge b's local copy of revision 2",
      (async () => {
        while (((JSON.parse(await readFile(copyFile, "utf8").catch(() => "{}")) as { revision?: number }).revision ?? 0) < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      })(),
      30_000,
    );
    assert.equal((await stat(copyFile)).mode & 0o777, 0o600);

    // (b) PostgreSQL stops: both edges serve on.
    await running.pause();
    await withDeadline("edge a to log the outage", a.edge.waitForLine("outage", (line) => line.msg === OUTAGE), 60_000);
    await withDeadline("edge b to log the outage", b.edge.waitForLine("outage", (line) => line.msg === OUTAGE), 60_000);
    assert.equal(await get(a.port), "from b");
    assert.equal(await get(b.port), "from b");

    // Edge b restarts while it is down: it starts from its local copy and serves.
    process.kill(b.edge.child.pid!, "SIGTERM");
    await withDeadline("edge b to stop", b.edge.exited, 60_000);
    b = await startEdge("b");
    const fromCopy = b.edge.lines.find((line) => String(line.msg).startsWith("store unreachable at start: serving revision 2 from the local copy"));
    assert.ok(fromCopy, `the start says it serves the local copy:\n${b.edge.stdout()}`);
    assert.equal(fromCopy.file, copyFile);
    assert.equal(await get(b.port), "from b");
    assert.equal(await get(a.port), "from b");

    // PostgreSQL is back: a revision committed now reaches both.
    await running.resume();
    await apply("a");
    await Promise.all([reloaded(a.edge, "a", 3), reloaded(b.edge, "b", 3)]);
    assert.equal(await get(a.port), "from a");
    assert.equal(await get(b.port), "from a");
    for (const edge of [a.edge, b.edge]) await withDeadline("the end of the outage", edge.waitForLine("recovered", (line) => line.msg === RECOVERED), 30_000);
    // The outage once and its end once (the restarted edge's outage line is the one naming its local copy).
    assert.equal(count(a.edge, OUTAGE), 1, "edge a logged the outage once");
    assert.equal(count(a.edge, RECOVERED), 1, "edge a logged its end once");
    assert.equal(count(b.edge, OUTAGE), 0, "the restarted edge b logged the outage once, at start, as serving its local copy");
    assert.equal(count(b.edge, RECOVERED), 1, "edge b logged its end once");

    const after = await openStore({ address: running.url, validate: validateStoredDocument });
    try {
      await withDeadline(
        "both edges to record revision 3",
        (async () => {
          for (;;) {
            const list = (await after.edges.list()).map((row) => [row.name, row.revision]);
            if (JSON.stringify(list) === JSON.stringify([["a", 3], ["b", 3]])) return;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
        30_000,
      );
    } finally {
      await after.close();
    }
  });

  test("an edge with neither the store nor a local copy does not start, and says why, naming both", { timeout: 120_000 }, async () => {
    const copies = await mkdtemp(join(dir, "empty-"));
    // A port nothing listens on: the store is unreachable at once.
    const address = `postgres://moat:nothing@127.0.0.1:1/moat`;
    const started = await withDeadline("moat start", runMoat(["start", "--store", address, "--edge-name", "lonely"], { cwd: dir, env: { ...key.env, MOAT_DATA_DIR: copies } }), 60_000);
    assert.equal(started.code, 1);
    assert.match(started.stderr, /cannot start: the store postgres:\/\/moat@127\.0\.0\.1:1\/moat is unreachable \(.*\), and the local copy .*store-copy\.json cannot stand in for it: there is none/);
    assert.doesNotMatch(started.stderr, /nothing@/, "no password in the message");
    const copyFile = join(copies, "store-copy.json");
    const startWith = async (copy: string) => {
      await writeFile(copyFile, copy, { mode: 0o600 });
      return withDeadline("moat start", runMoat(["start", "--store", address, "--edge-name", "lonely"], { cwd: dir, env: { ...key.env, MOAT_DATA_DIR: copies } }), 60_000);
    };
    // A copy of another store is not this store's last revision; a file that is not a copy is not one either.
    const other = await startWith(JSON.stringify({ format: "moat-store-copy-1", store: "postgres://moat@127.0.0.1:2/moat", revision: 3, savedAt: "2026-01-01T00:00:00.000Z", document: {} }));
    assert.equal(other.code, 1);
    assert.match(other.stderr, /cannot stand in for it: it is a copy of the store postgres:\/\/moat@127\.0\.0\.1:2\/moat, not of this one/);
    const garbled = await startWith("{ half a file");
    assert.equal(garbled.code, 1);
    assert.match(garbled.stderr, /cannot stand in for it: it is not JSON/);
  });
});
