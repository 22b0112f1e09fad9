// `moat config check` loads every trust store as the edge would, and names the store, the file and the entry it would refuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createViewerCa } from "../../support/viewer-pki.ts";
import { runMoat } from "../moat-process.ts";

test("moat config check refuses a trust store the edge would refuse, and passes a good one", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-check-stores-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const partners = await createViewerCa("Partner CA");
  const leaf = await partners.issue("valid", "alice");
  await writeFile(join(dir, "good.pem"), partners.certPem);
  await writeFile(join(dir, "bad.pem"), partners.certPem + leaf.certPem);
  const config = (bundle: string) =>
    `dataDir: ./data\ntrustStores:\n  partners: { caBundle: ./${bundle} }\ndistributions:\n  - id: shop\n    aliases: [shop.test]\n` +
    `    viewerMtls: { mode: required, trustStore: partners }\n    origins:\n      - id: api\n        url: https://localhost:9443\n`;

  await writeFile(join(dir, "bad.yaml"), config("bad.pem"));
  const bad = await runMoat(["config", "check", join(dir, "bad.yaml")], { cwd: dir });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /1 trust store\(s\) would be refused/);
  assert.match(bad.stderr, /trustStores\.partners\.caBundle: .*bad\.pem: PEM block 2 \(.*CN=alice\) is not a CA certificate/);

  await writeFile(join(dir, "good.yaml"), config("good.pem"));
  const ok = await runMoat(["config", "check", join(dir, "good.yaml")], { cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
});
