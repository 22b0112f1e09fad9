// The enrolment commands end to end as processes: `moat enrol token` and `moat enrol serve` on the CA host, `moat enrol request` and `moat enrol renew` on the origin host.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat, startMoat } from "../moat-process.ts";

test("moat enrol token → serve → request → renew: the origin host ends up with a renewed certificate for the token's names", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "moat-enrol-cli-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "ca-host");
  const key = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  await writeFile(join(root, "moat-ca.pem"), ca.bundlePem);

  const created = await runMoat(["enrol", "token", "--dns", "localhost", "--ip", "127.0.0.1", "--ttl", "10m", "--data-dir", dataDir], { cwd: root });
  assert.equal(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^moat-enrol\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
  assert.match(created.stderr, /shown once and stored hashed/);

  const serve = startMoat(["enrol", "serve", "--dns", "localhost", "--listen", "127.0.0.1:0", "--data-dir", dataDir], { cwd: root, env: key.env });
  t.after(() => serve.kill());
  const listening = await withTimeout("the endpoint", serve.waitForLine("the endpoint to listen", (l) => l.msg === "enrolment endpoint listening"), 30_000);
  const url = `https://localhost:${listening.port}`;

  const dir = join(root, "origin-host");
  const request = await runMoat(["enrol", "request", "--url", url, "--token", token, "--ca-bundle", join(root, "moat-ca.pem"), "--dir", dir], { cwd: root });
  assert.equal(request.code, 0, request.stderr);
  assert.match(request.stdout, /^Enrolled: /);
  const first = new X509Certificate(await readFile(join(dir, "server.crt"), "utf8"));
  assert.equal(first.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");

  const again = await runMoat(["enrol", "request", "--url", url, "--token", token, "--ca-bundle", join(root, "moat-ca.pem"), "--dir", join(root, "other")], { cwd: root });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already used/);

  const renew = await runMoat(["enrol", "renew", "--dir", dir, "--force"], { cwd: root });
  assert.equal(renew.code, 0, renew.stderr);
  const renewed = new X509Certificate(await readFile(join(dir, "server.crt"), "utf8"));
  assert.notEqual(renewed.serialNumber, first.serialNumber);
  assert.equal(renewed.subjectAltName, first.subjectAltName);

  const notDue = await runMoat(["enrol", "renew", "--dir", dir], { cwd: root });
  assert.equal(notDue.code, 0, notDue.stderr);
  assert.equal(new X509Certificate(await readFile(join(dir, "server.crt"), "utf8")).serialNumber, renewed.serialNumber, "nothing due, nothing renewed");

  serve.child.kill("SIGTERM");
  assert.equal((await serve.exited).code, 0, serve.stderr());
});
