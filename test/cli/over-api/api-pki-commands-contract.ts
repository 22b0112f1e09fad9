// The same tests on SQLite and PostgreSQL: `moat certs|ca|apply|diff|export|audit` over a real admin API (TLS 1.3 on loopback, a data directory with Moat's CA), as real processes: exact output, refusals on one line.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, openCertificateAuthority, renewalTime } from "../../../src/pki/index.ts";
import { HARNESS_EDGE, useAdminApi } from "../../control/admin-api-harness.ts";
import { syncCertificateRecords } from "../../../src/control/index.ts";
import type { EngineUnderTest, Harness } from "../../control/admin-api-harness.ts";
import { withDeadline } from "../../support/deadline.ts";
import { runMoat } from "../moat-process.ts";
import type { MoatRun } from "../moat-process.ts";

type Suite = ReturnType<typeof useAdminApi>;
const HOUR_MS = 3_600_000;
const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "" };
type Role = "viewer" | "operator" | "admin";

interface Workspace {
  api: Harness;
  dir: string;
  env(role: Role): NodeJS.ProcessEnv;
  moat(args: string[], role: Role, extra?: NodeJS.ProcessEnv): Promise<MoatRun>;
}

async function workspace(suite: Suite, t: TestContext): Promise<Workspace> {
  const api = await suite.setUp(t);
  const dir = await mkdtemp(join(tmpdir(), "moat-api-pki-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, "moat-ca.pem");
  await writeFile(caFile, suite.ca().bundlePem);
  const env = (role: Role) => {
    const tokenFile = join(dir, `${role}.token`);
    return { ...CLEAN_ENV, MOAT_CONTEXTS: join(dir, "contexts.yaml"), MOAT_API: api.url, MOAT_API_CA: caFile, MOAT_TOKEN_FILE: tokenFile };
  };
  for (const role of ["viewer", "operator", "admin"] as const) await writeFile(join(dir, `${role}.token`), `${api.tokens[role]}\n`, { mode: 0o600 });
  const moat = (args: string[], role: Role, extra: NodeJS.ProcessEnv = {}) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...env(role), ...extra } }), 30_000);
  return { api, dir, env, moat };
}

/** The leaves a running edge would hold for distribution shop: its viewer certificate and origin app's client certificate. */
async function issueShopLeaves(api: Harness) {
  const ca = await openCertificateAuthority({ dataDir: api.dataDir, masterKey: api.masterKey });
  const store = createIssuedCertificateStore({ ca, dataDir: api.dataDir, masterKey: api.masterKey });
  const viewer = await store.serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  const client = await store.originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "app", validityMs: 24 * HOUR_MS });
  // As the edge does after every build: the store's records follow the data directory.
  await syncCertificateRecords({ store: api.store, edge: HARNESS_EDGE, dataDir: api.dataDir, now: new Date() });
  return { viewer, client };
}

function assertOk(run: MoatRun): void {
  assert.equal(run.code, 0, `exit ${run.code}\nstderr: ${run.stderr}\nstdout: ${run.stdout}`);
}

/** A refusal: exit 1, nothing on stdout, one line on stderr matching `pattern`. */
function assertRefused(run: MoatRun, pattern: RegExp): void {
  assert.equal(run.code, 1, `exit ${run.code}\nstderr: ${run.stderr}`);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr.split("\n").length, 2, `one line: ${run.stderr}`);
  assert.match(run.stderr, pattern);
}

