// `moat audit export|verify|list` as real processes, the export checked by a verifier written here from the documented encoding alone; certificate commands recording into a store.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestContext } from "node:test";
import { storeDocumentValidator, syncCertificateRecords } from "../../../src/control/index.ts";
import { createIssuedCertificateStore, initCertificateAuthority } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";

async function freshDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-audit-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * RFC 8785 as docs/explanation/audit-trail.md states it, written apart from src/: members sorted by UTF-16 code
 * units, no whitespace, strings and numbers as JSON.stringify writes them.
 */
function jcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${jcs(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** What an external system does with the export: each line's hash from the line without it, and each prevHash the hash before. */
function verifyExternally(lines: Record<string, unknown>[], previous = "0".repeat(64)): { ok: true } | { ok: false; seq: unknown; why: string } {
  for (const line of lines) {
    const { hash, ...rest } = line;
    if (Object.keys(rest).length !== 10) return { ok: false, seq: line.seq, why: "not ten fields" };
    if (createHash("sha256").update(jcs(rest), "utf8").digest("hex") !== hash) return { ok: false, seq: line.seq, why: "hash" };
    if (rest.prevHash !== previous) return { ok: false, seq: line.seq, why: "chain" };
    previous = hash as string;
  }
  return { ok: true };
}

const parseLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test("moat audit export writes JSON lines an external verifier checks from the documented encoding; verify and list agree; a tampered store fails both", async (t) => {
  const dir = await freshDir(t);
  const file = join(dir, "moat.db");
  const address = `sqlite:${file}`;
  const store = await openStore({ address, validate: storeDocumentValidator });
  await store.put("distribution", "shop", { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "cli:alice" });
  await store.put("setting", "log", { level: "warn" }, { actor: "cli:alice" });
  await store.close();
  const created = await runMoat(["token", "create", "--role", "viewer", "--name", "dashboards", "--store", address], { cwd: dir });
  assert.equal(created.code, 0, created.stderr);
  const secret = created.stdout.trim();
  const revoked = await runMoat(["token", "revoke", secret.slice(5, 21), "--store", address], { cwd: dir });
  assert.equal(revoked.code, 0, revoked.stderr);

  const exported = await runMoat(["audit", "export", "--store", address], { cwd: dir });
  assert.equal(exported.code, 0, exported.stderr);
  const lines = parseLines(exported.stdout);
  assert.deepEqual(lines.map((line) => [line.seq, line.action]), [[1, "config.put"], [2, "config.put"], [3, "token.create"], [4, "token.revoke"]]);
  assert.match(String(lines[2]?.actor), /^cli:/);
  assert.deepEqual(verifyExternally(lines), { ok: true });
  assert.ok(!exported.stdout.includes(secret.slice(22)) && !exported.stdout.includes(createHash("sha256").update(secret).digest("hex")), "a secret in the export");

  // --since SEQ: the records after it, which chain onto the last one the system holds.
  const since = await runMoat(["audit", "export", "--store", address, "--since", "2", "--format", "jsonl"], { cwd: dir });
  assert.equal(since.code, 0, since.stderr);
  const later = parseLines(since.stdout);
  assert.deepEqual(later.map((line) => line.seq), [3, 4]);
  assert.deepEqual(verifyExternally(later, lines[1]?.hash as string), { ok: true });
  assert.equal((await runMoat(["audit", "export", "--store", address, "--format", "csv"], { cwd: dir })).code, 2);

  const verified = await runMoat(["audit", "verify", "--store", address], { cwd: dir });
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, new RegExp(`the audit trail is intact: 4 records, head record 4 \\(hash ${lines[3]?.hash}\\); no signed checkpoint: records 1\\.\\.4 are only hash-chained`));
  assert.match(verified.stderr, /moat: warning: no signed checkpoint: records 1\.\.4 are only hash-chained/);

  const listed = await runMoat(["audit", "list", "--store", address, "--action", "config.put"], { cwd: dir });
  assert.equal(listed.code, 0, listed.stderr);
  const rows = listed.stdout.trim().split("\n");
  assert.match(rows[0] as string, /^SEQ\s+TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+REVISION$/);
  assert.deepEqual(rows.slice(1).map((row) => row.split(/\s+/).filter((_cell, index) => index !== 1)), [["1", "cli:alice", "config.put", "distribution/shop", "1"], ["2", "cli:alice", "config.put", "setting/log", "2"]]);
  const newest = await runMoat(["audit", "list", "--store", address, "--limit", "1"], { cwd: dir });
  assert.match(newest.stdout.trim().split("\n")[1] as string, /^4\s.*token\.revoke/);

  // An edit behind the store's back: verify names the record and exits 1; the external verifier finds the same one.
  const database = new DatabaseSync(file);
  database.exec(`update audit_log set after = '{"level":"debug"}' where seq = 2`);
  database.close();
  const broken = await runMoat(["audit", "verify", "--store", address], { cwd: dir });
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /the audit trail of sqlite:.* is not intact: record 2 was edited: its fields do not hash to its stored hash.*\(records verified before it: 1\)/);
  assert.deepEqual(verifyExternally(parseLines((await runMoat(["audit", "export", "--store", address], { cwd: dir })).stdout)), { ok: false, seq: 2, why: "hash" });
});

