// The certificate recorder on a real SQLite store and data directory: the edge's events derived from its inventory, expiry warnings once per threshold, a store outage logged once and caught up, every wait bounded.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import pino from "pino";
import { createCertificateRecorder, edgeCertificateEvents, storeDocumentValidator, syncCertificateRecords, toCertificateEntries } from "../../src/control/index.ts";
import { createIssuedCertificateStore, generateMasterKey, initCertificateAuthority, listCertificateRecords } from "../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey, PublishedCrl } from "../../src/pki/index.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store, StoredCertificate } from "../../src/store/index.ts";
import { withDeadline } from "../support/deadline.ts";

const HOUR_MS = 3_600_000;

async function setUp(t: TestContext): Promise<{ dataDir: string; store: Store; ca: CertificateAuthority; masterKey: MasterKey }> {
  const dir = await mkdtemp(join(tmpdir(), "moat-cert-records-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  const dataDir = join(dir, "data");
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const store = await openStore({ address: `sqlite:${join(dir, "moat.db")}`, validate: storeDocumentValidator });
  t.after(() => store.close());
  return { dataDir, store, ca, masterKey };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

/** The store with its certificate writes and audit records failing (or never answering) while `state.out` says so: an outage, on the real store. */
function outageOf(store: Store, state: { out: false | "refuse" | "hang" }): Store {
  const fail = <T>(real: () => Promise<T>): Promise<T> => {
    if (state.out === "refuse") return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    if (state.out === "hang") return new Promise<T>(() => {});
    return real();
  };
  return {
    ...store,
    certificates: { ...store.certificates, sync: (...args) => fail(() => store.certificates.sync(...args)) },
    audit: { ...store.audit, record: (event) => fail(() => store.audit.record(event)), list: (query) => fail(() => store.audit.list(query)) },
  };
}

test("a sync finds the edge's renewal: none at its first sync, certificate.rotate with both serials after a re-issue, and the table agrees", async (t) => {
  const { dataDir, store, ca, masterKey } = await setUp(t);
  const issued = createIssuedCertificateStore({ ca, dataDir, masterKey });
  const first = await issued.serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  const baseline = await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  assert.deepEqual(baseline.events, []);
  assert.deepEqual(baseline.changes.map((change) => change.after?.use).sort(), ["intermediate-ca", "root-ca", "viewer-server"]);

  const renewed = await createIssuedCertificateStore({ ca, dataDir, masterKey, rotateSerials: new Set([first.serialHex]) }).serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  assert.notEqual(renewed.serialHex, first.serialHex);
  const { events } = await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  assert.deepEqual(events.map((event) => [event.actor, event.action, event.resource, event.distribution]), [["edge:edge-1", "certificate.rotate", `certificate/${renewed.serialHex}`, "shop"]]);
  assert.equal((events[0]?.before as { serialHex: string }).serialHex, first.serialHex);
  assert.equal((events[0]?.after as { notAfter: string }).notAfter, renewed.notAfter.toISOString());
  const [record] = await store.audit.list({ limit: 10, action: "certificate.rotate" });
  assert.equal(record?.actor, "edge:edge-1");
  assert.doesNotMatch(JSON.stringify(record), /PRIVATE KEY|BEGIN CERTIFICATE/);
  assert.equal((await store.certificates.get(first.serialHex, new Date()))?.recordedState, "retired");
  assert.equal((await store.certificates.get(renewed.serialHex, new Date()))?.recordedState, "active");
  // Synced again (by the API beside the edge, say): the change is recorded once.
  assert.deepEqual((await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() })).events, []);
  assert.equal((await store.audit.list({ limit: 10, action: "certificate.rotate" })).length, 1);
});

test("an expiry warning is recorded once per certificate and threshold, also across a restart; a tighter threshold is another record", async (t) => {
  const { dataDir, store } = await setUp(t);
  const notAfter = new Date(Date.now() + 5 * 86_400_000);
  const warned = (thresholdDays: 30 | 7 | 1, daysLeft: number) => ({ serialHex: "0a1b", fingerprint256: "AB:CD", notAfter, use: "viewer-server", path: "distributions[0].viewerCertificate", warning: { thresholdDays, daysLeft }, isExpired: false });
  const first = createCertificateRecorder({ store, edge: "edge-1", dataDir, log: pino({ level: "silent" }) });
  t.after(() => first.stop());
  await first.expiryWarned(warned(7, 5));
  await first.expiryWarned(warned(7, 5));
  const restarted = createCertificateRecorder({ store, edge: "edge-1", dataDir, log: pino({ level: "silent" }) });
  t.after(() => restarted.stop());
  await restarted.expiryWarned(warned(7, 5));
  await restarted.expiryWarned(warned(1, 0));
  const records = await store.audit.list({ limit: 10, action: "certificate.expiry-warning" });
  assert.deepEqual(records.map((record) => [record.actor, record.resource, (record.after as { thresholdDays: number }).thresholdDays]), [["edge:edge-1", "certificate/0a1b", 7], ["edge:edge-1", "certificate/0a1b", 1]]);
  assert.equal((await store.audit.verify()).ok, true);
});

test("a store outage: told once, the edge's calls return false within the deadline, and what was owed is written when the store answers again", async (t) => {
  const { dataDir, store, ca, masterKey } = await setUp(t);
  await createIssuedCertificateStore({ ca, dataDir, masterKey }).serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  const state: { out: false | "refuse" | "hang" } = { out: "refuse" };
  const { lines, log } = capture();
  const recorder = createCertificateRecorder({ store: outageOf(store, state), edge: "edge-1", dataDir, log, deadlineMs: 300 });
  t.after(() => recorder.stop());
  assert.equal(await recorder.sync(), false);
  const crl = { crlNumber: 7, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + HOUR_MS), revokedSerials: ["0bad"] } as unknown as PublishedCrl;
  await recorder.crlPublished(crl);
  state.out = "hang";
  // A store that never answers: the call gives up at its deadline, and the edge goes on.
  assert.equal(await withDeadline("a sync against a store that hangs", recorder.sync(), 5_000), false);
  const failures = lines.filter((line) => String(line.msg).startsWith("certificate records: writing to the store failed"));
  assert.equal(failures.length, 1, "the outage is told once");
  assert.match(JSON.stringify(failures[0]), /ECONNREFUSED/);
  assert.equal((await store.certificates.list({ limit: 10, now: new Date() })).items.length, 0);

  state.out = false;
  assert.equal(await recorder.sync(), true);
  assert.equal(lines.filter((line) => line.msg === "certificate records: the store answers again; records are up to date").length, 1);
  const crls = await store.audit.list({ limit: 10, action: "crl.publish" });
  assert.deepEqual(crls.map((record) => [record.actor, (record.after as { crlNumber: number }).crlNumber]), [["edge:edge-1", 7]]);
  assert.deepEqual((await store.certificates.list({ limit: 10, now: new Date() })).items.map((item) => item.use).sort(), ["intermediate-ca", "root-ca", "viewer-server"]);
});

