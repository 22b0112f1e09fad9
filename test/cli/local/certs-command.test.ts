// `moat certs list` as a real process: a table by default, JSON with --json, imported certificates with --config; no master key needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIssuedCertificateStore, initCertificateAuthority, renewalTime } from "../../../src/pki/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";

test("moat certs list shows the CA, issued and imported certificates, without the master key", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-certs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const { masterKey } = await createTestMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const client = await createIssuedCertificateStore({ ca, dataDir, masterKey }).originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3_600_000 });
  const imported = await ca.issueServerCertificate({ dnsNames: ["shop.test"], validityMs: 5 * 86_400_000 });
  await writeFile(join(dir, "shop.pem"), imported.chainPem);
  await writeFile(join(dir, "shop.key"), imported.keyPem, { mode: 0o600 });
  await writeFile(
    join(dir, "moat.yaml"),
    `dataDir: ./data\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n    viewerCertificate: { cert: ./shop.pem, key: ./shop.key }\n    origins: [{ id: api, url: "https://localhost:9443" }]\n`,
  );

  const table = await runMoat(["certs", "list", "--data-dir", dataDir], { cwd: dir });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^USE\s+NAME\s+SOURCE\s+STATE\s+NOT AFTER\s+RENEWS\s+SERIAL/m);
  // RENEWS: when the edge renews it, at pki.renewAtFraction (the default 2/3 without --config).
  assert.match(table.stdout, new RegExp(`origin-client\\s+shop/api\\s+issued\\s+active\\s+\\S+\\s+${renewalTime(client, 2 / 3).toISOString()}\\s+${client.serialHex}`));

  const json = await runMoat(["certs", "list", "--config", join(dir, "moat.yaml"), "--json"], { cwd: dir });
  assert.equal(json.code, 0, json.stderr);
  const entries = JSON.parse(json.stdout) as Array<{ use: string; name: string; source: string; serialHex: string; renewsAt: string | null; expiryWarning: { thresholdDays: number } | null }>;
  assert.deepEqual(entries.map((e) => e.use).sort(), ["intermediate-ca", "origin-client", "root-ca", "viewer-server"]);
  const viewer = entries.find((e) => e.source === "imported");
  assert.equal(viewer?.serialHex, imported.serialHex);
  assert.equal(viewer?.expiryWarning?.thresholdDays, 7, "five days left: the 7-day warning");
  assert.equal(viewer?.renewsAt, null, "an imported certificate is renewed where it came from");
  assert.equal(entries.find((e) => e.serialHex === client.serialHex)?.renewsAt, renewalTime(client, 2 / 3).toISOString());

  const warned = await runMoat(["certs", "list", "--config", join(dir, "moat.yaml")], { cwd: dir });
  assert.match(warned.stdout, /warning: imported viewer-server certificate viewer-shop .* expires in 4 day/);
});
