// An edge run from a SQLite store keeps the store's certificate records and records its own renewals in the audit trail, under its name.
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateStoredDocument } from "../../../src/config/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { LogLine } from "../moat-process.ts";

const EDGE = "edge-one";

test("an edge from a SQLite store renews a short-lived certificate: the trail records it as edge:<name> with both serials, verify passes, the store shows the new one active and the old retired", { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), "moat-cert-records-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  const dataDir = join(root, "data");
  await mkdir(dataDir);
  await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  // Twelve-second viewer certificates renewed at half their life: one renewal within seconds of the start. Two workers: the primary alone records.
  await writeFile(
    join(root, "moat.yaml"),
    `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
pki: { serverCertValidity: 12s, renewAtFraction: 0.5 }
distributions:
  - id: shop
    aliases: [shop.test]
    origins: [{ id: app, url: "https://127.0.0.1:9" }]
`,
  );
  const applied = await withDeadline("moat apply", runMoat(["apply", "-f", join(root, "moat.yaml"), "--store", dataDir], { cwd: root, env: key.env }), 60_000);
  assert.equal(applied.code, 0, applied.stderr);

  const edge = startMoat(["start", "--store", dataDir, "--edge-name", EDGE], { cwd: root, env: key.env, detached: true });
  t.after(async () => {
    if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
    await edge.exited;
  });
  const started = await withDeadline("the first sync", edge.waitForLine("the first sync", (line: LogLine) => line.msg === "certificate records synced to the store"), 90_000);
  assert.deepEqual(started.auditRecords, [], "an edge's first sync is a baseline: nothing it found is an event");
  const renewed = await withDeadline(
    "the renewal's sync",
    edge.waitForLine("the renewal's sync", (line: LogLine) => line.msg === "certificate records synced to the store" && (line.auditRecords as string[]).some((record) => record.startsWith("certificate.rotate"))),
    60_000,
  );
  assert.equal(renewed.edge, EDGE);
  process.kill(-edge.child.pid!, "SIGTERM");
  assert.equal((await withDeadline("the edge to stop", edge.exited, 60_000)).code, 0);

  const store = await openStore({ address: dataDir, validate: validateStoredDocument });
  t.after(() => store.close());
  const rotations = await store.audit.list({ limit: 100, action: "certificate.rotate" });
  assert.ok(rotations.length >= 1, "the renewal is in the trail");
  // Renewals on schedule, each recorded once: no serial rotated in twice, none replaced twice.
  const rotatedIn = rotations.map((record) => record.resource);
  assert.equal(new Set(rotatedIn).size, rotatedIn.length, "no certificate rotated in twice");
  const replaced = rotations.map((record) => (record.before as { serialHex: string }).serialHex);
  assert.equal(new Set(replaced).size, replaced.length, "no certificate replaced twice");
  for (const record of rotations) {
    assert.equal(record.actor, `edge:${EDGE}`);
    assert.equal(record.distribution, "shop");
    const before = record.before as { serialHex: string; notAfter: string };
    const after = record.after as { serialHex: string; notAfter: string; use: string };
    assert.equal(record.resource, `certificate/${after.serialHex}`);
    assert.equal(after.use, "viewer-server");
    assert.notEqual(before.serialHex, after.serialHex);
    assert.ok(Date.parse(after.notAfter) > Date.parse(before.notAfter), "the new one lasts longer");
  }
  assert.doesNotMatch(JSON.stringify(await store.audit.list({ limit: 1000 })), /PRIVATE KEY|BEGIN CERTIFICATE/, "no key, nor a PEM, in the trail");

  // The table and the trail are written in one transaction: the last rotation recorded is what the table shows.
  const last = rotations.at(-1)!;
  const viewers = (await store.certificates.list({ limit: 100, edge: EDGE, use: "viewer-server", now: new Date() })).items;
  const byRecordedState = (serialHex: string) => viewers.find((item) => item.serialHex === serialHex)?.recordedState;
  assert.equal(byRecordedState((last.after as { serialHex: string }).serialHex), "active");
  assert.equal(byRecordedState((last.before as { serialHex: string }).serialHex), "retired");
  assert.equal(viewers.filter((item) => item.recordedState === "active").length, 1);
  const ca = (await store.certificates.list({ limit: 10, use: "root-ca", now: new Date() })).items;
  assert.deepEqual(ca.map((item) => item.edge), [null], "the CA's root is shared, held by no edge");

  const verified = await withDeadline("moat audit verify", runMoat(["audit", "verify", "--store", dataDir], { cwd: root, env: key.env }), 60_000);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});