test("the rules of the edge's events: a renewal kept as next is certificate.issue; next becoming active is certificate.rotate with the one it replaced; revocations, imports and the CA's own are not the edge's to record", () => {
  const at = new Date("2026-06-01T00:00:00.000Z");
  const stored = (serialHex: string, overrides: Partial<StoredCertificate> = {}): StoredCertificate => ({
    fingerprint256: `FP:${serialHex}`,
    serialHex,
    use: "origin-client",
    name: "shop/api",
    source: "issued",
    recordedState: "active",
    state: "active",
    subject: "CN=moat edge shop/api",
    issuer: "CN=Moat Intermediate CA",
    sans: ["URI:spiffe://moat.internal/distribution/shop/origin/api"],
    certificatePem: "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----",
    notBefore: at,
    notAfter: new Date(at.getTime() + HOUR_MS),
    edge: "edge-1",
    updatedAt: at.toISOString(),
    ...overrides,
  });
  const later = { isFirstSync: false };
  const summary = (events: ReturnType<typeof edgeCertificateEvents>) => events.map((event) => [event.action, event.resource, (event.before as { serialHex?: string } | null)?.serialHex ?? null, event.distribution]);

  // Renewed, waiting for its origin to accept it.
  assert.deepEqual(summary(edgeCertificateEvents("edge-1", [{ after: stored("0b", { recordedState: "next", state: "next" }) }], later)), [["certificate.issue", "certificate/0b", null, "shop"]]);
  // Accepted: next → active, the old one retired.
  assert.deepEqual(
    summary(edgeCertificateEvents("edge-1", [{ before: stored("0a"), after: stored("0a", { recordedState: "retired", state: "retired" }) }, { before: stored("0b", { recordedState: "next", state: "next" }), after: stored("0b") }], later)),
    [["certificate.rotate", "certificate/0b", "0a", "shop"]],
  );
  // Not the edge's: a revocation (its revoker records it), an import, the CA's own, a retired generation pruned.
  assert.deepEqual(
    summary(
      edgeCertificateEvents(
        "edge-1",
        [
          { before: stored("0c"), after: stored("0c", { recordedState: "revoked", state: "revoked" }) },
          { after: stored("0d", { source: "imported", name: "partner" }) },
          { after: stored("0e", { use: "intermediate-ca", name: "intermediate", edge: null }) },
          { before: stored("0f", { recordedState: "retired", state: "retired" }) },
        ],
        later,
      ),
    ),
    [],
  );
  // An edge's first sync is a baseline.
  assert.deepEqual(edgeCertificateEvents("edge-1", [{ after: stored("10") }], { isFirstSync: true }), []);
});

