// `moat dist|origin|truststore|revisions|token|context` over a real admin API (TLS 1.3 on loopback, SQLite), as real processes: exact output, refusals on one line.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import type { TestContext } from "node:test";
import { createEphemeralCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { useAdminApi } from "../../control/admin-api-harness.ts";
import type { Harness } from "../../control/admin-api-harness.ts";
import { sqliteEngine } from "../../sdk/sqlite-engine.ts";
import { runMoat, startMoat } from "../moat-process.ts";
import type { MoatRun } from "../moat-process.ts";
import { withDeadline } from "../../support/deadline.ts";

const suite = useAdminApi(sqliteEngine);
let otherCa: CertificateAuthority;
before(async () => {
  otherCa = await createEphemeralCertificateAuthority();
});

/** Every API setting a test's shell might carry, unset: only what a test passes decides. */
const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "" };

interface Workspace {
  api: Harness;
  dir: string;
  caFile: string;
  tokenFile: Record<"viewer" | "operator" | "admin", string>;
  /** MOAT_API, MOAT_API_CA, MOAT_TOKEN_FILE for a role, as the demo prints them; the contexts file is the test's own. */
  env(role?: "viewer" | "operator" | "admin", extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  moat(args: string[], env?: NodeJS.ProcessEnv): Promise<MoatRun>;
}

async function workspace(t: TestContext): Promise<Workspace> {
  const api = await suite.setUp(t);
  const dir = await mkdtemp(join(tmpdir(), "moat-api-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, "moat-ca.pem");
  await writeFile(caFile, suite.ca().bundlePem);
  const tokenFile = { viewer: join(dir, "viewer.token"), operator: join(dir, "operator.token"), admin: join(dir, "admin.token") };
  for (const role of ["viewer", "operator", "admin"] as const) await writeFile(tokenFile[role], `${api.tokens[role]}\n`, { mode: 0o600 });
  const env = (role: "viewer" | "operator" | "admin" = "admin", extra: NodeJS.ProcessEnv = {}) => ({
    ...CLEAN_ENV,
    MOAT_CONTEXTS: join(dir, "contexts.yaml"),
    MOAT_API: api.url,
    MOAT_API_CA: caFile,
    MOAT_TOKEN_FILE: tokenFile[role],
    ...extra,
  });
  const moat = (args: string[], runEnv: NodeJS.ProcessEnv = env()) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: runEnv }), 30_000);
  return { api, dir, caFile, tokenFile, env, moat };
}

const SHOP = {
  id: "shop",
  aliases: ["shop.example", "www.shop.example"],
  viewerMtls: { mode: "optional", trustStore: "partners" },
  origins: [
    { id: "a", url: "https://a.internal:8443" },
    { id: "b", url: "https://b.internal:8443", mtls: { clientCertificate: "none", trustedCa: "/etc/moat/b-ca.pem" } },
  ],
  behaviors: [{ path: "*", target: "a" }],
};
const BLOG = { id: "blog", aliases: ["blog.example"], origins: [{ id: "app", url: "https://blog.internal" }] };

/** A known state: trust store partners (v1), shop (v2), blog (v1), in four revisions. */
async function knownState(api: Harness): Promise<void> {
  await api.store.put("trustStore", "partners", { caBundle: "/etc/moat/partners.pem" }, { actor: "test" });
  await api.store.put("distribution", "shop", { ...SHOP, aliases: ["shop.example"] }, { actor: "test" });
  await api.store.put("distribution", "shop", SHOP, { actor: "test" });
  await api.store.put("distribution", "blog", BLOG, { actor: "test" });
}

