// Joining an edge to a fleet on one PostgreSQL (issue 17): a join token works once; the joined edge makes its own keys and serves with certificates the CA node signed from its CSRs; its private keys are on its own disk only; the CA refuses names it is not entitled to.
import assert from "node:assert/strict";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { Agent, request } from "undici";
import { validateStoredDocument } from "../../../src/config/index.ts";
import { createKeyAndCsr, initCertificateAuthority, loadMasterKey, openPrivateKey } from "../../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../../../src/pki/index.ts";
import { openStore } from "../../../src/store/index.ts";
import type { CertificateRequestRecord, Store } from "../../../src/store/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { findPostgres, skipWithoutPostgres, startPostgres } from "../../support/postgres-server.ts";
import type { PostgresServer } from "../../support/postgres-server.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { LogLine, MoatRun, RunningMoat } from "../moat-process.ts";

const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "", MOAT_JOIN_TOKEN: "", MOAT_EDGE_NAME: "" };

/** Every file under `dir`, with its bytes. */
async function filesUnder(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const found: { path: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    found.push({ path, bytes: await readFile(path) });
  }
  return found;
}

/** Each private key file under `dir` (`*.key`, `key.pem`), opened with `masterKey`. */
async function privateKeysUnder(dir: string, masterKey: MasterKey): Promise<{ path: string; sealed: string; keyPem: string }[]> {
  const keys = [];
  for (const file of await filesUnder(dir)) {
    if (!/(^|\/)(key\.pem|[^/]+\.key)$/.test(file.path)) continue;
    const sealed = file.bytes.toString("utf8");
    keys.push({ path: file.path, sealed, keyPem: openPrivateKey(sealed, masterKey, file.path).keyPem });
  }
  return keys;
}

/** The forms a private key could leak in: its PKCS#8 DER (bytes, base64, hex), its private scalar (base64url, hex), and its sealed file. */
function leakForms(key: { sealed: string; keyPem: string }): { text: string[]; bytes: Buffer[] } {
  const object = createPrivateKey(key.keyPem);
  const der = object.export({ type: "pkcs8", format: "der" });
  const d = object.export({ format: "jwk" }).d as string;
  const sealedBody = key.sealed.split("\n").filter((line) => line !== "" && !line.startsWith("-----")).join("");
  return { text: [der.toString("base64"), der.toString("hex"), d, Buffer.from(d, "base64url").toString("hex"), Buffer.from(d, "base64url").toString("base64"), sealedBody], bytes: [der, Buffer.from(d, "base64url")] };
}

/** Which of `keys` appear in `haystack` (text with newlines removed, and raw bytes). */
function leaked(haystack: Buffer, keys: { path: string; forms: ReturnType<typeof leakForms> }[]): string[] {
  const text = haystack.toString("latin1").replace(/\\n|\r?\n/g, "");
  const lower = text.toLowerCase();
  return keys.filter((key) => key.forms.text.some((form) => text.includes(form) || lower.includes(form.toLowerCase())) || key.forms.bytes.some((form) => haystack.includes(form))).map((key) => key.path);
}

function presentedCertificate(port: number, caPem: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca: caPem, ALPNProtocols: ["http/1.1"] }, () => {
      const certificate = socket.getPeerX509Certificate();
      socket.destroy();
      if (certificate) resolve(certificate);
      else reject(new Error("no certificate"));
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("handshake timed out")));
    socket.on("error", reject);
  });
}

/** The CSR with the last byte of its signature changed: it still parses, and its signature no longer verifies. */
function withLastByteFlipped(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`;
}

async function answered(store: Store, id: string): Promise<CertificateRequestRecord> {
  return withDeadline(
    `request ${id} to be answered`,
    (async () => {
      for (;;) {
        const record = await store.certificateRequests.get(id);
        if (record && record.state !== "pending") return record;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })(),
    30_000,
  );
}

describe("joining an edge to a fleet on one PostgreSQL", { skip: skipWithoutPostgres() }, () => {
  let server: PostgresServer | undefined;
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let caNode: RunningMoat | undefined;
  let joinedEdge: RunningMoat | undefined;
  let apiUrl: string;
  let store: Store;
  const caDir = () => join(dir, "ca-node");
  const edgeDir = () => join(dir, "edge-j1");
  const edgeKeyFile = () => join(dir, "keys", "j1.key");

  before(async () => {
    server = await startPostgres(findPostgres() as string);
    dir = await mkdtemp(join(tmpdir(), "moat-fleet-join-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: caDir(), masterKey: key.masterKey });
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem, handler: (_req, res) => res.end("from the origin") });
    // The document names the CA node's data directory: a joined edge runs from its own whatever it says. Two workers:
    // a joined edge's workers read its CA (no key) from its data directory, and follow it when the CA node renews.
    await writeFile(
      join(dir, "moat.yaml"),
      `dataDir: ${caDir()}
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test, www.site.test]
    origins: [{ id: app, url: "${origin.url}" }]
    behaviors: [{ path: "*", target: app }]