/** Columns two spaces apart, each as wide as its widest cell; the last not padded. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ").trimEnd()).join("\n") + "\n";
}

interface Item {
  serialHex: string;
  renewsAt: string | null;
  use: string;
  name: string;
  source: string;
  state: string;
  notAfter: string;
  sans: string[];
  subject: string;
  issuer: string;
  notBefore: string;
}

/** Registers the suite's tests on an engine; it must have rawExecute (the audit test tampers with the trail behind the store's back). */
export function apiPkiCommandsContract(engine: EngineUnderTest): void {
  const suite = useAdminApi(engine);

  test("certs list and certs show over the API: exact table and --json for a known state; certs list --data-dir still reads the data directory", async (t) => {
    const w = await workspace(suite, t);
    const { viewer, client } = await issueShopLeaves(w.api);
    const items = (await w.api.call({ token: w.api.tokens.viewer }, "/certificates")).json.items as Item[];
    assert.deepEqual(items.map((item) => item.use).sort(), ["intermediate-ca", "origin-client", "root-ca", "viewer-server"]);

    const list = await w.moat(["certs", "list"], "viewer");
    assertOk(list);
    assert.equal(list.stderr, "");
    assert.equal(
      list.stdout,
      table([["USE", "NAME", "SOURCE", "STATE", "NOT AFTER", "RENEWS", "SERIAL", "NAMES"], ...items.map((item) => [item.use, item.name, item.source, item.state, item.notAfter, item.renewsAt ?? "-", item.serialHex, item.sans.join(",") || item.subject])]),
    );
    // RENEWS: when the edge renews it, at the default pki.renewAtFraction (2/3) less its serial's jitter.
    const viewerRenews = renewalTime(viewer, 2 / 3).toISOString();
    assert.match(list.stdout, new RegExp(`\\nviewer-server +viewer-shop +issued +active +${viewer.notAfter.toISOString()} +${viewerRenews} +${viewer.serialHex} +DNS:shop\\.example\\n`));
    assert.deepEqual(JSON.parse((await w.moat(["certs", "list", "--json"], "viewer")).stdout), items);
    const filtered = await w.moat(["certs", "list", "--distribution", "shop", "--use", "origin-client", "--json"], "viewer");
    assert.deepEqual((JSON.parse(filtered.stdout) as Item[]).map((item) => item.serialHex), [client.serialHex]);
  // Every edge's certificates are in the store; --edge names one (the CA's own are held by none).
  assert.deepEqual((JSON.parse((await w.moat(["certs", "list", "--edge", HARNESS_EDGE, "--json"], "viewer")).stdout) as Item[]).map((item) => item.serialHex).sort(), [client.serialHex, viewer.serialHex].sort());
  assert.deepEqual(JSON.parse((await w.moat(["certs", "list", "--edge", "another-edge", "--json"], "viewer")).stdout), []);

    const shown = await w.moat(["certs", "show", viewer.serialHex.toUpperCase()], "viewer");
    assertOk(shown);
    const item = items.find((candidate) => candidate.serialHex === viewer.serialHex)!;
    assert.equal(
      shown.stdout,
      `serial      ${viewer.serialHex}
use         viewer-server
name        viewer-shop
source      issued
state       active
subject     ${item.subject}
names       DNS:shop.example
SPIFFE ID   -
issuer      ${item.issuer}
not before  ${item.notBefore}
not after   ${viewer.notAfter.toISOString()}
renews      ${viewerRenews}
SHA-256     ${viewer.fingerprint256}
used by     distribution shop (viewer certificate)
edge        ${HARNESS_EDGE}
`,
    );
    assert.equal(JSON.parse((await w.moat(["certs", "show", client.serialHex, "--json"], "viewer")).stdout).spiffeId, "spiffe://moat.internal/distribution/shop/origin/app");
    assertRefused(await w.moat(["certs", "show", "0badc0de"], "viewer"), /^moat: the admin API refused GET \/certificates\/0badc0de \(404, api-not-found\): certificate 0badc0de is not here\./);

    // --data-dir: the local command, whatever MOAT_API says.
    const local = await w.moat(["certs", "list", "--data-dir", w.api.dataDir], "viewer");
    assertOk(local);
    assert.match(local.stdout, new RegExp(`\\nviewer-server +viewer-shop +issued +active +${viewer.notAfter.toISOString()} +${viewerRenews} +${viewer.serialHex} `));
    assert.match(local.stdout, /\(imported certificates are listed with --config FILE\)\n$/);
    // MOAT_DATA_DIR beside MOAT_API: local, unless --api or --context says otherwise.
    assert.match((await w.moat(["certs", "list"], "viewer", { MOAT_DATA_DIR: w.api.dataDir })).stdout, /\(imported certificates are listed with --config FILE\)\n$/);
    assert.equal((await w.moat(["certs", "list", "--api", w.api.url], "viewer", { MOAT_DATA_DIR: w.api.dataDir })).stdout, list.stdout);
    const filterLocally = await w.moat(["certs", "list", "--data-dir", w.api.dataDir, "--state", "active"], "viewer");
    assert.equal(filterLocally.code, 2);
    assert.match(filterLocally.stderr, /^moat: certs list: --state filters the list over the admin API; the data directory's list is whole\./);
  });

  test("certs import: a key that does not match is refused on one line (exit 1), never printed, nothing stored; an operator is refused; a good one is imported; revoke by an admin only", async (t) => {
    const w = await workspace(suite, t);
    await w.api.store.put("distribution", "shop", { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "test" });
    const partner = await createEphemeralCertificateAuthority({ name: "Partner" });
    const leaf = await partner.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
    const stranger = await partner.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
    const chain = join(w.dir, "shop-ev.pem");
    const key = join(w.dir, "shop-ev.key");
    const wrongKey = join(w.dir, "stranger.key");
    await writeFile(chain, leaf.chainPem + partner.rootPem);
    await writeFile(key, leaf.keyPem, { mode: 0o600 });
    await writeFile(wrongKey, stranger.keyPem, { mode: 0o600 });
    const args = (keyFile: string) => ["certs", "import", "shop-ev", "--use", "viewer-server", "--chain", chain, "--private-key", keyFile, "--distribution", "shop"];

    const mismatched = await w.moat(args(wrongKey), "admin");
    assertRefused(mismatched, /^moat: the admin API refused POST \/certificates \(400, import-key-mismatch\): /);
    assert.doesNotMatch(mismatched.stderr, /PRIVATE KEY|MII|MHc/);
    const notPem = join(w.dir, "not.key");
    await writeFile(notPem, "this is not a key\n", { mode: 0o600 });
    assertRefused(await w.moat(args(notPem), "admin"), /^moat: the admin API refused POST \/certificates \(400, import-[a-z-]+\): /);
    assert.equal((await w.api.call({ token: w.api.tokens.viewer }, "/certificates?source=imported")).json.items.length, 0, "nothing stored");
    assertRefused(await w.moat(args(key), "operator"), /^moat: the admin API refused POST \/certificates \(403, api-forbidden\): token [0-9a-f]{16} \(operator-test, operator\) may not do this: /);
    const missing = await w.moat(["certs", "import", "shop-ev", "--use", "viewer-server", "--chain", chain], "admin");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^moat: certs import: --private-key FILE is required/);

    const imported = await w.moat(args(key), "admin");
    assertOk(imported);
    assert.equal(imported.stdout, `Imported viewer-server certificate shop-ev: serial ${leaf.serialHex}, valid until ${leaf.notAfter.toISOString()}, names DNS:shop.example.\nA distribution serves it once viewerCertificate is { imported: shop-ev } (\`moat dist replace\`).\n`);
    assert.doesNotMatch(imported.stdout + imported.stderr, /PRIVATE KEY/);

    assertRefused(await w.moat(["certs", "revoke", leaf.serialHex, "--reason", "superseded"], "operator"), /\(403, api-forbidden\)/);
    const revoked = await w.moat(["certs", "revoke", leaf.serialHex, "--reason", "keyCompromise"], "admin");
    assertOk(revoked);
    assert.match(revoked.stdout, new RegExp(`^Revoked certificate ${leaf.serialHex} \\(reason keyCompromise\\) at \\S+\\.\\nCRL number \\d+ \\(1 revoked certificate\\), valid until \\S+: origins refuse it`));
    const again = await w.moat(["certs", "revoke", leaf.serialHex, "--reason", "superseded", "--json"], "admin");
    assert.equal(JSON.parse(again.stdout).wasAlreadyRevoked, true);
  });

  test("ca status, bundle and crl over the API; a rollover step prints what changed, refused to an operator on one line", async (t) => {
    const w = await workspace(suite, t);
    const status = (await w.api.call({ token: w.api.tokens.viewer }, "/ca")).json as {
      bundleRoots: number;
      certificates: { role: string; subject: string; serialHex: string; notBefore: string; notAfter: string }[];
      next: { step: string; at: string }[];
    };
    const shown = await w.moat(["ca", "status"], "viewer");
    assertOk(shown);
    assert.equal(
      shown.stdout,
      table([["ROLE", "SUBJECT", "SERIAL", "NOT BEFORE", "NOT AFTER"], ...status.certificates.map((entry) => [entry.role, entry.subject, entry.serialHex, entry.notBefore, entry.notAfter])]) +
        `\nbundle.pem holds 1 root(s).\nNo root rollover in progress.\nNext steps (a running edge with pki.ca.autoRotate takes them when due):\n${status.next.map((next) => `  ${next.at}  ${next.step}\n`).join("")}`,
    );
    assert.equal(status.certificates.length, 2);
    assert.deepEqual(JSON.parse((await w.moat(["ca", "status", "--json"], "viewer")).stdout), status);
    assert.equal((await w.moat(["ca", "bundle"], "viewer")).stdout, suite.ca().bundlePem);
    assert.match((await w.moat(["ca", "crl"], "viewer")).stdout, /^-----BEGIN X509 CRL-----\n[\s\S]+-----BEGIN X509 CRL-----\n/);

    assertRefused(await w.moat(["ca", "rollover", "--prepare"], "operator"), /^moat: the admin API refused POST \/ca\/rollover\/prepare \(403, api-forbidden\): /);
    const prepared = await w.moat(["ca", "rollover", "--prepare", "--overlap", "1d"], "admin");
    assertOk(prepared);
    const [rootBefore] = status.certificates.filter((entry) => entry.role.includes("root"));
    assert.match(prepared.stdout, new RegExp(`^Prepared a root rollover: .* \\(serial ${rootBefore!.serialHex} → [0-9a-f]+\\)\\.\\nPublished a fresh CRL: number \\d+, valid until \\S+\\.\\nA running edge picks the new bundle up by itself; no certificate is re-issued\\.\\nOrigins and viewers should now trust the new bundle`));
    const during = await w.moat(["ca", "status"], "viewer");
    assert.match(during.stdout, /\nbundle\.pem holds 2 root\(s\)\.\nRoot rollover prepared at \S+ \(root [0-9a-f]+ → [0-9a-f]+\); the new root issues from \S+\.\n/);
    const activated = await w.moat(["ca", "rollover", "--activate", "--json"], "admin");
    assertOk(activated);
    assert.equal(JSON.parse(activated.stdout).reissuesLeaves, true);
    // --data-dir: the local command reads the same data directory.
    assert.match((await w.moat(["ca", "status", "--data-dir", w.api.dataDir], "viewer")).stdout, /Root rollover activated at /);
  });

  test("apply, diff and export over the API: the diff, then PUT /config at its revision; a stale --if-match is refused with the 412's reason; --store still works on the store", async (t) => {
    const w = await workspace(suite, t);
    await w.api.store.put("distribution", "blog", { id: "blog", aliases: ["blog.example"], origins: [{ id: "app", url: "https://blog.internal" }] }, { actor: "test" });
    const file = join(w.dir, "moat.yaml");
    await writeFile(file, "distributions:\n  - id: shop\n    aliases: [shop.example]\n    origins: [{ id: app, url: https://app.internal:8443 }]\n");

    const diff = await w.moat(["diff", "-f", file], "operator");
    assert.equal(diff.code, 1, diff.stderr);
    assert.equal(diff.stdout, "- distribution blog\n+ distribution shop\n\n1 to create, 0 to change, 1 to delete (the store is at revision 1).\n");

    const before = await w.api.store.read();
    const stale = await w.moat(["apply", "-f", file, "--if-match", "0"], "admin");
    assert.equal(stale.code, 1);
    assert.equal(stale.stderr.split("\n").length, 2, stale.stderr);
    assert.match(stale.stderr, /^moat: the admin API refused PUT \/config \(412, store-revision-conflict\): /);
    assert.deepEqual(await w.api.store.read(), before, "nothing changed");
    // The diff is printed before the write, as with --store; the refusal is one line.
    const operator = await w.moat(["apply", "-f", file], "operator");
    assert.equal(operator.code, 1);
    assert.equal(operator.stdout, "- distribution blog\n+ distribution shop\n\n");
    assert.equal(operator.stderr.split("\n").length, 2);
    assert.match(operator.stderr, /^moat: the admin API refused PUT \/config \(403, api-forbidden\): /);

    const applied = await w.moat(["apply", "-f", file], "admin");
    assertOk(applied);
    assert.equal(applied.stdout, `- distribution blog\n+ distribution shop\n\nApplied ${file}: revision 2 (1 created, 0 changed, 1 deleted).\n`);
    assert.equal((await w.api.store.revisions(1))[0]?.actor, `api:token/${w.api.tokens.admin.slice(5, 21)}`);
    assert.equal((await w.moat(["apply", "-f", file], "admin")).stdout, `No changes: the store at revision 2 already matches ${file}.\n`);
    assert.equal((await w.moat(["diff", "-f", file], "viewer")).code, 2, "a viewer may not diff: the refusal is exit 2");

    const exported = await w.moat(["export"], "viewer");
    assertOk(exported);
    assert.match(exported.stdout, new RegExp(`^# moat export of the admin API at ${w.api.url.replace(/\./g, "\\.")} at revision 2\\ndistributions:\\n  - id: shop\\n`));
    // --store: the store itself, whatever MOAT_API says.
    const direct = await w.moat(["export", "--store", w.api.address, "--json"], "viewer");
    assertOk(direct);
    assert.deepEqual(JSON.parse(direct.stdout), (await w.api.store.read()).document);
  });

  test("audit list, export and verify over the API print what --store prints; an operator is refused; a tampered trail fails verify on one line", async (t) => {
    const w = await workspace(suite, t);
    await w.api.store.put("distribution", "blog", { id: "blog", aliases: ["blog.example"], origins: [{ id: "app", url: "https://blog.internal" }] }, { actor: "test" });
    await w.api.store.put("distribution", "blog", { id: "blog", aliases: ["blog.example", "www.blog.example"], origins: [{ id: "app", url: "https://blog.internal" }] }, { actor: "test" });
    const store = ["--store", w.api.address];

    const list = await w.moat(["audit", "list"], "admin");
    assertOk(list);
    assert.match(list.stdout, /^SEQ +TIME +ACTOR +ACTION +RESOURCE +REVISION\n/);
    assert.equal(list.stdout, (await w.moat(["audit", "list", ...store], "admin")).stdout);
    assert.equal((await w.moat(["audit", "list", "--limit", "1", "--json"], "admin")).stdout, (await w.moat(["audit", "list", "--limit", "1", "--json", ...store], "admin")).stdout);
    const exported = await w.moat(["audit", "export"], "admin");
    assertOk(exported);
    assert.ok(exported.stdout.split("\n").length > 3, exported.stdout);
    assert.equal(exported.stdout, (await w.moat(["audit", "export", ...store], "admin")).stdout);
    const verified = await w.moat(["audit", "verify"], "admin");
    assertOk(verified);
    assert.match(verified.stdout, new RegExp(`^the admin API at ${w.api.url.replace(/\./g, "\\.")}: the audit trail is intact: \\d+ records, head record \\d+ \\(hash [0-9a-f]{64}\\); (no signed checkpoint|records 1\\.\\.\\d+ are covered)[^\\n]*\\.\\n$`));
    assertRefused(await w.moat(["audit", "list"], "operator"), /^moat: the admin API refused GET \/audit \(403, api-forbidden\): /);

    await engine.rawExecute!(w.api.address, `update audit_log set actor = 'someone-else' where seq = 1`);
    assertRefused(await w.moat(["audit", "verify"], "admin"), /^moat: the audit trail of the admin API at \S+ is not intact: .*record 1/);
  });

  test("cache invalidate over the API with no edge to apply it: progress, then past --wait exit 1 saying where it is; the invalidation stands", async (t) => {
    const w = await workspace(suite, t);
    await w.api.store.put("distribution", "shop", { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "test" });
    const run = await w.moat(["cache", "invalidate", "--distribution", "shop", "/index.html", "--wait", "1s"], "operator");
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    const lines = run.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 2), ["moat: invalidation #1 recorded for shop: /index.html", "moat: waiting for a live edge run from the API's store to apply it (none reports now)"]);
    assert.match(lines[2]!, /^moat: waited 1s for the edges to apply invalidation 1, and it has not happened yet: waiting for a live edge .*\. Fix: the request stands and may still complete: see where it is with `moat invalidations show 1`, or wait longer with --wait$/);
    assert.equal(lines.length, 3);
    const listed = (await w.api.call({ token: w.api.tokens.viewer }, "/invalidations")).json.items as { paths: string[]; status: string }[];
    assert.deepEqual(listed.map((item) => [item.paths, item.status]), [[["/index.html"], "pending"]]);
    const noWait = await w.moat(["cache", "invalidate", "--distribution", "shop", "/a", "--no-wait"], "operator");
    assert.equal(noWait.stdout, "Invalidation #2 recorded for shop: /a\nNot waiting for the edges (--no-wait); its status: moat invalidations show 2.\n");
    const both = await w.moat(["cache", "invalidate", "--distribution", "shop", "/a", "--no-wait", "--wait", "5s"], "operator");
    assert.equal(both.code, 2);
  });

  test("invalidations list and show over the API: newest first, each edge's state, --distribution, --limit and --before, --json; a missing id is refused on one line", async (t) => {
    const w = await workspace(suite, t);
    for (const id of ["shop", "blog"]) await w.api.store.put("distribution", id, { id, aliases: [`${id}.example`], origins: [{ id: "app", url: "https://app.internal:8443" }] }, { actor: "test" });
    for (const [distribution, ...paths] of [["shop", "/index.html"], ["blog", "/a", "/b*"], ["shop", "/images/*"]]) {
      assertOk(await w.moat(["cache", "invalidate", "--distribution", distribution!, ...paths, "--no-wait"], "operator"));
    }
    const actor = `api:token/${w.api.tokens.operator.slice(5, 21)}`;
    type Listed = { id: string; distribution: string; paths: string[]; at: string; actor: string };
    const listed = async () => (await w.api.call({ token: w.api.tokens.viewer }, "/invalidations")).json.items as Listed[];
    const rows = (items: Listed[], edges: string[]) => items.map((item, index) => [item.id, item.distribution, item.at, item.actor, edges[index]!, item.paths.join(" ")]);
    const header = ["ID", "DISTRIBUTION", "CREATED", "BY", "EDGES", "PATHS"];

    // No edge has applied any yet.
    let items = await listed();
    assert.deepEqual(items.map((item) => [item.id, item.actor]), [["3", actor], ["2", actor], ["1", actor]]);
    const none = await w.moat(["invalidations", "list"], "viewer");
    assertOk(none);
    assert.equal(none.stderr, "");
    assert.equal(none.stdout, table([header, ...rows(items, ["pending (no live edge has applied it yet)", "pending (no live edge has applied it yet)", "pending (no live edge has applied it yet)"])]));

    // Two live edges, as they record it in the store (a heartbeat now, so both are waited for): edge-a has applied up to #2, edge-b #1 only.
    for (const name of ["edge-a", "edge-b"]) {
      const now = new Date().toISOString();
      await w.api.store.edges.report({ name, revision: null, servedAt: null, lastSeenAt: now, startedAt: now, version: "0.1.0", region: null, heartbeatMs: 600_000 });
    }
    await w.api.store.invalidations.markApplied("edge-a", 2, new Date("2026-01-02T03:04:05.000Z"));
    await w.api.store.invalidations.markApplied("edge-b", 1, new Date("2026-01-02T03:04:06.000Z"));
    items = await listed();
    const list = await w.moat(["invalidations", "list"], "viewer");
    assertOk(list);
    assert.equal(list.stdout, table([header, ...rows(items, ["pending (0/2; waiting for edge-a, edge-b)", "pending (1/2; waiting for edge-b)", "applied (2/2)"])]));
    assert.match(list.stdout, /\n2 +blog +\S+ +api:token\/[0-9a-f]{16} +pending \(1\/2; waiting for edge-b\) +\/a \/b\*\n/);
    assert.deepEqual(JSON.parse((await w.moat(["invalidations", "list", "--json"], "viewer")).stdout), items);

    const shop = await w.moat(["invalidations", "list", "--distribution", "shop", "--json"], "viewer");
    assert.deepEqual((JSON.parse(shop.stdout) as Listed[]).map((item) => item.id), ["3", "1"]);
    assert.equal((await w.moat(["invalidations", "list", "--distribution", "nope"], "viewer")).stdout, "No invalidations for nope.\n");
    const first = await w.moat(["invalidations", "list", "--limit", "2"], "viewer");
    assert.equal(first.stdout, table([header, ...rows(items.slice(0, 2), ["pending (0/2; waiting for edge-a, edge-b)", "pending (1/2; waiting for edge-b)"])]) + "(older ones: --before 2)\n");
    const next = await w.moat(["invalidations", "list", "--limit", "2", "--before", "2"], "viewer");
    assert.equal(next.stdout, table([header, ...rows(items.slice(2), ["applied (2/2)"])]));
    assert.equal((await w.moat(["invalidations", "list", "--before", "1"], "viewer")).stdout, "No invalidations before #1.\n");
    for (const bad of [["--limit", "0"], ["--limit", "501"], ["--before", "x"]]) {
      const refused = await w.moat(["invalidations", "list", ...bad], "viewer");
      assert.equal(refused.code, 2, `${bad.join(" ")}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`^moat: invalidations list: ${bad[0]} must be `));
    }

    const shown = await w.moat(["invalidations", "show", "#2"], "viewer");
    assertOk(shown);
    assert.equal(
      shown.stdout,
      `id            2
distribution  blog
paths         /a
              /b*
created       ${items[1]!.at}
by            ${actor}
status        pending (1/2; waiting for edge-b)
edges         EDGE    STATUS   APPLIED AT
              edge-a  applied  2026-01-02T03:04:05.000Z
              edge-b  pending  -
`,
    );
    assert.equal((await w.moat(["invalidations", "show", "2"], "viewer")).stdout, shown.stdout);
    assert.deepEqual(JSON.parse((await w.moat(["invalidations", "show", "1", "--json"], "viewer")).stdout), items[2]);
    assertRefused(await w.moat(["invalidations", "show", "99"], "viewer"), /^moat: the admin API refused GET \/invalidations\/99 \(404, api-not-found\): invalidation 99 /);
    const zero = await w.moat(["invalidations", "show", "0"], "viewer");
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /^moat: invalidations show: ID must be an invalidation id, its number as `moat cache invalidate` or `moat invalidations list` prints it: 12, or #12 \(got "0"\)\./);
    const help = await w.moat(["invalidations", "list", "--help"], "viewer");
    assertOk(help);
    assert.match(help.stdout, /^moat invalidations list \[--distribution ID\] \[--limit 20\] \[--before ID\] \[--json\] \[API flags\]\n[\s\S]*\nExamples:\n  moat invalidations list /);
  });
}