test("a rebuild that changed no certificate costs the store nothing: the recorder syncs again only when the inventory changed", async (t) => {
  const { dataDir, store, ca, masterKey } = await setUp(t);
  let syncs = 0;
  const counted: Store = { ...store, certificates: { ...store.certificates, sync: (...args) => (syncs++, store.certificates.sync(...args)) } };
  const recorder = createCertificateRecorder({ store: counted, edge: "edge-1", dataDir, log: capture().log });
  t.after(() => recorder.stop());
  const first = await createIssuedCertificateStore({ ca, dataDir, masterKey }).serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  assert.equal(await withDeadline("the first sync", recorder.sync(), 10_000), true);
  assert.equal(await withDeadline("a sync with nothing changed", recorder.sync(), 10_000), true);
  assert.equal(syncs, 1, "the unchanged inventory was not synced again");
  const renewed = await createIssuedCertificateStore({ ca, dataDir, masterKey, rotateSerials: new Set([first.serialHex]) }).serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  assert.equal(await withDeadline("the sync after a renewal", recorder.sync(), 10_000), true);
  assert.equal(syncs, 2);
  assert.equal((await store.certificates.get(renewed.serialHex, new Date()))?.recordedState, "active");
});

test("a sync that read the data directory before a rotation and commits after another that read it after records nothing: one certificate.rotate for the new serial, none back to the old one; verify passes", async (t) => {
  const { dataDir, store, ca, masterKey } = await setUp(t);
  const request = { name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS };
  const first = await createIssuedCertificateStore({ ca, dataDir, masterKey }).serverCertificate(request);
  await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  // Two syncs of the same data directory (two processes): the one that read first commits last.
  const readBefore = toCertificateEntries(await listCertificateRecords({ dataDir, now: new Date() }));
  const renewed = await createIssuedCertificateStore({ ca, dataDir, masterKey, rotateSerials: new Set([first.serialHex]) }).serverCertificate(request);
  const fresh = await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  const stale = await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date(), entries: readBefore });
  const next = await syncCertificateRecords({ store, edge: "edge-1", dataDir, now: new Date() });
  assert.deepEqual(fresh.events.map((event) => [event.action, event.resource]), [["certificate.rotate", `certificate/${renewed.serialHex}`]]);
  assert.deepEqual(stale.events, [], "the old certificate was replaced: it is not rotated in again");
  assert.deepEqual(next.events, [], "the rotation is recorded already");
  const records = await store.audit.list({ limit: 100 });
  assert.deepEqual(records.map((record) => [record.action, record.resource, (record.before as { serialHex?: string } | null)?.serialHex]), [["certificate.rotate", `certificate/${renewed.serialHex}`, first.serialHex]]);
  assert.equal((await store.certificates.get(renewed.serialHex, new Date()))?.recordedState, "active", "the next sync puts the table right");
  assert.equal((await store.audit.verify()).ok, true);
});

test("several recorders of one edge (processes, a restart) syncing at once while it renews: each certificate is issued or rotated in at most once in the trail, every renewal is there, verify passes", async (t) => {
  const { dataDir, store, ca, masterKey } = await setUp(t);
  const request = { name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS };
  let current = await createIssuedCertificateStore({ ca, dataDir, masterKey }).serverCertificate(request);
  const recorders = [1, 2, 3].map(() => createCertificateRecorder({ store, edge: "edge-1", dataDir, log: pino({ level: "silent" }) }));
  t.after(() => recorders.forEach((recorder) => recorder.stop()));
  await recorders[0]!.sync();
  const renewed: string[] = [];
  for (let i = 0; i < 6; i++) {
    const rotation = createIssuedCertificateStore({ ca, dataDir, masterKey, rotateSerials: new Set([current.serialHex]) }).serverCertificate(request);
    const syncs = recorders.map((recorder) => recorder.sync());
    current = await rotation;
    renewed.push(current.serialHex);
    await Promise.all([...syncs, ...recorders.map((recorder) => recorder.sync())]);
  }
  // A restarted edge syncs what it finds: nothing new.
  const restarted = createCertificateRecorder({ store, edge: "edge-1", dataDir, log: pino({ level: "silent" }) });
  t.after(() => restarted.stop());
  assert.equal(await restarted.sync(), true);
  const records = (await store.audit.list({ limit: 1000 })).filter((record) => record.action === "certificate.rotate" || record.action === "certificate.issue");
  const counts = new Map<string, number>();
  for (const record of records) counts.set(`${record.action} ${record.resource}`, (counts.get(`${record.action} ${record.resource}`) ?? 0) + 1);
  assert.deepEqual([...counts].filter(([, count]) => count > 1), [], "no event recorded twice");
  for (const serial of renewed) assert.ok(records.some((record) => record.resource === `certificate/${serial}`), `renewal ${serial} is in the trail`);
  const replaced = records.map((record) => (record.before as { serialHex?: string } | null)?.serialHex).filter((serial) => serial !== undefined);
  assert.equal(new Set(replaced).size, replaced.length, "no certificate replaced twice");
  assert.equal((await store.audit.verify()).ok, true);
});