test("moat admin issue and moat ca revoke with --store record certificate.issue, certificate.revoke and crl.publish, with no key or PEM; a store that cannot be opened is refused before the revocation", async (t) => {
  const dir = await freshDir(t);
  const key = await createTestMasterKey();
  const dataDir = join(dir, "data");
  await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const address = `sqlite:${join(dir, "moat.db")}`;
  const issued = await runMoat(["admin", "issue", "--role", "admin", "--name", "alice", "--out", join(dir, "out"), "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env });
  assert.equal(issued.code, 0, issued.stderr);
  const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)?.[1] as string;

  // A store address that names nothing: refused (exit 2) before the revocation, which a second run then makes.
  const refused = await runMoat(["ca", "revoke", serial, "--reason", "superseded", "--data-dir", dataDir, "--store", join(dir, "missing")], { cwd: dir, env: key.env });
  assert.equal(refused.code, 2, refused.stderr);
  assert.doesNotMatch(refused.stdout, /Revoked/);
  const revoked = await runMoat(["ca", "revoke", serial, "--reason", "superseded", "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env });
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`Revoked certificate ${serial}`));
  // Revoking again changes nothing: no record.
  assert.equal((await runMoat(["ca", "revoke", serial, "--reason", "superseded", "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env })).code, 0);

  const exported = await runMoat(["audit", "export", "--store", address], { cwd: dir });
  const lines = parseLines(exported.stdout);
  assert.deepEqual(lines.map((line) => [line.action, line.resource]), [["certificate.issue", `certificate/${serial}`], ["certificate.revoke", `certificate/${serial}`], ["crl.publish", "crl/intermediate"]]);
  const after = lines[0]?.after as Record<string, unknown>;
  assert.deepEqual(after.sans, ["URI:spiffe://moat.internal/admin/admin/alice"]);
  assert.equal(after.use, "admin-admin");
  assert.deepEqual((lines[2]?.after as { revokedSerials: string[] }).revokedSerials, [serial]);
  assert.match(String(lines[0]?.actor), /^cli:/);
  assert.doesNotMatch(exported.stdout, /BEGIN|PRIVATE|keyPem|chainPem/);
  assert.deepEqual(verifyExternally(lines), { ok: true });
});

test("moat ca renew-intermediate with --store records ca.rotate (old and new intermediate serials) and crl.publish", async (t) => {
  const dir = await freshDir(t);
  const key = await createTestMasterKey();
  const dataDir = join(dir, "data");
  await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const address = `sqlite:${join(dir, "moat.db")}`;
  const renewed = await runMoat(["ca", "renew-intermediate", "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env });
  assert.equal(renewed.code, 0, renewed.stderr);
  const lines = parseLines((await runMoat(["audit", "export", "--store", address], { cwd: dir })).stdout);
  assert.deepEqual(lines.map((line) => [line.action, line.resource]), [["ca.rotate", "ca/renew-intermediate"], ["crl.publish", "crl/intermediate"]]);
  const before = lines[0]?.before as { serialHex: string };
  const after = lines[0]?.after as { serialHex: string; step: string };
  assert.match(before.serialHex, /^[0-9a-f]+$/);
  assert.match(after.serialHex, /^[0-9a-f]+$/);
  assert.notEqual(before.serialHex, after.serialHex);
  assert.deepEqual(verifyExternally(lines), { ok: true });
});

test("moat ca revoke --store marks the certificate revoked in the store's records at once; moat ca renew-intermediate --store syncs the CA's own", async (t) => {
  const dir = await freshDir(t);
  const key = await createTestMasterKey();
  const dataDir = join(dir, "data");
  const ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const leaf = await createIssuedCertificateStore({ ca, dataDir, masterKey: key.masterKey }).serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 3_600_000 });
  const address = `sqlite:${join(dir, "moat.db")}`;
  const store = await openStore({ address, validate: storeDocumentValidator });
  t.after(() => store.close());
  // As the edge on this data directory does at start.
  await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  const intermediate = (await store.certificates.list({ limit: 10, use: "intermediate-ca", now: new Date() })).items.map((item) => item.serialHex);

  const revoked = await runMoat(["ca", "revoke", leaf.serialHex, "--reason", "keyCompromise", "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env });
  assert.equal(revoked.code, 0, revoked.stderr);
  const row = await store.certificates.get(leaf.serialHex, new Date());
  assert.deepEqual([row?.state, row?.revocationReason, row?.edge], ["revoked", "keyCompromise", "edge-1"]);

  const renewed = await runMoat(["ca", "renew-intermediate", "--data-dir", dataDir, "--store", address], { cwd: dir, env: key.env });
  assert.equal(renewed.code, 0, renewed.stderr);
  const [step] = await store.audit.list({ limit: 1, action: "ca.rotate" });
  const fresh = (step?.after as { serialHex: string }).serialHex;
  const intermediates = (await store.certificates.list({ limit: 10, use: "intermediate-ca", now: new Date() })).items.map((item) => [item.serialHex, item.state, item.edge]);
  assert.deepEqual(intermediates.sort(), [[intermediate[0], "retired", null], [fresh, "active", null]].sort());
  // The CA's sync leaves the edge's own rows as they were.
  assert.equal((await store.certificates.get(leaf.serialHex, new Date()))?.edge, "edge-1");
});

test("moat audit checkpoint signs the head with the data directory's signer; moat audit verify --data-dir checks it, reports what it covers, and exits 1 once the checkpoints are removed", async (t) => {
  const dir = await freshDir(t);
  const dataDir = join(dir, "data");
  const key = await createTestMasterKey();
  await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const store = await openStore({ address: dataDir, validate: storeDocumentValidator });
  await store.put("distribution", "shop", { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "cli:alice" });
  await store.put("setting", "log", { level: "warn" }, { actor: "cli:alice" });
  await store.close();

  const signed = await runMoat(["audit", "checkpoint", "--store", dataDir], { cwd: dir, env: key.env });
  assert.equal(signed.code, 0, signed.stderr);
  assert.match(signed.stdout, /signed checkpoint 1: records 1\.\.2 \(hash [0-9a-f]{64}\)/);
  const again = await runMoat(["audit", "checkpoint", "--store", dataDir, "--json"], { cwd: dir, env: key.env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).made, false);

  // The store's own directory holds the CA: verify checks the signatures with no more flags.
  const verified = await runMoat(["audit", "verify", "--store", dataDir], { cwd: dir });
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /the audit trail is intact: 2 records, .*; records 1\.\.2 are covered by 1 signed checkpoint, the last signed by CN=moat audit signer cli \(serial [0-9a-f]+, sha256 .*\)\.$/m);
  assert.equal(verified.stderr, "");
  const json = await runMoat(["audit", "verify", "--store", `sqlite:${join(dataDir, "moat.db")}`, "--data-dir", dataDir, "--json"], { cwd: dir });
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.deepEqual([result.ok, result.checkpoints.count, result.checkpoints.coveredThrough, result.checkpoints.signatures], [true, 1, 2, "verified"]);
  // A bundle named by --ca-bundle instead; none at all: not checked, said on stderr.
  const unchecked = await runMoat(["audit", "verify", "--store", `sqlite:${join(dataDir, "moat.db")}`], { cwd: dir });
  assert.equal(unchecked.code, 0, unchecked.stderr);
  assert.match(unchecked.stderr, /signatures were not checked/);
  const bundled = await runMoat(["audit", "verify", "--store", `sqlite:${join(dataDir, "moat.db")}`, "--ca-bundle", join(dataDir, "ca", "bundle.pem")], { cwd: dir });
  assert.equal(bundled.code, 0, bundled.stderr);
  assert.equal(bundled.stderr, "");

  const database = new DatabaseSync(join(dataDir, "moat.db"));
  database.exec("delete from audit_checkpoints");
  database.close();
  const removed = await runMoat(["audit", "verify", "--store", dataDir, "--json"], { cwd: dir });
  assert.equal(removed.code, 1);
  assert.equal(JSON.parse(removed.stdout).problem.kind, "checkpoint-removed");
  assert.match(removed.stderr, /audit-chain-broken|not intact: the data directory signed checkpoint 1 \(record 2\), but the store holds no checkpoint/);
  const refused = await runMoat(["audit", "checkpoint", "--store", dataDir], { cwd: dir, env: key.env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /no checkpoint of the audit trail of .* was signed: the data directory signed checkpoint 1/);
});


test("moat ca revoke of the signer's serial, which moat audit verify names: the checkpoints before stand, and the next moat audit checkpoint is signed by a new signer", async (t) => {
  const dir = await freshDir(t);
  const dataDir = join(dir, "data");
  const key = await createTestMasterKey();
  await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const store = await openStore({ address: dataDir, validate: storeDocumentValidator });
  await store.put("distribution", "shop", { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "cli:alice" });
  await store.close();
  assert.equal((await runMoat(["audit", "checkpoint", "--store", dataDir], { cwd: dir, env: key.env })).code, 0);
  const verified = await runMoat(["audit", "verify", "--store", dataDir], { cwd: dir });
  assert.equal(verified.code, 0, verified.stderr);
  const serial = /covered by 1 signed checkpoint, the last signed by CN=moat audit signer cli \(serial ([0-9a-f]+), sha256 [0-9A-F:]+…\)\.$/m.exec(verified.stdout)?.[1];
  assert.ok(serial, verified.stdout);

  // Revocation times are whole seconds: a later second than the checkpoint, as an operator's would be.
  await sleep(1_010 - (Date.now() % 1_000));
  const revoked = await runMoat(["ca", "revoke", serial, "--reason", "keyCompromise", "--data-dir", dataDir, "--store", dataDir], { cwd: dir, env: key.env });
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.ok(revoked.stdout.includes(join(dataDir, "audit", "signer.pem")), `Moat's copy of the signer's certificate is named: ${revoked.stdout}`);
  assert.doesNotMatch(revoked.stderr, /no certificate with serial/);
  const still = await runMoat(["audit", "verify", "--store", dataDir], { cwd: dir });
  assert.equal(still.code, 0, still.stderr);
  assert.match(still.stdout, /covered by 1 signed checkpoint/);

  // `ca revoke --store` recorded the revocation in the trail: the next checkpoint covers it, under a new signer.
  const next = await runMoat(["audit", "checkpoint", "--store", dataDir], { cwd: dir, env: key.env });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /signed checkpoint 2/);
  const after = await runMoat(["audit", "verify", "--store", dataDir], { cwd: dir });
  assert.equal(after.code, 0, after.stderr);
  const nextSerial = /covered by 2 signed checkpoints, the last signed by CN=moat audit signer cli \(serial ([0-9a-f]+),/m.exec(after.stdout)?.[1];
  assert.ok(nextSerial, after.stdout);
  assert.notEqual(nextSerial, serial);
});
