// `moat admin issue` and `moat token create|list|revoke` as real processes, and what they make used against a real admin API.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import pino from "pino";
import { startAdminApi, storeDocumentValidator } from "../../../src/control/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import { callApi } from "../../control/admin-api-client.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";

async function freshDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-admin-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startApi(t: TestContext, address: string, ca: CertificateAuthority) {
  const store = await openStore({ address, validate: storeDocumentValidator });
  const api = await startAdminApi({ store, ca, listen: { host: "127.0.0.1", port: 0 }, logger: pino({ level: "silent" }) });
  t.after(async () => {
    await api.close();
    await store.close();
  });
  return api;
}

test("moat token create prints the token once, the store keeps its hash; list shows no secret; revoke stops it", async (t) => {
  const dir = await freshDir(t);
  const key = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
  const address = `sqlite:${join(dir, "moat.db")}`;
  const created = await runMoat(["token", "create", "--role", "viewer", "--name", "dashboards", "--expires-in", "7d", "--store", address], { cwd: dir });
  assert.equal(created.code, 0, created.stderr);
  const secret = created.stdout.trim();
  assert.match(secret, /^moat_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/);
  const id = secret.slice(5, 21);
  assert.match(created.stderr, new RegExp(`Created token ${id} \\(dashboards, role viewer\\)`));

  const database = new DatabaseSync(join(dir, "moat.db"), { readOnly: true });
  const row = database.prepare("select * from api_tokens where id = ?").get(id) as Record<string, unknown>;
  database.close();
  assert.equal(row.secret_sha256, createHash("sha256").update(secret).digest("hex"));
  assert.match(String(row.created_by), /^cli:/);

  const api = await startApi(t, address, ca);
  assert.equal((await callApi(api.url, ca.bundlePem, { token: secret }, "/distributions")).status, 200);
  assert.equal((await callApi(api.url, ca.bundlePem, { token: secret }, "/tokens")).status, 403);

  const table = await runMoat(["token", "list", "--store", address], { cwd: dir });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID +NAME +ROLE +CREATED +EXPIRES +LAST USED +REVOKED$/m);
  assert.match(table.stdout, new RegExp(`^${id}  dashboards  viewer `, "m"));
  const listed = await runMoat(["token", "list", "--store", address, "--json"], { cwd: dir });
  const tokens = JSON.parse(listed.stdout) as { id: string; lastUsedAt: string | null }[];
  assert.equal(tokens[0]?.id, id);
  assert.ok(tokens[0]?.lastUsedAt !== null);
  for (const output of [table.stdout, listed.stdout]) assert.ok(!output.includes(secret.slice(22)) && !output.includes(String(row.secret_sha256)));

  const revoked = await runMoat(["token", "revoke", id, "--store", address], { cwd: dir });
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await callApi(api.url, ca.bundlePem, { token: secret }, "/distributions")).status, 401);
  const missing = await runMoat(["token", "revoke", "0000000000000000", "--store", address], { cwd: dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no token 0000000000000000/);
  const badRole = await runMoat(["token", "create", "--role", "root", "--name", "x", "--store", address], { cwd: dir });
  assert.equal(badRole.code, 2);
  assert.match(badRole.stderr, /--role must be one of viewer, operator, admin \(got root\)/);
});

test("moat admin issue writes a certificate with its role, a 0600 key and the bundle; the API takes the role from it", async (t) => {
  const dir = await freshDir(t);
  const key = await createTestMasterKey();
  const dataDir = join(dir, "data");
  const ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const out = join(dir, "creds");
  const run = await runMoat(["admin", "issue", "--role", "operator", "--name", "alice", "--out", out, "--data-dir", dataDir], { cwd: dir, env: key.env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await stat(join(out, "admin-alice.key"))).mode & 0o777, 0o600);
  const chainPem = await readFile(join(out, "admin-alice.pem"), "utf8");
  const certificate = new X509Certificate(chainPem);
  assert.equal(certificate.subjectAltName, "URI:spiffe://moat.internal/admin/operator/alice");
  assert.deepEqual(certificate.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  assert.equal(await readFile(join(out, "ca-bundle.pem"), "utf8"), ca.bundlePem);

  const api = await startApi(t, `sqlite:${join(dir, "moat.db")}`, ca);
  const caller = { certificate: { chainPem, keyPem: await readFile(join(out, "admin-alice.key"), "utf8") } };
  const created = await callApi(api.url, ca.bundlePem, caller, "/distributions", { method: "POST", body: { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal" }] } });
  assert.equal(created.status, 201, created.text);
  assert.equal((await callApi(api.url, ca.bundlePem, caller, "/tokens")).status, 403);

  const badRole = await runMoat(["admin", "issue", "--role", "superuser", "--name", "x", "--out", out, "--data-dir", dataDir], { cwd: dir, env: key.env });
  assert.equal(badRole.code, 2);
  assert.match(badRole.stderr, /--role must be one of viewer, operator, admin/);
});
