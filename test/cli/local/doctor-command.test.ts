// `moat doctor origin|viewer` as a user runs it: the human list, --json for scripts, and the exit code (0 all passed, 1 a check failed).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, initCertificateAuthority } from "../../../src/pki/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { createViewerCa } from "../../support/viewer-pki.ts";
import { runMoat } from "../moat-process.ts";

const hourMs = 3_600_000;

describe("moat doctor (CLI)", { timeout: 120_000 }, () => {
  let dir: string;
  let plain: TestOrigin;
  let expired: TestOrigin;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-doctor-cli-"));
    const ca = await createEphemeralCertificateAuthority();
    await writeFile(join(dir, "origin-ca.pem"), ca.bundlePem);
    // No client certificate is presented for a bare URL: an origin that does not ask for one is healthy for it.
    plain = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }) });
    const past = new Date(Date.now() - 2 * hourMs);
    expired = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs, notBefore: past, notAfter: new Date(past.getTime() + hourMs) }) });
    const partners = await createViewerCa("Partner CA");
    await writeFile(join(dir, "partners.pem"), partners.certPem);
    await writeFile(join(dir, "alice.pem"), (await partners.issue("valid", "alice")).chainPem);
    await writeFile(join(dir, "old.pem"), (await partners.issue("expired", "old")).chainPem);
  });

  after(async () => {
    await plain.close();
    await expired.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("origin by URL, healthy: ✓ for every check and exit 0", async () => {
    const run = await runMoat(["doctor", "origin", plain.url, "--ca", join(dir, "origin-ca.pem"), "--timeout", "3s"], { cwd: dir });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /✓ origin-certificate/);
    assert.match(run.stdout, /the edge presents no client certificate/);
    assert.match(run.stdout, /all checks passed/);
    assert.doesNotMatch(run.stdout, /✗/);
  });

  test("origin by URL, expired certificate: --json names origin-cert-expired, exit 1", async () => {
    const run = await runMoat(["doctor", "origin", expired.url, "--ca", join(dir, "origin-ca.pem"), "--json"], { cwd: dir });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: Array<{ id: string; status: string; code?: string; fix?: string }> };
    assert.equal(report.ok, false);
    const failed = report.checks.find((c) => c.id === "origin-certificate");
    assert.equal(failed?.status, "fail");
    assert.equal(failed?.code, "origin-cert-expired");
    assert.match(failed?.fix ?? "", /renew the origin's server certificate/);
  });

  test("human output of a failure shows code, cause and fix", async () => {
    const run = await runMoat(["doctor", "origin", expired.url, "--ca", join(dir, "origin-ca.pem")], { cwd: dir });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /✗ origin-certificate: .*\n(.*\n)*    code:  origin-cert-expired\n    cause: .*expired at .*\n    fix: {3}renew/);
  });

  test("an unknown origin id without a config is a usage error (exit 2)", async () => {
    const run = await runMoat(["doctor", "origin", "api"], { cwd: dir });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--config FILE or --store ADDRESS/);
  });

  test("viewer: a good certificate exits 0, an expired one 1 with client-cert-expired", async () => {
    const good = await runMoat(["doctor", "viewer", "--cert", join(dir, "alice.pem"), "--ca", join(dir, "partners.pem")], { cwd: dir });
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /✓ edge-verdict: the edge accepts this certificate/);
    const bad = await runMoat(["doctor", "viewer", "--cert", join(dir, "old.pem"), "--ca", join(dir, "partners.pem"), "--json"], { cwd: dir });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const report = JSON.parse(bad.stdout) as { checks: Array<{ id: string; code?: string }> };
    assert.equal(report.checks.find((c) => c.id === "edge-verdict")?.code, "client-cert-expired");
  });

  test("--help has an example", async () => {
    const run = await runMoat(["doctor", "origin", "--help"], { cwd: dir });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Examples:\n {2}moat doctor origin api --config/);
  });
});

// By id, from a config: the data directory's client certificate, as the edge would present it (and nothing issued by the doctor).
test("moat doctor origin ID --config presents the stored client certificate the edge uses", { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-doctor-config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const key = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }), clientCaPem: ca.bundlePem });
  t.after(() => origin.close());
  await writeFile(
    join(dir, "moat.yaml"),
    `dataDir: ./data\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n    origins: [{ id: api, url: "${origin.url}" }, { id: other, url: "${origin.url}" }]\n    behaviors: [{ path: "*", target: api }]\n`,
  );
  // Nothing stored yet for shop/api: the doctor says so, and never issues one itself.
  const before = await runMoat(["doctor", "origin", "api", "--config", join(dir, "moat.yaml"), "--json"], { cwd: dir, env: key.env });
  assert.equal(before.code, 1, before.stdout + before.stderr);
  assert.ok(before.stdout, before.stderr);
  const missing = (JSON.parse(before.stdout) as { checks: Array<{ id: string; code?: string }> }).checks;
  assert.equal(missing.find((c) => c.id === "client-certificate")?.code, "origin-client-cert-unavailable");
  assert.equal(missing.find((c) => c.id === "client-certificate-accepted")?.code, "origin-rejected-client-cert");

  const client = await createIssuedCertificateStore({ ca, dataDir, masterKey: key.masterKey }).originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: hourMs });
  const run = await runMoat(["doctor", "origin", "shop/api", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`presents spiffe://moat\\.internal/distribution/shop/origin/api \\(serial ${client.serialHex}\\)`));
  assert.equal(origin.seen.at(-1)?.clientSerial, client.serialHex);
});

// With a config: the trust store of the distribution's viewer mTLS, its CRL included, as the edge loads it.
test("moat doctor viewer --distribution uses that distribution's trust store and CRL", { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-doctor-viewer-config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const partners = await createViewerCa("Partner CA");
  const revoked = await partners.issue("valid", "mallory");
  await writeFile(join(dir, "partners.pem"), partners.certPem);
  await writeFile(join(dir, "partners.crl"), await partners.crl([revoked.serialHex]));
  await writeFile(join(dir, "mallory.pem"), revoked.chainPem);
  await writeFile(join(dir, "bob.pem"), (await partners.issue("valid", "bob")).chainPem);
  await writeFile(
    join(dir, "moat.yaml"),
    `dataDir: ./data\ntrustStores:\n  partners:\n    caBundle: ./partners.pem\n    crl: ./partners.crl\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n    viewerMtls: { mode: required, trustStore: partners }\n    origins: [{ id: api, url: "https://localhost:9443" }]\n`,
  );
  const refused = await runMoat(["doctor", "viewer", "--cert", join(dir, "mallory.pem"), "--config", join(dir, "moat.yaml"), "--distribution", "shop"], { cwd: dir });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /✗ revocation: the certificate is revoked\n {4}code: {2}client-cert-revoked/);
  assert.match(refused.stdout, /✗ edge-verdict: the edge refuses it: the client certificate has been revoked/);
  const accepted = await runMoat(["doctor", "viewer", "--cert", join(dir, "bob.pem"), "--config", join(dir, "moat.yaml"), "--distribution", "shop"], { cwd: dir });
  assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
  const unknown = await runMoat(["doctor", "viewer", "--cert", join(dir, "bob.pem"), "--config", join(dir, "moat.yaml"), "--distribution", "nope"], { cwd: dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no distribution "nope" in the config\. Fix: name one of the config.s distributions \(shop\)/);
});