/** A loopback port nothing listens on: one a server had, then gave back. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function assertOk(run: MoatRun): void {
  assert.equal(run.code, 0, `exit ${run.code}\nstderr: ${run.stderr}\nstdout: ${run.stdout}`);
}

test("tables and --json for a known state are exact: dist list, dist show, origin list, truststore list, revisions", async (t) => {
  const w = await workspace(t);
  await knownState(w.api);
  const viewer = w.env("viewer");

  const list = await w.moat(["dist", "list"], viewer);
  assertOk(list);
  assert.equal(list.stderr, "");
  assert.equal(
    list.stdout,
    `ID    VERSION  ALIASES                         ORIGINS
blog  1        blog.example                    app
shop  2        shop.example, www.shop.example  a, b
`,
  );
  const listJson = await w.moat(["dist", "list", "--json"], viewer);
  assert.deepEqual(JSON.parse(listJson.stdout), [
    { id: "blog", version: 1, revision: 4, document: BLOG },
    { id: "shop", version: 2, revision: 3, document: SHOP },
  ]);

  const show = await w.moat(["dist", "show", "blog"], viewer);
  assert.equal(
    show.stdout,
    `# distribution blog: version 1 (revision 4)
id: blog
aliases:
  - blog.example
origins:
  - id: app
    url: https://blog.internal
`,
  );
  assert.deepEqual(JSON.parse((await w.moat(["dist", "show", "shop", "--json"], viewer)).stdout), { id: "shop", version: 2, revision: 3, document: SHOP });

  const origins = await w.moat(["origin", "list", "--dist", "shop"], viewer);
  assert.equal(
    origins.stdout,
    `ID  URL                      CLIENT CERT  TRUSTED CA
a   https://a.internal:8443  moat         moat
b   https://b.internal:8443  none         /etc/moat/b-ca.pem
`,
  );
  assert.deepEqual(JSON.parse((await w.moat(["origin", "list", "--dist", "shop", "--json"], viewer)).stdout), SHOP.origins);

  const stores = await w.moat(["truststore", "list"], viewer);
  assert.equal(
    stores.stdout,
    `NAME      VERSION  CA BUNDLE               CRLS
partners  1        /etc/moat/partners.pem  -
`,
  );

  const revisions = await w.api.store.revisions(10);
  const width = Math.max(...revisions.map((record) => record.createdAt.length));
  const expected = [
    `REVISION  ${"TIME".padEnd(width)}  ACTOR  CHANGE`,
    ...revisions.map((record) => `${String(record.revision).padEnd(8)}  ${record.createdAt.padEnd(width)}  test   ${record.summary}`),
  ].join("\n");
  const log = await w.moat(["revisions"], viewer);
  assert.equal(log.stdout, `${expected}\n`);
  assert.deepEqual(JSON.parse((await w.moat(["revisions", "--json", "--limit", "2"], viewer)).stdout), revisions.slice(0, 2));
  // `moat store log` asks the API when no store is named.
  assert.equal((await w.moat(["store", "log"], viewer)).stdout, `${expected}\n`);
});

test("the demo's form, MOAT_API=… MOAT_API_CA=… MOAT_TOKEN_FILE=… npm run moat -- dist list, works", async (t) => {
  const w = await workspace(t);
  await knownState(w.api);
  const run = startMoat(["dist", "list"], { cwd: w.dir, env: w.env("viewer"), launcher: "npm run" });
  const exit = await withDeadline("npm run moat -- dist list", run.exited, 60_000);
  assert.equal(exit.code, 0, run.stderr());
  assert.match(run.stdout(), /^ID {4}VERSION {2}ALIASES {25}ORIGINS\nblog {2}1 {8}blog\.example {20}app\nshop /m);
});

test("create, replace (at the version read, or --if-match) and delete; a stale --if-match prints the 412's reason, exits 1 and changes nothing", async (t) => {
  const w = await workspace(t);
  const operator = w.env("operator");
  const file = join(w.dir, "shop.yaml");
  await writeFile(file, "id: shop\naliases: [shop.example]\norigins:\n  - { id: app, url: https://app.internal:8443 }\n");
  const created = await w.moat(["dist", "create", "-f", file], operator);
  assertOk(created);
  assert.equal(created.stdout, "Created distribution shop: version 1 (revision 1).\n");

  await writeFile(file, "id: shop\naliases: [shop.example, www.shop.example]\norigins:\n  - { id: app, url: https://app.internal:8443 }\n");
  const replaced = await w.moat(["dist", "replace", "-f", file], operator);
  assertOk(replaced);
  assert.equal(replaced.stdout, "Replaced distribution shop: version 2 (revision 2).\n");
  assert.deepEqual(((await w.api.store.get("distribution", "shop"))?.document as { aliases: string[] }).aliases, ["shop.example", "www.shop.example"]);

  const before = await w.api.store.read();
  const stale = await w.moat(["dist", "replace", "-f", file, "--if-match", "1"], operator);
  assert.equal(stale.code, 1);
  assert.equal(stale.stdout, "");
  assert.equal(
    stale.stderr,
    "moat: the admin API refused PUT /distributions/shop (412, store-version-conflict): distribution shop is version 2, not version 1 as the change assumed: someone else changed it first. Fix: read it again, re-apply your change to what is there now, and send it with the new version\n",
  );
  assert.deepEqual(await w.api.store.read(), before, "nothing changed");

  const current = await w.moat(["dist", "replace", "-f", file, "--if-match", '"2"', "--json"], operator);
  assertOk(current);
  assert.deepEqual(JSON.parse(current.stdout).version, 3);

  const staleDelete = await w.moat(["dist", "delete", "shop", "--if-match", "2"], operator);
  assert.equal(staleDelete.code, 1);
  assert.match(staleDelete.stderr, /^moat: the admin API refused DELETE \/distributions\/shop \(412, store-version-conflict\): distribution shop is version 3, not version 2/);
  const deleted = await w.moat(["dist", "delete", "shop"], operator);
  assertOk(deleted);
  assert.equal(deleted.stdout, "Deleted distribution shop (it was version 3).\n");
  assert.equal(await w.api.store.get("distribution", "shop"), undefined);

  // Trust stores: put creates, then replaces at the version read; relative paths are made absolute against the file.
  const partners = join(w.dir, "partners.yaml");
  await writeFile(partners, "caBundle: ./partners-ca.pem\n");
  assert.equal((await w.moat(["truststore", "put", "partners", "-f", partners], operator)).stdout, "Created trust store partners: version 1 (revision 5).\n");
  assert.equal(((await w.api.store.get("trustStore", "partners"))?.document as { caBundle: string }).caBundle, join(w.dir, "partners-ca.pem"));
  assert.equal((await w.moat(["truststore", "put", "partners", "-f", partners], operator)).stdout, "Replaced trust store partners: version 2 (revision 6).\n");
  assert.match((await w.moat(["truststore", "show", "partners"], operator)).stdout, /^# trust store partners: version 2 \(revision 6\)\ncaBundle: \//);
  assert.equal((await w.moat(["truststore", "delete", "partners", "--if-match", "2"], operator)).stdout, "Deleted trust store partners (it was version 2).\n");
});

test("a viewer token is refused a write on one clear line; an invalid file names each path; neither changes anything", async (t) => {
  const w = await workspace(t);
  await knownState(w.api);
  const before = await w.api.store.read();
  const file = join(w.dir, "new.yaml");
  await writeFile(file, "id: news\naliases: [news.example]\norigins: [{ id: app, url: https://news.internal }]\n");
  const refused = await w.moat(["dist", "create", "-f", file], w.env("viewer"));
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, "");
  assert.equal(refused.stderr.split("\n").length, 2, "one line");
  assert.match(
    refused.stderr,
    /^moat: the admin API refused POST \/distributions \(403, api-forbidden\): token [0-9a-f]{16} \(viewer-test, viewer\) may not do this: the role viewer may not POST \/distributions \(it needs operator or above\)\. Fix: /,
  );

  await writeFile(file, "id: news\naliases: [news.example]\norigins: [{ id: app, url: ftp://news.internal }]\norgins: []\n");
  const invalid = await w.moat(["dist", "create", "-f", file], w.env("operator"));
  assert.equal(invalid.code, 1);
  assert.equal(invalid.stderr.split("\n").length, 2, "one line");
  assert.match(invalid.stderr, /^moat: the admin API refused POST \/distributions \(400, api-request-invalid\): the request body is not valid: origins\[0\]\.url: [^;]+; orgins: unknown key \(did you mean "origins"\?\)/);

  // Valid alone, invalid with the rest: a second distribution with shop's alias.
  await writeFile(file, "id: news\naliases: [shop.example]\norigins: [{ id: app, url: https://news.internal }]\n");
  const clash = await w.moat(["dist", "create", "-f", file], w.env("operator"));
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /^moat: the admin API refused POST \/distributions \(422, config-invalid\): the change would make the config invalid .*: distributions\[\d\]\.aliases\[0\]: /);
  assert.deepEqual(await w.api.store.read(), before);

  const usage = await w.moat(["dist", "replace", "-f", file, "--if-match", "three"], w.env("operator"));
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, 'moat: dist replace: --if-match must be a version, a whole number as `show` prints it (got "three").\n');
});

test("a CA bundle that did not issue the API's certificate fails verification: exit 1, one line, no request reaches the API", async (t) => {
  const w = await workspace(t);
  const wrongCa = join(w.dir, "other-ca.pem");
  await writeFile(wrongCa, otherCa.bundlePem);
  const run = await w.moat(["dist", "list"], w.env("viewer", { MOAT_API_CA: wrongCa }));
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, new RegExp(`^moat: cannot reach the admin API at ${w.api.url.replace(/\./g, "\\.")}: its TLS certificate does not verify against the CA bundle given \\(`));
  assert.equal(run.stderr.split("\n").length, 2);
  // With no CA bundle at all, the system's roots do not know Moat's CA either.
  const noCa = await w.moat(["dist", "list"], w.env("viewer", { MOAT_API_CA: "" }));
  assert.equal(noCa.code, 1);
  assert.match(noCa.stderr, /does not verify against the CA bundle given/);
  assert.ok(!w.api.logs.some((line) => line.includes("admin API request")), "no request reached the API");
});

test("flags > environment > context; contexts are written 0600 and name files, never a token", async (t) => {
  const w = await workspace(t);
  await knownState(w.api);
  const contextsFile = join(w.dir, "contexts.yaml");
  const none = { ...CLEAN_ENV, MOAT_CONTEXTS: contextsFile };
  // A context for each role; the first saved becomes current.
  assertOk(await w.moat(["context", "set", "as-viewer", "--api", w.api.url, "--api-ca", w.caFile, "--token-file", w.tokenFile.viewer], none));
  assertOk(await w.moat(["context", "set", "as-operator", "--api", w.api.url, "--api-ca", w.caFile, "--token-file", w.tokenFile.operator], none));
  assert.equal((await stat(contextsFile)).mode & 0o777, 0o600);
  const text = await readFile(contextsFile, "utf8");
  assert.ok(!text.includes(w.api.tokens.viewer) && !text.includes(w.api.tokens.operator), "no token in the contexts file");
  const listed = await w.moat(["context", "list"], none);
  assert.match(listed.stdout, /^CURRENT +NAME +API +CA +CREDENTIALS\n\* +as-viewer +https:\/\/127\.0\.0\.1:\d+ +\S+moat-ca\.pem +token \S+viewer\.token\n +as-operator /);

  const file = join(w.dir, "news.yaml");
  await writeFile(file, "id: news\naliases: [news.example]\norigins: [{ id: app, url: https://news.internal }]\n");
  const whoMade = async () => (await w.api.store.revisions(1))[0]?.actor;
  const tokenId = (role: "viewer" | "operator" | "admin") => w.api.tokens[role].slice(5, 21);

  // The current context (a viewer) is refused; --context picks the operator's.
  assert.match((await w.moat(["dist", "create", "-f", file], none)).stderr, /403, api-forbidden/);
  assertOk(await w.moat(["dist", "create", "-f", file, "--context", "as-operator"], none));
  assert.equal(await whoMade(), `api:token/${tokenId("operator")}`);
  // MOAT_CONTEXT picks one too; the environment's token wins over the context's; a flag wins over the environment.
  assertOk(await w.moat(["dist", "delete", "news"], { ...none, MOAT_CONTEXT: "as-operator" }));
  assertOk(await w.moat(["dist", "create", "-f", file], { ...none, MOAT_TOKEN_FILE: w.tokenFile.admin }));
  assert.equal(await whoMade(), `api:token/${tokenId("admin")}`);
  assertOk(await w.moat(["dist", "delete", "news", "--token-file", w.tokenFile.operator], { ...none, MOAT_TOKEN_FILE: w.tokenFile.viewer }));
  assert.equal(await whoMade(), `api:token/${tokenId("operator")}`);
  // MOAT_TOKEN, the token itself, is the environment's too.
  assertOk(await w.moat(["token", "list"], { ...none, MOAT_TOKEN: w.api.tokens.admin }));
  // --api beats MOAT_API, which beats the context's: a wrong one in a lower layer is never tried.
  const closed = `https://127.0.0.1:${await closedPort()}`;
  assertOk(await w.moat(["dist", "list", "--api", w.api.url], { ...none, MOAT_API: closed }));
  assert.ok((await w.moat(["dist", "list"], { ...none, MOAT_API: closed })).stderr.startsWith(`moat: cannot reach the admin API at ${closed}: ECONNREFUSED`));

  assertOk(await w.moat(["context", "use", "as-operator"], none));
  assert.match((await w.moat(["context", "list"], none)).stdout, /\n\* +as-operator /);
  const unknown = await w.moat(["dist", "list", "--context", "nope"], none);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /there is no context "nope" \(--context\) in .*contexts\.yaml; there are: as-viewer, as-operator\./);
  const both = await w.moat(["dist", "list", "--token-file", w.tokenFile.viewer, "--cert", w.caFile, "--key", w.caFile], none);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--token-file and --cert are both set: give a token or an admin certificate, not both/);
  const noToken = await w.moat(["dist", "list", "--token", "x"], none);
  assert.equal(noToken.code, 2, "there is no --token flag");
});

test("token create, list and revoke over the API; --store still goes to the store itself", async (t) => {
  const w = await workspace(t);
  const created = await w.moat(["token", "create", "--role", "viewer", "--name", "ci-read", "--expires-in", "1d"], w.env("admin"));
  assertOk(created);
  const secret = created.stdout.trim();
  assert.match(secret, /^moat_[0-9a-f]{16}_\S+$/);
  const id = secret.slice(5, 21);
  assert.match(created.stderr, new RegExp(`^Created token ${id} \\(ci-read, role viewer\\)`));
  assert.equal((await w.api.store.tokens.get(id))?.createdBy, `api:token/${w.api.tokens.admin.slice(5, 21)}`);

  const listed = await w.moat(["token", "list", "--json"], w.env("admin"));
  const tokens = JSON.parse(listed.stdout) as { id: string; name: string }[];
  assert.deepEqual(tokens.map((token) => token.name).sort(), ["admin-test", "ci-read", "operator-test", "viewer-test"]);
  assert.ok(!listed.stdout.includes(secret.slice(22)), "no secret listed");
  const table = await w.moat(["token", "list"], w.env("admin"));
  assert.match(table.stdout, /^ID +NAME +ROLE +CREATED +EXPIRES +LAST USED +REVOKED\n/);
  assert.equal(table.stdout.split("\n").length, 6);

  const operatorRefused = await w.moat(["token", "list"], w.env("operator"));
  assert.equal(operatorRefused.code, 1);
  assert.match(operatorRefused.stderr, /refused GET \/tokens \(403, api-forbidden\)/);

  const revoked = await w.moat(["token", "revoke", id], w.env("admin"));
  assertOk(revoked);
  assert.match(revoked.stdout, new RegExp(`^Token ${id} \\(ci-read\\) is revoked since `));
  const tokenFile = join(w.dir, "ci.token");
  await writeFile(tokenFile, secret);
  assert.match((await w.moat(["dist", "list"], w.env("viewer", { MOAT_TOKEN_FILE: tokenFile }))).stderr, /\(401, api-unauthenticated\): .*was revoked/);

  // --store: the store itself, whatever MOAT_API says.
  const direct = await w.moat(["token", "list", "--store", w.api.address, "--json"], w.env("viewer"));
  assertOk(direct);
  assert.equal((JSON.parse(direct.stdout) as unknown[]).length, 4);
  const neither = await w.moat(["token", "list"], { ...CLEAN_ENV, MOAT_CONTEXTS: join(w.dir, "none.yaml") });
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /token list: which admin API\? give --store ADDRESS \(the store itself\) or --api URL/);
});
