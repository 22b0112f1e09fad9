// `moat config check` runs the imported-certificate checks the edge runs at start, and names each refusal's path and check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { runMoat } from "./moat-process.ts";

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
