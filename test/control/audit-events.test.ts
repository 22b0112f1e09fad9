// Certificate, CA and CRL events as audit records: the identifying facts of a real certificate, never its key or PEM, recorded in a real store.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { caRotationEvent, certificateEvent, storeDocumentValidator } from "../../src/control/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { openStore } from "../../src/store/index.ts";

test("a renewal's record holds both certificates' serial, fingerprint, names and validity, and no key or PEM; a CA step's holds its serials", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-audit-events-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openStore({ address: `sqlite:${join(dir, "moat.db")}`, validate: storeDocumentValidator });
  t.after(() => store.close());
  const ca = await createEphemeralCertificateAuthority();
  const request = { trustDomain: "moat.internal", distributionId: "shop", originId: "app", validityMs: 3_600_000 };
  const old = await ca.issueOriginClientCertificate(request);
  const renewed = await ca.issueOriginClientCertificate(request);
  const record = await store.audit.record(certificateEvent("edge:primary", "certificate.rotate", renewed, { distribution: "shop", use: "origin-client", replaced: old }));
  assert.equal(record.resource, `certificate/${renewed.serialHex}`);
  assert.equal(record.distribution, "shop");
  assert.deepEqual(record.before, { serialHex: old.serialHex, fingerprint256: old.fingerprint256, subject: old.subject, sans: [...old.sans], notBefore: old.notBefore.toISOString(), notAfter: old.notAfter.toISOString() });
  assert.equal((record.after as { serialHex: string }).serialHex, renewed.serialHex);
  const step = await store.audit.record(caRotationEvent("cli:alice", { step: "renew-intermediate", summary: "renewed the intermediate", from: "0a", to: "0b" }));
  assert.deepEqual([step.resource, step.before, (step.after as { serialHex: string }).serialHex], ["ca/renew-intermediate", { serialHex: "0a" }, "0b"]);
  const trail = JSON.stringify(await store.audit.list({ limit: 10 }));
  assert.doesNotMatch(trail, /BEGIN|PRIVATE|keyPem|chainPem|certPem/);
  assert.ok(!trail.includes(renewed.keyPem.split("\n")[1] as string));
  assert.equal((await store.audit.verify()).ok, true);
});
