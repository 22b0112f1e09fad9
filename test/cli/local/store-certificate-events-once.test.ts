// One certificate event, one record: an edge run from a SQLite store rotates a certificate (asked over its admin API), then re-issues its leaves after a CA renewal, and the trail holds exactly one certificate.rotate for each.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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

const EDGE = "edge-once";
const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "" };

test("moat certs rotate and moat ca renew-intermediate over the admin API of an edge from a SQLite store: exactly one certificate.rotate per new serial, naming the old one; verify passes", { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), "moat-cert-once-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  const dataDir = join(root, "data");
  const ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  await writeFile(join(root, "moat-ca.pem"), ca.bundlePem);
  await writeFile(
    join(root, "moat.yaml"),
    `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "https://127.0.0.1:9" }]
`,
  );
  const local = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: root, env: { ...CLEAN_ENV, ...key.env } }), 60_000);
  const applied = await local(["apply", "-f", join(root, "moat.yaml"), "--store", dataDir]);
  assert.equal(applied.code, 0, applied.stderr);
  const created = await local(["token", "create", "--role", "admin", "--name", "rotator", "--store", dataDir]);
  assert.equal(created.code, 0, created.stderr);
  await writeFile(join(root, "admin.token"), created.stdout, { mode: 0o600 });

  const edge = startMoat(["start", "--store", dataDir, "--edge-name", EDGE, "--api", "127.0.0.1:0"], { cwd: root, env: key.env, detached: true });
  t.after(async () => {
    if (edge.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
    await edge.exited;
  });
  const apiUrl = String((await withDeadline("the admin API", edge.waitForLine("admin API listening", (line: LogLine) => line.msg === "admin API listening"), 90_000)).url);
  const api = { ...CLEAN_ENV, MOAT_CONTEXTS: join(root, "contexts.yaml"), MOAT_API: apiUrl, MOAT_API_CA: join(root, "moat-ca.pem"), MOAT_TOKEN_FILE: join(root, "admin.token") };
  const moat = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: root, env: api }), 90_000);

  const listed = await moat(["certs", "list", "--distribution", "site", "--use", "viewer-server", "--state", "active", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  const [old] = (JSON.parse(listed.stdout) as { serialHex: string }[]).map((item) => item.serialHex);
  assert.ok(old);
  const run = await moat(["certs", "rotate", old, "--wait", "60s"]);
  assert.equal(run.code, 0, run.stderr);
  const [, rotated] = /serial ([0-9a-f]+) is active/.exec(run.stdout) ?? [];
  assert.ok(rotated, run.stdout);

  // A CA renewal over the API: the edge re-issues both of its leaves (viewer and origin client), each rotated in once.
  const rotatedSoFar = () => edge.lines.flatMap((line) => (line.msg === "certificate records synced to the store" ? (line.auditRecords as string[]) : [])).filter((record) => record.startsWith("certificate.rotate")).length;
  const before = rotatedSoFar();
  const renewed = await moat(["ca", "renew-intermediate"]);
  assert.equal(renewed.code, 0, renewed.stderr);
  await withDeadline("both leaves re-issued under the new intermediate", edge.waitForLine("both re-issues synced", () => rotatedSoFar() >= before + 2), 60_000);

  process.kill(-edge.child.pid!, "SIGTERM");
  assert.equal((await withDeadline("the edge to stop", edge.exited, 60_000)).code, 0);

  const store = await openStore({ address: dataDir, validate: validateStoredDocument });
  t.after(() => store.close());
  const trail = await store.audit.list({ limit: 1000 });
  const about = (serial: string, action: string) => trail.filter((record) => record.resource === `certificate/${serial}` && record.action === action);
  assert.equal(about(rotated, "certificate.rotate").length, 1, "one rotation, one record");
  assert.equal((about(rotated, "certificate.rotate")[0]!.before as { serialHex: string }).serialHex, old);
  assert.equal(about(old, "certificate.rotate").length, 0);
  assert.equal(trail.filter((record) => record.action === "ca.rotate").length, 1);
  // Every certificate issued and rotated in at most once, every one replaced at most once: 3 rotations (1 asked, 2 by the CA step).
  const edgeEvents = trail.filter((record) => record.actor === `edge:${EDGE}` && (record.action === "certificate.rotate" || record.action === "certificate.issue"));
  const keys = edgeEvents.map((record) => `${record.action} ${record.resource}`);
  assert.deepEqual(keys.filter((key, i) => keys.indexOf(key) !== i), [], "no event recorded twice");
  const replaced = edgeEvents.map((record) => (record.before as { serialHex?: string } | null)?.serialHex).filter((serial) => serial !== undefined);
  assert.equal(new Set(replaced).size, replaced.length, "no certificate replaced twice");
  assert.equal(edgeEvents.filter((record) => record.action === "certificate.rotate").length, 3);
  const verified = await local(["audit", "verify", "--store", dataDir]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});
