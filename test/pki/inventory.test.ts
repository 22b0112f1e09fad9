// The inventory: every certificate Moat holds with its use, state and source, read without the master key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIssuedCertificateStore, generateMasterKey, initCertificateAuthority, listCertificates, revokeCertificate } from "../../src/pki/index.ts";

const hourMs = 3_600_000;
const identity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3 * hourMs };

test("lists the CA, issued leaves with active/next/retired states, revoked and imported certificates", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-inventory-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const clock = { now: new Date() };
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey, clock: () => clock.now });
  const viewer = await store.serverCertificate({ name: "viewer-shop", dnsNames: ["shop.test"], validityMs: 3 * hourMs });
  const first = await store.originClientCertificate(identity);
  clock.now = new Date(clock.now.getTime() + 2.1 * hourMs);
  const second = await store.originClientCertificate(identity); // renewed: first is retired
  const afterRenewal = await listCertificates({ dataDir, now: clock.now });
  assert.equal(afterRenewal.find((e) => e.serialHex === first.serialHex)?.state, "retired");
  assert.equal(afterRenewal.find((e) => e.serialHex === second.serialHex)?.state, "active");
  clock.now = new Date(clock.now.getTime() + 2.1 * hourMs);
  await store.originClientCertificate(identity, { prove: async () => false }); // a next waits
  await revokeCertificate({ dataDir, serialHex: viewer.serialHex, reason: "keyCompromise" });
  const imported = await ca.issueServerCertificate({ dnsNames: ["legacy.test"], validityMs: 10 * 24 * hourMs });
  const importedFile = join(dataDir, "imported.pem");
  await writeFile(importedFile, imported.chainPem);

  const entries = await listCertificates({ dataDir, now: clock.now, imported: [{ use: "viewer-server", name: "viewer-legacy", certFile: importedFile }] });
  const bySerial = new Map(entries.map((e) => [e.serialHex, e]));
  assert.deepEqual(entries.filter((e) => e.use === "root-ca" || e.use === "intermediate-ca").map((e) => e.state), ["active", "active"]);
  assert.equal(bySerial.get(viewer.serialHex)?.state, "revoked");
  assert.equal(bySerial.get(viewer.serialHex)?.revocationReason, "keyCompromise");
  assert.equal(bySerial.get(first.serialHex)?.state, "expired", "past its notAfter, whatever the slot says");
  assert.equal(bySerial.get(second.serialHex)?.state, "active", "the proven certificate stays active");
  const next = entries.find((e) => e.use === "origin-client" && e.state === "next");
  assert.ok(next, "the unproven renewal is listed as next");
  assert.equal(next.name, "shop/api");
  const legacy = bySerial.get(imported.serialHex);
  assert.equal(legacy?.source, "imported");
  assert.deepEqual(legacy?.expiryWarning, { thresholdDays: 30, daysLeft: 9 });
  for (const entry of entries) assert.doesNotMatch(entry.file, /key\.pem$/, "keys are never read or listed");
});
