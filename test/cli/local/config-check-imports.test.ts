// `moat config check` runs the imported-certificate checks the edge runs at start (files, and { imported: NAME } from the data directory), and names each refusal's path and check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEphemeralCertificateAuthority, storeImportedCertificate } from "../../../src/pki/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";

test("moat config check refuses imported certificates the edge would refuse, and passes good ones", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-check-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await createEphemeralCertificateAuthority();
  const hourMs = 3_600_000;
  const good = await ca.issueServerCertificate({ dnsNames: ["shop.test"], validityMs: hourMs });
  const wrongName = await ca.issueServerCertificate({ dnsNames: ["other.test"], validityMs: hourMs });
  const past = new Date(Date.now() - 3 * hourMs);
  const expiredClient = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: hourMs, notBefore: past, notAfter: new Date(past.getTime() + hourMs) });
  const files: Record<string, string> = {
    "good.pem": good.chainPem, "good.key": good.keyPem,
    "wrong.pem": wrongName.chainPem, "wrong.key": wrongName.keyPem,
    "expired.pem": expiredClient.chainPem, "expired.key": expiredClient.keyPem,
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
  const config = (viewer: string, client: string) =>
    `dataDir: ./data\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n    viewerCertificate: { cert: ./${viewer}.pem, key: ./${viewer}.key }\n` +
    `    origins:\n      - id: api\n        url: https://localhost:9443\n        mtls: { clientCertificate: ${client} }\n`;

  await writeFile(join(dir, "bad.yaml"), config("wrong", "{ cert: ./expired.pem, key: ./expired.key }"));
  const bad = await runMoat(["config", "check", join(dir, "bad.yaml")], { cwd: dir });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /2 imported certificate\(s\) would be refused/);
  assert.match(bad.stderr, /distributions\[0\]\.viewerCertificate: import-names-not-covered/);
  assert.match(bad.stderr, /distributions\[0\]\.origins\[0\]\.mtls\.clientCertificate: import-expired/);
  assert.doesNotMatch(bad.stderr, /PRIVATE KEY/);

  await writeFile(join(dir, "good.yaml"), config("good", "{ issuedBy: moat }"));
  const ok = await runMoat(["config", "check", join(dir, "good.yaml")], { cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
});

test("moat config check resolves { imported: NAME } in the config's data directory: checked in full with the master key, found without it; a name never imported is refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-check-stored-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  const partner = await createEphemeralCertificateAuthority({ name: "Partner" });
  const dataDir = join(dir, "data");
  const now = new Date();
  for (const [name, dnsNames] of [["shop-ev", ["shop.test"]], ["other-ev", ["other.test"]]] as const) {
    const leaf = await partner.issueServerCertificate({ dnsNames: [...dnsNames], validityMs: 3_600_000 });
    await storeImportedCertificate({ dataDir, masterKey: key.masterKey, name, use: "viewer-server", chainPem: leaf.chainPem + partner.rootPem, keyPem: leaf.keyPem, now });
  }
  const config = (viewer: string, client: string) =>
    `dataDir: ./data\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n    viewerCertificate: { imported: ${viewer} }\n` +
    `    origins:\n      - id: api\n        url: https://localhost:9443\n        mtls: { clientCertificate: ${client} }\n`;
  const check = async (name: string, text: string, env: NodeJS.ProcessEnv) => {
    await writeFile(join(dir, name), text);
    return runMoat(["config", "check", join(dir, name)], { cwd: dir, env });
  };

  const good = await check("good.yaml", config("shop-ev", "{ issuedBy: moat }"), key.env);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout, `${join(dir, "good.yaml")}: valid (1 distribution(s), 1 origin(s); data dir ${dataDir})\n`);

  const bad = await check("bad.yaml", config("other-ev", "{ imported: never-imported }"), key.env);
  assert.equal(bad.code, 1, bad.stdout);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /: 2 imported certificate\(s\) would be refused:\n/);
  assert.match(bad.stderr, /\n  distributions\[0\]\.viewerCertificate: import-names-not-covered: /);
  assert.ok(bad.stderr.includes(`distributions[0].origins[0].mtls.clientCertificate.imported: ${join(dataDir, "certs", "imported", "origin-client", "never-imported", "active")}: no origin-client certificate was imported as "never-imported"`), bad.stderr);
  assert.doesNotMatch(bad.stderr, /PRIVATE KEY/);

  // Without the master key: found, and said to be unchecked; a name never imported is refused all the same.
  const unopened = await check("bad.yaml", config("other-ev", "{ issuedBy: moat }"), {});
  assert.equal(unopened.code, 0, unopened.stderr);
  assert.match(unopened.stdout, /: valid \(1 distribution\(s\), 1 origin\(s\); data dir .*\)\nNot checked in full: distributions\[0\]\.viewerCertificate \(imported through the admin API: found in .*; give --master-key-file, MOAT_MASTER_KEY_FILE or MOAT_MASTER_KEY to check it as the edge will\)\.\n$/);
  const missing = await check("missing.yaml", config("never-imported", "{ issuedBy: moat }"), {});
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /distributions\[0\]\.viewerCertificate\.imported: .*: no viewer-server certificate was imported as "never-imported"/);

  // A wrong master key does not open the sealed key: refused, naming it.
  const other = await createTestMasterKey();
  const wrongKey = await check("good.yaml", config("shop-ev", "{ issuedBy: moat }"), other.env);
  assert.equal(wrongKey.code, 1, wrongKey.stdout);
  assert.match(wrongKey.stderr, /: 1 imported certificate\(s\) would be refused:\n  cannot decrypt \S+\/shop-ev\/[0-9a-f]+\/key\.pem with the master key from MOAT_MASTER_KEY /);
});