`,
    );
    const local = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...CLEAN_ENV, ...key.env } }), 60_000);
    const applied = await local(["apply", "-f", join(dir, "moat.yaml"), "--store", server.url]);
    assert.equal(applied.code, 0, applied.stderr);
    const admin = await local(["token", "create", "--role", "admin", "--name", "ops", "--store", server.url]);
    assert.equal(admin.code, 0, admin.stderr);
    await writeFile(join(dir, "admin.token"), admin.stdout, { mode: 0o600 });
    await writeFile(join(dir, "moat-ca.pem"), ca.bundlePem);
    // The CA node: the master key, the CA's keys, the admin API.
    caNode = startMoat(["start", "--store", server.url, "--ca", "--api", "127.0.0.1:0", "--edge-name", "ca-node"], { cwd: dir, env: { ...CLEAN_ENV, ...key.env, MOAT_DATA_DIR: caDir(), MOAT_STORE_FALLBACK_POLL_MS: "600000" }, detached: true });
    await withDeadline("the CA node to listen", caNode.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    apiUrl = String((await withDeadline("the admin API to listen", caNode.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    await withDeadline("the CA certificates to be published", caNode.waitForLine("published", (line) => line.msg === "CA certificates published for joined edges"), 30_000);
    store = await openStore({ address: server.url, validate: validateStoredDocument });
  });

  after(async () => {
    await store?.close();
    for (const running of [joinedEdge, caNode]) {
      if (running?.child.pid && isGroupAlive(running.child.pid)) {
        process.kill(running.child.pid, "SIGTERM");
        await withDeadline("an edge to exit", running.exited, 60_000).catch(() => running.kill());
      }
    }
    await origin?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const overApi = (args: string[]): Promise<MoatRun> =>
    withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...CLEAN_ENV, MOAT_CONTEXTS: join(dir, "contexts.yaml"), MOAT_API: apiUrl, MOAT_API_CA: join(dir, "moat-ca.pem"), MOAT_TOKEN_FILE: join(dir, "admin.token") } }), 60_000);
  const joinEdge = (args: string[]): Promise<MoatRun> => withDeadline(`moat edge join`, runMoat(["edge", "join", "--store", server!.url, ...args], { cwd: dir, env: CLEAN_ENV }), 60_000);

  test("a join token works once: the second use is refused and writes nothing, an expired one is refused; the joined data directory holds no CA key and no master key", { timeout: 120_000 }, async () => {
    const created = await overApi(["edge", "token", "create", "--name", "j1", "--region", "eu-west", "--ttl", "1h"]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^moat_join_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /^Created join token [0-9a-f]{16} for edge j1 \(eu-west\), usable once until \S+\. It is shown once/);

    const joined = await joinEdge(["--token", token, "--data-dir", edgeDir(), "--key-file", edgeKeyFile()]);
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stdout, /^Joined the fleet as j1 \(eu-west\): /);
    assert.equal((await stat(edgeKeyFile())).mode & 0o777, 0o600, "the edge's own key file is 0600");
    assert.deepEqual(await store.joins.joined("j1").then((edge) => [edge?.name, edge?.region]), ["j1", "eu-west"]);

    // The second use: refused with its code, and nothing of it on disk (the key file it would have made is gone again).
    const again = await joinEdge(["--token", token, "--data-dir", join(dir, "edge-again"), "--key-file", join(dir, "keys", "again.key")]);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /join refused: the join token was used already: a join token works once \(token [0-9a-f]{16}, used at \S+\)\. Fix: create a new one/);
    assert.equal(existsSync(join(dir, "edge-again", "edge", "joined.json")), false);
    assert.equal(existsSync(join(dir, "keys", "again.key")), false);

    // An expired one (made in the store, an hour past its expiry).
    const hourAgo = new Date(Date.now() - 3_600_000);
    const expired = await store.joins.createToken({ name: "j2", region: null, expiresAt: hourAgo, createdBy: "test", now: new Date(hourAgo.getTime() - 60_000) });
    const late = await joinEdge(["--token", expired.secret, "--data-dir", join(dir, "edge-late"), "--key-file", join(dir, "keys", "late.key")]);
    assert.equal(late.code, 1, late.stderr);
    assert.match(late.stderr, /join refused: the join token has expired \(token [0-9a-f]{16}, expired at \S+\)/);
    assert.equal(await store.joins.joined("j2"), undefined);

    // Listed with their state, never a secret; an unused one revoked over the API joins nobody; a used one is not revoked.
    const spare = await overApi(["edge", "token", "create", "--name", "j3", "--ttl", "1h"]);
    assert.equal(spare.code, 0, spare.stderr);
    const spareId = /^Created join token ([0-9a-f]{16})/.exec(spare.stderr)![1]!;
    const revoked = await overApi(["edge", "token", "revoke", spareId]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^Join token ${spareId} \\(edge j3\\) is revoked since \\S+: it joins nobody\\.\\n$`));
    const refusedJoin = await joinEdge(["--token", spare.stdout.trim(), "--data-dir", join(dir, "edge-j3"), "--key-file", join(dir, "keys", "j3.key")]);
    assert.equal(refusedJoin.code, 1, refusedJoin.stderr);
    assert.match(refusedJoin.stderr, /join refused: the join token was revoked by an admin \(token [0-9a-f]{16}, revoked at \S+\)/);
    assert.equal(await store.joins.joined("j3"), undefined);
    const tokenId = /^moat_join_([0-9a-f]{16})_/.exec(token)![1]!;
    const usedRevoke = await overApi(["edge", "token", "revoke", tokenId]);
    assert.equal(usedRevoke.code, 1, usedRevoke.stderr);
    assert.match(usedRevoke.stderr, /join token [0-9a-f]{16} was used at \S+: edge j1 joined with it/);
    const listed = await overApi(["edge", "token", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split("\n");
    assert.match(rows[0]!, /^ID +NAME +REGION +STATE +CREATED +EXPIRES +USED +REVOKED$/);
    assert.match(listed.stdout, new RegExp(`\\n${tokenId} +j1 +eu-west +used +\\S+ +\\S+ +\\d{4}-\\S+ +-\\n`));
    assert.match(listed.stdout, /\n[0-9a-f]{16} +j2 +- +expired +\S+ +\S+ +- +-\n/);
    assert.match(listed.stdout, new RegExp(`\\n${spareId} +j3 +- +revoked +\\S+ +\\S+ +- +\\d{4}-\\S+(\\n|$)`));
    const listedJson = await overApi(["edge", "token", "list", "--json"]);
    for (const secret of [token, spare.stdout.trim(), expired.secret]) {
      assert.ok(!listedJson.stdout.includes(joinSecretPart(secret)), "no secret listed");
      assert.ok(!listedJson.stdout.includes(createHash("sha256").update(secret).digest("hex")), "no secret's hash listed");
    }
    assert.deepEqual((JSON.parse(listedJson.stdout) as { name: string; state: string }[]).map((item) => [item.name, item.state]), [["j2", "expired"], ["j1", "used"], ["j3", "revoked"]], "oldest first (j2 was made an hour back)");
    assert.deepEqual((await store.audit.list({ limit: 100 })).filter((record) => record.action === "edge.join-token-revoke").map((record) => [record.actor, record.resource]), [["api:token/" + (await readFile(join(dir, "admin.token"), "utf8")).trim().split("_")[1], "edge/j3"]]);

    // The joined edge's directory: the CA's public certificates, no CA key, no master key.
    for (const file of ["root.key", "intermediate.key", "root.pem"]) assert.equal(existsSync(join(edgeDir(), "ca", file)), false, `no ca/${file}`);
    assert.equal(await readFile(join(edgeDir(), "ca", "bundle.pem"), "utf8"), ca.bundlePem);
    for (const file of await filesUnder(edgeDir())) assert.ok(!file.bytes.toString("latin1").includes(key.base64), `${file.path} holds no master key`);
  });

  test("a joined data directory starts only as that edge: no --api or --ca on it, no other --edge-name, and only with its own sealing key", { timeout: 120_000 }, async () => {
    const start = (args: string[], env: NodeJS.ProcessEnv) => withDeadline(`moat start ${args.join(" ")}`, runMoat(["start", "--store", server!.url, ...args], { cwd: dir, env: { ...CLEAN_ENV, MOAT_DATA_DIR: edgeDir(), ...env } }), 60_000);
    const ownKey = { MOAT_MASTER_KEY_FILE: edgeKeyFile() };
    const withApi = await start(["--api", "127.0.0.1:0"], ownKey);
    assert.equal(withApi.code, 2, withApi.stderr);
    assert.match(withApi.stderr, /--api runs the admin API, .* is the joined edge j1's, which holds no CA\. Fix: run the admin API beside the CA node/);
    const asCaNode = await start(["--ca"], ownKey);
    assert.equal(asCaNode.code, 2, asCaNode.stderr);
    assert.match(asCaNode.stderr, /--ca runs the CA node, where the master key and the CA's keys are; .* is the data directory of the joined edge j1, which holds neither/);
    const renamed = await start(["--edge-name", "other"], ownKey);
    assert.equal(renamed.code, 2, renamed.stderr);
    assert.match(renamed.stderr, /--edge-name other, but .* joined the fleet as j1/);
    // The fleet's master key is not this edge's key: refused before anything is issued.
    const fleetKey = await start([], key.env);
    assert.equal(fleetKey.code, 1, fleetKey.stderr);
    assert.match(fleetKey.stderr, /was joined with the sealing key [0-9a-f]+, and this start loaded [0-9a-f]+ \(MOAT_MASTER_KEY\)\. Fix: point MOAT_MASTER_KEY_FILE at the key file/);
    assert.equal(existsSync(join(edgeDir(), "certs")), false, "nothing was issued");
  });

  test("the joined edge serves with certificates the CA node signed from its CSRs; its private keys are in its own data directory only: not in the CA node's, in no store row, in no API answer", { timeout: 240_000 }, async () => {
    const edgeKey = await loadMasterKey({ kind: "file", path: edgeKeyFile(), from: "test" }, { dataDir: edgeDir() });
    joinedEdge = startMoat(["start", "--store", server!.url], { cwd: dir, env: { ...CLEAN_ENV, MOAT_DATA_DIR: edgeDir(), MOAT_MASTER_KEY_FILE: edgeKeyFile(), MOAT_STORE_FALLBACK_POLL_MS: "600000", MOAT_JOINED_CA_POLL_MS: "1000" }, detached: true });
    const listening = await withDeadline("the joined edge to listen", joinedEdge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 120_000);
    const port = Number(listening.httpsPort);
    assert.equal(listening.edge, "j1", "it runs under the name it joined as");

    // Traffic: the viewer certificate verifies against the CA's bundle, the origin accepted the edge's client certificate.
    const answer = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "from the origin");
    const seen = origin.seen.at(-1)!;
    assert.deepEqual(seen.clientIdentities, ["spiffe://moat.internal/distribution/site/origin/app"]);

    // Both certificates came through the store as CSRs, signed by the CA node, for keys the edge made.
    const presented = await presentedCertificate(port, ca.bundlePem, "site.test");
    assert.ok(presented.checkIssued(new X509Certificate(ca.intermediatePem)), "the viewer certificate is the CA's intermediate's");
    const edgeKeys = await privateKeysUnder(join(edgeDir(), "certs"), edgeKey);
    assert.ok(edgeKeys.length >= 2, `the edge's own keys: ${edgeKeys.map((k) => k.path).join(", ")}`);
    assert.ok(edgeKeys.some((k) => presented.checkPrivateKey(createPrivateKey(k.keyPem))), "the viewer certificate is for a key in the edge's data directory");
    assert.ok(edgeKeys.some((k) => k.path.includes(join("certs", "server", "viewer-site")) ), "the viewer key is in the edge's slot");
    assert.ok(edgeKeys.some((k) => k.path.includes(join("certs", "origin-client", "site", "app"))), "the origin client key is in the edge's slot");
    const isSigned = (line: LogLine) => line.msg === "certificate request signed" && line.edge === "j1";
    await withDeadline("the CA node to log both signatures", caNode!.waitForStdout("two signatures", () => caNode!.lines.filter(isSigned).length >= 2), 10_000);
    const signedLines = caNode!.lines.filter(isSigned);
    assert.deepEqual(signedLines.map((line) => String(line.asks)).sort(), ["a viewer certificate for site.test, www.site.test", "the origin client certificate of site/app"]);
    // The edge's keys are sealed with its own key, not the fleet's master key.
    for (const k of edgeKeys) assert.throws(() => openPrivateKey(k.sealed, key.masterKey, k.path), { code: "master-key-wrong" });

    const forms = edgeKeys.map((k) => ({ path: k.path, forms: leakForms(k) }));
    // (1) The CA node's data directory.
    for (const file of await filesUnder(caDir())) assert.deepEqual(leaked(file.bytes, forms), [], `${file.path} holds none of the joined edge's keys`);
    // (2) Every row of every table of the store.
    const client = new pg.Client({ connectionString: server!.url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    let rowsRead = 0;
    try {
      const tables = (await client.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by tablename")).rows.map((row) => row.tablename);
      assert.ok(tables.includes("certificate_requests") && tables.includes("certificates") && tables.includes("audit_log"), tables.join(", "));
      for (const table of tables) {
        const rows = (await client.query(`select * from "${table}"`)).rows;
        rowsRead += rows.length;
        for (const row of rows) assert.deepEqual(leaked(Buffer.from(JSON.stringify(row)), forms), [], `a row of ${table} holds none of the joined edge's keys`);
      }
    } finally {
      await client.end();
    }
    assert.ok(rowsRead > 10, `rows were read (${rowsRead})`);
    // The CSRs the edge sent are there: public keys only.
    const requests = await store.certificateRequests.pending(10);
    assert.deepEqual(requests, [], "every request was answered");
    // (3) Every GET of the admin API without a path parameter.
    const dispatcher = new Agent({ connect: { ca: ca.bundlePem, timeout: 10_000 }, headersTimeout: 30_000, bodyTimeout: 30_000 });
    const token = (await readFile(join(dir, "admin.token"), "utf8")).trim();
    try {
      const get = async (path: string) => {
        const response = await request(new URL(path, apiUrl), { dispatcher, headers: { authorization: `Bearer ${token}` } });
        return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
      };
      const openapi = JSON.parse((await get("/openapi.json")).body.toString("utf8")) as { paths: Record<string, Record<string, unknown>> };
      const paths = Object.keys(openapi.paths).filter((path) => !path.includes("{") && "get" in openapi.paths[path]!);
      assert.ok(paths.includes("/edges") && paths.includes("/certificates") && paths.includes("/audit"), paths.join(", "));
      for (const path of paths) {
        const answer = await get(path);
        assert.deepEqual(leaked(answer.body, forms), [], `GET ${path} (${answer.status}) holds none of the joined edge's keys`);
      }
      // GET /edges says which edge joined (and holds no master key).
      const edges = JSON.parse((await get("/edges")).body.toString("utf8")) as { items: { name: string; region: string | null; joinedAt: string | null }[] };
      await withDeadline("edge j1 to report", (async () => {
        for (let list = edges; ; list = JSON.parse((await get("/edges")).body.toString("utf8")) as typeof edges) {
          const j1 = list.items.find((item) => item.name === "j1");
          if (j1) {
            assert.equal(j1.region, "eu-west");
            assert.match(j1.joinedAt ?? "", /^\d{4}-\d\d-\d\dT/);
            assert.equal(list.items.find((item) => item.name === "ca-node")?.joinedAt, null);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })(), 30_000);
    } finally {
      await dispatcher.close();
    }
    // `moat edge list` says which edges joined and which sign their own certificates.
    const table = await overApi(["edge", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME .* CERTS EXPIRE +JOINED\n/);
    assert.match(table.stdout, /\nca-node +.* self-issuing\n/);
    assert.match(table.stdout, /\nj1 +eu-west +.* joined\n/);
    // (4) No CA private key on the joined edge: neither the CA's keys nor the fleet's master key.
    const caKeys = (await privateKeysUnder(join(caDir(), "ca"), key.masterKey)).map((k) => ({ path: k.path, forms: leakForms(k) }));
    assert.ok(caKeys.length >= 2, caKeys.map((k) => k.path).join(", "));
    for (const file of await filesUnder(edgeDir())) {
      assert.deepEqual(leaked(file.bytes, caKeys), [], `${file.path} holds no CA key`);
      assert.ok(!file.bytes.toString("latin1").includes(key.base64), `${file.path} holds no master key`);
    }
  });

  test("the CA node renews its intermediate: the joined edge takes the published CA, and its certificates are signed again, by the new intermediate, from new CSRs", { timeout: 120_000 }, async () => {
    const port = Number(joinedEdge!.lines.find((line) => line.msg === "edge listening")!.httpsPort);
    const before = await presentedCertificate(port, ca.bundlePem, "site.test");
    const dispatcher = new Agent({ connect: { ca: ca.bundlePem, timeout: 10_000 }, headersTimeout: 60_000, bodyTimeout: 60_000 });
    try {
      const token = (await readFile(join(dir, "admin.token"), "utf8")).trim();
      const renewed = await request(new URL("/ca/renew-intermediate", apiUrl), { dispatcher, method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
      const text = await renewed.body.text();
      assert.equal(renewed.statusCode, 200, text);
    } finally {
      await dispatcher.close();
    }
    const intermediate = new X509Certificate(await readFile(join(caDir(), "ca", "intermediate.pem"), "utf8"));
    assert.ok(!before.checkIssued(intermediate), "a new intermediate");
    await withDeadline("the joined edge to take the new CA", joinedEdge!.waitForLine("the CA changed", (line) => line.msg === "the CA changed" && line.isIssuerChanged === true), 60_000);
    await withDeadline(
      "the joined edge to present a certificate of the new intermediate",
      (async () => {
        while (!(await presentedCertificate(port, ca.bundlePem, "site.test")).checkIssued(intermediate)) await new Promise((resolve) => setTimeout(resolve, 200));
      })(),
      60_000,
    );
    assert.equal(await readFile(join(edgeDir(), "ca", "intermediate.pem"), "utf8"), intermediate.toString());
    const answer = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" });
    assert.equal(answer.body, "from the origin");
    assert.ok(origin.seen.at(-1)!.clientSerial !== null);
    // Still no key of the CA on the joined edge: only its public certificates changed.
    for (const file of ["root.key", "intermediate.key"]) assert.equal(existsSync(join(edgeDir(), "ca", file)), false);
    // Nothing failed on the way (a certificate sync, a rebuild, a request).
    assert.deepEqual(joinedEdge!.lines.filter((line) => Number(line.level) >= 50).map((line) => line.msg), []);
  });

  test("the CA node refuses a CSR for names the edge is not entitled to, and one from an edge that never joined, with a reason", { timeout: 60_000 }, async () => {
    const { csrPem } = await createKeyAndCsr("ecdsa-p256", "evil.test");
    const foreign = await store.certificateRequests.submit({ edge: "j1", subject: { use: "viewer-server", dnsNames: ["evil.test"], ipAddresses: [] }, validityMs: 86_400_000, csrPem, now: new Date() });
    const partial = await store.certificateRequests.submit({ edge: "j1", subject: { use: "viewer-server", dnsNames: ["site.test"], ipAddresses: [] }, validityMs: 86_400_000, csrPem, now: new Date() });
    const otherOrigin = await store.certificateRequests.submit({ edge: "j1", subject: { use: "origin-client", trustDomain: "moat.internal", distributionId: "site", originId: "elsewhere" }, validityMs: 3_600_000, csrPem, now: new Date() });
    const stranger = await store.certificateRequests.submit({ edge: "stranger", subject: { use: "viewer-server", dnsNames: ["site.test", "www.site.test"], ipAddresses: [] }, validityMs: 86_400_000, csrPem, now: new Date() });
    const forged = await store.certificateRequests.submit({ edge: "j1", subject: { use: "viewer-server", dnsNames: ["site.test", "www.site.test"], ipAddresses: [] }, validityMs: 86_400_000, csrPem: withLastByteFlipped(csrPem), now: new Date() });
    const expect = async (id: string, reason: RegExp) => {
      const record = await answered(store, id);
      assert.equal(record.state, "refused", `${id}: ${record.reason}`);
      assert.equal(record.chainPem, null);
      assert.match(record.reason ?? "", reason);
    };
    await expect(foreign, /no distribution of the current config has exactly these aliases with a certificate issued by Moat \(evil\.test\)/);
    await expect(partial, /no distribution of the current config has exactly these aliases/);
    await expect(otherOrigin, /distribution site has no origin elsewhere/);
    await expect(stranger, /no edge joined as stranger/);
    await expect(forged, /the CSR's signature does not verify with its own key/);
    // Logged just after the answer is written.
    await withDeadline("the CA node to log the refusal", caNode!.waitForLine("refusal", (line) => line.msg === "certificate request refused" && line.request === foreign && String(line.reason).includes("evil.test")), 10_000);
  });

  test("a joined edge started while the store was down gets its certificates signed once the store answers, without a restart; its clean stop marks it stopped", { timeout: 240_000 }, async () => {
    const edgeEnv = { ...CLEAN_ENV, MOAT_DATA_DIR: edgeDir(), MOAT_MASTER_KEY_FILE: edgeKeyFile(), MOAT_STORE_FALLBACK_POLL_MS: "600000", MOAT_JOINED_CA_POLL_MS: "1000" };
    process.kill(-joinedEdge!.child.pid!, "SIGTERM");
    await withDeadline("the joined edge to drain and exit", joinedEdge!.exited, 60_000);
    assert.ok(joinedEdge!.lines.some((line) => line.msg === "edge marked stopped in the store: invalidations do not wait for it"), "its farewell was written");
    assert.equal((await store.edges.list()).find((edge) => edge.name === "j1")?.stoppedAt !== null, true, "its row says stopped");

    await server!.pause();
    let isPaused = true;
    try {
      joinedEdge = startMoat(["start", "--store", server!.url], { cwd: dir, env: edgeEnv, detached: true });
      const listening = await withDeadline("the joined edge to start from its local copy", joinedEdge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 120_000);
      assert.ok(joinedEdge.lines.some((line) => String(line.msg).startsWith("store unreachable at start: serving revision")), "it started with the store down");
      // The store answers again; a new alias needs a new viewer certificate, which only the CA node can sign.
      await server!.resume();
      isPaused = false;
      await writeFile(join(dir, "moat-new.yaml"), (await readFile(join(dir, "moat.yaml"), "utf8")).replace("aliases: [site.test, www.site.test]", "aliases: [site.test, www.site.test, new.site.test]"));
      const applied = await withDeadline("moat apply", runMoat(["apply", "-f", join(dir, "moat-new.yaml"), "--store", server!.url], { cwd: dir, env: { ...CLEAN_ENV, ...key.env } }), 60_000);
      assert.equal(applied.code, 0, applied.stderr);
      const port = Number(listening.httpsPort);
      const presented = await withDeadline(
        "the joined edge to present a certificate for the new alias",
        (async () => {
          for (;;) {
            const certificate = await presentedCertificate(port, ca.bundlePem, "new.site.test").catch(() => undefined);
            if (certificate?.subjectAltName?.includes("DNS:new.site.test")) return certificate;
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        })(),
        120_000,
      );
      assert.ok(presented.checkIssued(new X509Certificate(await readFile(join(caDir(), "ca", "intermediate.pem"), "utf8"))), "signed by the CA node's intermediate");
      assert.ok(joinedEdge.lines.some((line) => line.msg === "store reachable: this joined edge's certificate requests go to the CA node again"));
      assert.deepEqual(joinedEdge.lines.filter((line) => line.msg === "config reload refused; keeping the running config").map((line) => line.error), []);
      // Its first report after the outage cleared the stop.
      await withDeadline("j1's row to say it runs", (async () => {
        while ((await store.edges.list()).find((edge) => edge.name === "j1")?.stoppedAt !== null) await new Promise((resolve) => setTimeout(resolve, 250));
      })(), 60_000);
    } finally {
      if (isPaused) await server!.resume();
    }
  });

  test("moat ca revoke of a joined edge's certificate: the CA node publishes its revocations and CRL in the store, the joined edge writes them to its data directory and replaces the revoked certificate at once, through a new CSR", { timeout: 120_000 }, async () => {
    const port = Number(joinedEdge!.lines.find((line) => line.msg === "edge listening")!.httpsPort);
    const before = await presentedCertificate(port, ca.bundlePem, "site.test");
    const serialHex = before.serialNumber.toLowerCase();
    const dispatcher = new Agent({ connect: { ca: ca.bundlePem, timeout: 10_000 }, headersTimeout: 60_000, bodyTimeout: 60_000 });
    try {
      const token = (await readFile(join(dir, "admin.token"), "utf8")).trim();
      const revoked = await request(new URL(`/certificates/${serialHex}/revoke`, apiUrl), { dispatcher, method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ reason: "keyCompromise" }) });
      const text = await revoked.body.text();
      assert.equal(revoked.statusCode, 200, text);
    } finally {
      await dispatcher.close();
    }
    await withDeadline("the CA node to publish its revocations", caNode!.waitForLine("revocations published", (line) => line.msg === "revocations and CRL published for joined edges" && Number(line.revoked) >= 1), 30_000);
    await withDeadline("the joined edge to take them", joinedEdge!.waitForLine("revocations taken", (line) => line.msg === "the CA node published revocations: replacing revoked certificates in use"), 30_000);
    const after = await withDeadline(
      "the joined edge to present another certificate",
      (async () => {
        for (;;) {
          const presented = await presentedCertificate(port, ca.bundlePem, "site.test");
          if (presented.serialNumber !== before.serialNumber) return presented;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })(),
      60_000,
    );
    assert.ok(after.checkIssued(new X509Certificate(await readFile(join(caDir(), "ca", "intermediate.pem"), "utf8"))), "signed by the CA node");
    const registry = JSON.parse(await readFile(join(edgeDir(), "ca", "revoked.json"), "utf8")) as { serialHex: string; reason: string }[];
    assert.deepEqual(registry.filter((entry) => entry.serialHex === serialHex).map((entry) => entry.reason), ["keyCompromise"]);
    // The CRL the CA node signed after the revocation, byte for byte: what a trust store of Moat's CA names for viewer mTLS.
    // (The CA node may publish the registry a pass before the CRL it signs for it: the edge takes each.)
    await withDeadline(
      "the joined edge's CRL bundle to be the CA node's",
      (async () => {
        while ((await readFile(join(edgeDir(), "ca", "crl-bundle.pem"), "utf8").catch(() => "")) !== (await readFile(join(caDir(), "ca", "crl-bundle.pem"), "utf8"))) await new Promise((resolve) => setTimeout(resolve, 250));
      })(),
      30_000,
    );
    assert.match(await readFile(join(edgeDir(), "ca", "crl-bundle.pem"), "utf8"), /-----BEGIN X509 CRL-----/);
    // And each CRL under its issuer's serial, as the CA node files them: what a CRL Distribution Point names, served on
    // the joined edge's plain-HTTP port too (written just after the bundle, hence the wait).
    const issuerCrls = async (dataDir: string) => {
      const names = (await readdir(join(dataDir, "ca", "crls")).catch(() => [] as string[])).sort();
      return Promise.all(names.map(async (name) => `${name}:${(await readFile(join(dataDir, "ca", "crls", name))).toString("base64")}`));
    };
    await withDeadline(
      "the joined edge's CRLs to be filed as the CA node's",
      (async () => {
        while (JSON.stringify(await issuerCrls(edgeDir())) !== JSON.stringify(await issuerCrls(caDir()))) await new Promise((resolve) => setTimeout(resolve, 250));
      })(),
      30_000,
    );
    assert.ok((await issuerCrls(edgeDir())).length >= 2, "the intermediate's CRL and the root's");
    const answer = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/" });
    assert.equal(answer.status, 200);
    // Still no CA key on the joined edge: it took public data only.
    for (const file of ["root.key", "intermediate.key"]) assert.equal(existsSync(join(edgeDir(), "ca", file)), false);
  });
});

/** The 43 random characters of `moat_join_<id>_<secret>`: base64url, so they may hold "_" themselves (a split on "_" can leave a two-letter fragment that any listing may contain by chance). */
function joinSecretPart(token: string): string {
  const secret = /^moat_join_[0-9a-f]{16}_([A-Za-z0-9_-]{43})$/.exec(token)?.[1];
  assert.ok(secret, `not a join token: ${token.slice(0, 10)}…`);
  return secret;
}
