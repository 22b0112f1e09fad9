// The admin API's certificate, CA and invalidation routes on a real data directory: what they answer, what each refusal leaves unchanged, and that no answer carries a key.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { x509 } from "../../src/pki/x509-lib.ts";
import pino from "pino";
import { runMoat } from "../cli/moat-process.ts";
import { startAdminApi, syncCertificateRecords } from "../../src/control/index.ts";
import {
  createEphemeralCertificateAuthority,
  createIssuedCertificateStore,
  isSealedPrivateKey,
  openCertificateAuthority,
  readRotationRequests,
  renewalTime,
  rotationRequestsPath,
  writeCaPublication,
} from "../../src/pki/index.ts";
import { callApi } from "./admin-api-client.ts";
import type { ApiAnswer } from "./admin-api-client.ts";
import { assertProblem, distribution, HARNESS_EDGE, snapshot, useAdminApi } from "./admin-api-harness.ts";
import type { EngineUnderTest, Harness } from "./admin-api-harness.ts";

const HOUR_MS = 3_600_000;

const engine: EngineUnderTest = {
  freshAddress: async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "moat-api-pki-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    return `sqlite:${join(dir, "moat.db")}`;
  },
  rawRows: async () => [],
};

/** Every file under the data directory with the SHA-256 of its contents: what a refused request must leave as it was. */
async function dataDirState(dataDir: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const file of (await readdir(dataDir, { recursive: true })).sort()) {
    const path = join(dataDir, file);
    if ((await stat(path)).isFile()) state[file] = createHash("sha256").update(await readFile(path)).digest("hex");
  }
  return state;
}

/** The answer must have the shape its route documents for the status it answered. */
function assertDocumented(api: Harness, method: string, path: string, answer: ApiAnswer): void {
  const pathname = path.split("?")[0] as string;
  const route = api.routes.find((candidate) => candidate.method === method && new RegExp(`^${candidate.url.replace(/:\w+/g, "[^/]+")}$`).test(pathname));
  const spec = route?.responses[answer.status];
  assert.ok(spec, `${method} ${path} answered ${answer.status}, which its route does not document: ${answer.text}`);
  if (spec.schema) {
    const parsed = spec.schema.safeParse(answer.json);
    assert.ok(parsed.success, `${method} ${path}: ${JSON.stringify(parsed.error?.issues)}`);
  }
  assert.doesNotMatch(answer.text, /PRIVATE KEY/, `${method} ${path} answered key material`);
}

/** The audit records of one action, oldest first, as an admin reads them through the API. */
async function auditRecords(api: Harness, action: string): Promise<Array<{ actor: string; resource: string; before: unknown; after: Record<string, unknown> }>> {
  const answer = await api.call({ token: api.tokens.admin }, `/audit?action=${action}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.json.items;
}

/** `api:token/<id>`: the actor a token's changes are recorded under (its id is the token's second part). */
const tokenActor = (token: string) => `api:token/${token.split("_")[1]}`;

/** Issues the leaves a running edge would hold for distribution `shop` (its viewer certificate, origin `app`'s client certificate). */
async function issueShopLeaves(api: Harness, options: { rotateSerials?: ReadonlySet<string> } = {}) {
  const ca = await openCertificateAuthority({ dataDir: api.dataDir, masterKey: api.masterKey });
  const store = createIssuedCertificateStore({ ca, dataDir: api.dataDir, masterKey: api.masterKey, ...options });
  const viewer = await store.serverCertificate({ name: "viewer-shop", dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
  const client = await store.originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "app", validityMs: 24 * HOUR_MS });
  // As the edge does after every build: the store's records follow the data directory.
  await syncCertificateRecords({ store: api.store, edge: HARNESS_EDGE, dataDir: api.dataDir, now: new Date() });
  return { viewer, client };
}

describe("admin API: certificates, the CA and invalidations", () => {
  const suite = useAdminApi(engine);

  test("certificates are listed and shown by their public parts only, filtered by distribution, state and use, a page at a time", async (t) => {
    const api = await suite.setUp(t);
    const { viewer, client } = await issueShopLeaves(api);
    const reader = { token: api.tokens.viewer };
    const all = await api.call(reader, "/certificates");
    assertDocumented(api, "GET", "/certificates", all);
    const items = all.json.items as { serialHex: string; use: string; name: string; state: string; usedBy: unknown[]; spiffeId: string | null }[];
    assert.deepEqual(items.map((item) => item.use).sort(), ["intermediate-ca", "origin-client", "root-ca", "viewer-server"]);
    const byUse = (use: string) => items.find((item) => item.use === use)!;
    assert.equal(byUse("viewer-server").serialHex, viewer.serialHex);
    assert.deepEqual(byUse("viewer-server").usedBy, [{ as: "viewer-server", distribution: "shop" }]);
    assert.deepEqual(byUse("origin-client").usedBy, [{ as: "origin-client", distribution: "shop", origin: "app" }]);
    assert.equal(byUse("origin-client").spiffeId, "spiffe://moat.internal/distribution/shop/origin/app");
    assert.ok(items.every((item) => !("file" in item)), "no path of the data directory in an answer");

    const shop = await api.call(reader, "/certificates?distribution=shop");
    assert.deepEqual((shop.json.items as { serialHex: string }[]).map((item) => item.serialHex).sort(), [client.serialHex, viewer.serialHex].sort());
    assert.equal((await api.call(reader, "/certificates?distribution=blog")).json.items.length, 0);
    assert.deepEqual((await api.call(reader, "/certificates?use=origin-client&state=active")).json.items.map((item: { serialHex: string }) => item.serialHex), [client.serialHex]);

    const first = await api.call(reader, "/certificates?limit=3");
    assert.equal(first.json.items.length, 3);
    const rest = await api.call(reader, `/certificates?limit=3&cursor=${first.json.nextCursor}`);
    assert.equal(rest.json.items.length, 1);
    assert.equal(rest.json.nextCursor, undefined);
    assert.deepEqual([...first.json.items, ...rest.json.items].map((item: { serialHex: string }) => item.serialHex).sort(), items.map((item) => item.serialHex).sort());

    // A serial as OpenSSL prints it (upper case, colons) names the same certificate.
    const colons = viewer.serialHex.toUpperCase().match(/../g)!.join(":");
    const one = await api.call(reader, `/certificates/${colons}`);
    assertDocumented(api, "GET", `/certificates/${colons}`, one);
    assert.equal(one.json.serialHex, viewer.serialHex);
    assert.equal(one.json.fingerprint256, viewer.fingerprint256);
    assert.deepEqual(one.json.sans, ["DNS:shop.example"]);
    assert.equal(one.json.notAfter, viewer.notAfter.toISOString());
    // When Moat renews it: its renewal time at the default pki.renewAtFraction (2/3), the edge's own computation.
    assert.equal(one.json.renewsAt, renewalTime(viewer, 2 / 3).toISOString());
    assertProblem(await api.call(reader, "/certificates/0badc0de"), 404, "api-not-found");
    assertProblem(await api.call(reader, "/certificates/not-hex"), 400, "api-request-invalid");
    assertProblem(await api.call(reader, "/certificates?state=lost"), 400, "api-request-invalid");
  });

  test("import: a chain and key from another CA are checked, then kept with the key sealed under the master key; each refusal names what is wrong and changes nothing", async (t) => {
    const api = await suite.setUp(t);
    const admin = { token: api.tokens.admin };
    assert.equal((await api.call(admin, "/distributions", { method: "POST", body: distribution("shop", "shop.example") })).status, 201);
    const other = await createEphemeralCertificateAuthority({ name: "Partner" });
    const good = await other.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: 24 * HOUR_MS });
    const body = (overrides: Record<string, unknown> = {}) => ({ name: "shop-ev", use: "viewer-server", chainPem: good.chainPem + other.rootPem, keyPem: good.keyPem, distribution: "shop", ...overrides });

    const elsewhere = await other.issueServerCertificate({ dnsNames: ["other.example"], validityMs: 24 * HOUR_MS });
    const expired = await other.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: HOUR_MS, notBefore: new Date(Date.now() - 3 * HOUR_MS), notAfter: new Date(Date.now() - HOUR_MS) });
    const refusals: [string, Record<string, unknown>, number, string, RegExp][] = [
      ["not PEM", { chainPem: "hello" }, 400, "import-pem-malformed", /PEM/],
      ["a key of another certificate", { keyPem: elsewhere.keyPem }, 400, "import-key-mismatch", /key/],
      ["an expired certificate", { chainPem: expired.chainPem + other.rootPem, keyPem: expired.keyPem }, 400, "import-expired", /expired/],
      ["names that do not cover the distribution's aliases", { chainPem: elsewhere.chainPem + other.rootPem, keyPem: elsewhere.keyPem }, 400, "import-names-not-covered", /shop\.example/],
      ["a distribution that does not exist", { distribution: "blog" }, 400, "api-request-invalid", /no distribution "blog"/],
      ["a name that is not an id", { name: "../etc" }, 400, "api-request-invalid", /name/],
      ["a key sent in the wrong field (it is not repeated)", { use: good.keyPem }, 400, "api-request-invalid", /use: must be .*a PEM block, not repeated here/],
    ];
    for (const [what, overrides, status, code, detail] of refusals) {
      const before = { files: await dataDirState(api.dataDir), store: await snapshot(api.store) };
      const answer = await api.call(admin, "/certificates", { method: "POST", body: body(overrides) });
      assertProblem(answer, status, code);
      assert.match(answer.json.detail, detail, what);
      assert.doesNotMatch(answer.text, /PRIVATE KEY/, what);
      assert.deepEqual(await dataDirState(api.dataDir), before.files, `${what}: the data directory changed`);
      assert.deepEqual(await snapshot(api.store), before.store, `${what}: the store changed`);
    }
    // Operators may not import.
    assertProblem(await api.call({ token: api.tokens.operator }, "/certificates", { method: "POST", body: body() }), 403, "api-forbidden");

    const imported = await api.call(admin, "/certificates", { method: "POST", body: body() });
    assertDocumented(api, "POST", "/certificates", imported);
    assert.equal(imported.status, 201, imported.text);
    assert.equal(imported.json.serialHex, good.serialHex);
    assert.equal(imported.json.source, "imported");
    assert.equal(imported.json.state, "active");
    assert.equal(imported.json.renewsAt, null, "an imported certificate is renewed where it came from, not by Moat");
    assert.equal(imported.headers.location, `/certificates/${good.serialHex}`);
    const keyFile = join(api.dataDir, "certs", "imported", "viewer-server", "shop-ev", good.serialHex, "key.pem");
    assert.ok(isSealedPrivateKey(await readFile(keyFile, "utf8")), "the key is stored sealed under the master key");
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal((await api.call({ token: api.tokens.viewer }, `/certificates/${good.serialHex}`)).json.name, "shop-ev");
    const imports = await auditRecords(api, "certificate.import");
    assert.deepEqual(imports.map((record) => [record.actor, record.resource, record.after.use, record.after.serialHex]), [[tokenActor(api.tokens.admin), `certificate/${good.serialHex}`, "viewer-server", good.serialHex]]);
    assert.doesNotMatch(JSON.stringify(imports), /PRIVATE KEY|BEGIN/, "the trail holds what identifies the certificate, never its PEM or key");

    // A distribution serves it by its name; the certificate then says where it is used.
    const site = await api.call(admin, "/distributions/shop");
    const served = await api.call(admin, "/distributions/shop", { method: "PUT", headers: { "if-match": String(site.headers.etag) }, body: { ...site.json.document, viewerCertificate: { imported: "shop-ev" } } });
    assert.equal(served.status, 200, served.text);
    assert.deepEqual((await api.call({ token: api.tokens.viewer }, `/certificates/${good.serialHex}`)).json.usedBy, [{ as: "viewer-server", distribution: "shop" }]);
    assert.deepEqual((await api.call({ token: api.tokens.viewer }, "/certificates?distribution=shop")).json.items.map((item: { serialHex: string }) => item.serialHex), [good.serialHex]);
  });

  test("rotate now: an operator asks, the store re-issues the leaf at its next build; imported, CA and unknown certificates are refused (409)", async (t) => {
    const api = await suite.setUp(t);
    const { viewer } = await issueShopLeaves(api);
    const rootSerial = new X509Certificate(suite.ca().rootPem).serialNumber.toLowerCase();
    assertProblem(await api.call({ token: api.tokens.viewer }, `/certificates/${viewer.serialHex}/rotate`, { method: "POST" }), 403, "api-forbidden");
    const before = await dataDirState(api.dataDir);
    for (const serial of [rootSerial, "0badc0de"]) {
      const refused = await api.call({ token: api.tokens.operator }, `/certificates/${serial}/rotate`, { method: "POST" });
      assertProblem(refused, 409, "certificate-not-rotatable");
    }
    assert.deepEqual(await dataDirState(api.dataDir), before);

    const asked = await api.call({ token: api.tokens.operator }, `/certificates/${viewer.serialHex}/rotate`, { method: "POST" });
    assertDocumented(api, "POST", `/certificates/${viewer.serialHex}/rotate`, asked);
    assert.equal(asked.status, 202, asked.text);
    assert.equal(asked.json.wasAlreadyRequested, false);
    const again = await api.call({ token: api.tokens.operator }, `/certificates/${viewer.serialHex}/rotate`, { method: "POST" });
    assert.equal(again.json.wasAlreadyRequested, true);
    assert.deepEqual((await readRotationRequests(api.dataDir)).map((request) => request.serialHex), [viewer.serialHex]);
    const requests = await auditRecords(api, "certificate.rotate-request");
    assert.deepEqual(requests.map((record) => [record.actor, record.resource]), [[tokenActor(api.tokens.operator), `certificate/${viewer.serialHex}`]], "asked once: one record");

    // What the edge does on the file's change: build with the requested serials as due.
    const rotateSerials = new Set((await readRotationRequests(api.dataDir)).map((request) => request.serialHex));
    const rebuilt = await issueShopLeaves(api, { rotateSerials });
    assert.notEqual(rebuilt.viewer.serialHex, viewer.serialHex, "a new viewer certificate");
    const states = await api.call({ token: api.tokens.viewer }, "/certificates?use=viewer-server");
    assert.deepEqual(
      (states.json.items as { serialHex: string; state: string }[]).map((item) => [item.serialHex, item.state]).sort(),
      [[rebuilt.viewer.serialHex, "active"], [viewer.serialHex, "retired"]].sort(),
    );
    // The retired one is no longer in use: asking to rotate it is refused, and the request file forgets it at the next write.
    assertProblem(await api.call({ token: api.tokens.operator }, `/certificates/${viewer.serialHex}/rotate`, { method: "POST" }), 409, "certificate-not-rotatable");
    await api.call({ token: api.tokens.operator }, `/certificates/${rebuilt.client.serialHex}/rotate`, { method: "POST" });
    assert.deepEqual((await readRotationRequests(api.dataDir)).map((request) => request.serialHex), [rebuilt.client.serialHex]);
    assert.match(await readFile(rotationRequestsPath(api.dataDir), "utf8"), new RegExp(rebuilt.client.serialHex));
  });

  test("revoke: admins only; recorded with its reason and in the CRL (PEM and DER) at once; again changes nothing; a bad reason or the CA's own serial is refused", async (t) => {
    const api = await suite.setUp(t);
    const { viewer } = await issueShopLeaves(api);
    const path = `/certificates/${viewer.serialHex}/revoke`;
    assertProblem(await api.call({ token: api.tokens.operator }, path, { method: "POST", body: { reason: "keyCompromise" } }), 403, "api-forbidden");
    const before = await dataDirState(api.dataDir);
    const badReason = await api.call({ token: api.tokens.admin }, path, { method: "POST", body: { reason: "certificateHold" } });
    assertProblem(badReason, 400, "api-request-invalid");
    assert.match(badReason.json.errors[0].message, /final/);
    const rootSerial = new X509Certificate(suite.ca().rootPem).serialNumber.toLowerCase();
    assertProblem(await api.call({ token: api.tokens.admin }, `/certificates/${rootSerial}/revoke`, { method: "POST", body: { reason: "superseded" } }), 400, "revocation-invalid");
    assert.deepEqual(await dataDirState(api.dataDir), before);

    const revoked = await api.call({ token: api.tokens.admin }, path, { method: "POST", body: { reason: "key-compromise" } });
    assertDocumented(api, "POST", path, revoked);
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual([revoked.json.revocation.reason, revoked.json.wasAlreadyRevoked, revoked.json.isKnown], ["keyCompromise", false, true]);
    assert.equal((await api.call({ token: api.tokens.viewer }, `/certificates/${viewer.serialHex}`)).json.renewsAt, null, "a revoked certificate is not renewed");
    assert.deepEqual(revoked.json.crl.revokedSerials, [viewer.serialHex]);
    const der = await api.call({ token: api.tokens.viewer }, "/ca/crl?format=der");
    assert.equal(der.headers["content-type"], "application/pkix-crl");
    const pem = await api.call({ token: api.tokens.viewer }, "/ca/crl?format=pem");
    assert.match(String(pem.headers["content-type"]), /^application\/x-pem-file/);
    const crl = new x509.X509Crl(pem.text);
    assert.deepEqual(crl.entries.map((entry) => entry.serialNumber.toLowerCase()), [viewer.serialHex]);
    assert.equal(crl.entries[0]?.reason, x509.X509CrlReason.keyCompromise);
    const bundle = await api.call({ token: api.tokens.viewer }, "/ca/crl");
    assert.equal(bundle.text.match(/BEGIN X509 CRL/g)?.length, 2, "the intermediate's CRL and the root's");
    assert.equal((await api.call({ token: api.tokens.viewer }, `/certificates/${viewer.serialHex}`)).json.state, "revoked");

    const again = await api.call({ token: api.tokens.admin }, path, { method: "POST", body: { reason: "superseded" } });
    assert.deepEqual([again.json.wasAlreadyRevoked, again.json.revocation.reason, again.json.crl.crlNumber], [true, "keyCompromise", revoked.json.crl.crlNumber]);

    // In the audit trail once, under the admin's token; the refused and the repeated revocation recorded nothing.
    const revocations = await auditRecords(api, "certificate.revoke");
    assert.deepEqual(revocations.map((record) => [record.actor, record.resource, record.after.reason]), [[tokenActor(api.tokens.admin), `certificate/${viewer.serialHex}`, "keyCompromise"]]);
    const crls = await auditRecords(api, "crl.publish");
    assert.deepEqual(crls.map((record) => record.after.crlNumber), [revoked.json.crl.crlNumber]);
  });

  test("the CA: status, bundle, and the rotation steps (admins only), each answered with the status after it", async (t) => {
    const api = await suite.setUp(t);
    const viewer = { token: api.tokens.viewer };
    const status = await api.call(viewer, "/ca");
    assertDocumented(api, "GET", "/ca", status);
    assert.deepEqual(status.json.certificates.map((entry: { role: string }) => entry.role), ["active root", "active intermediate"]);
    assert.equal(status.json.rollover, null);
    assert.equal(status.json.bundleRoots, 1);
    assert.equal(status.json.crlBaseUrl, null, "no CRL publication URL unless one is set");
    await writeCaPublication(api.dataDir, { crlBaseUrl: "http://edge.example.test/.well-known/moat/" });
    assert.equal((await api.call(viewer, "/ca")).json.crlBaseUrl, "http://edge.example.test/.well-known/moat/");
    const admin = { token: api.tokens.admin };
    assertProblem(await api.call({ token: api.tokens.operator }, "/ca/publication", { method: "PUT", body: { crlBaseUrl: null } }), 403, "api-forbidden");
    const refused = await api.call(admin, "/ca/publication", { method: "PUT", body: { crlBaseUrl: "https://edge.example.test/" } });
    assertProblem(refused, 400, "crl-base-url-invalid");
    assert.match(refused.text, /scheme is https, not http/);
    const set = await api.call(admin, "/ca/publication", { method: "PUT", body: { crlBaseUrl: "http://crl.example.test/moat" } });
    assertDocumented(api, "PUT", "/ca/publication", set);
    assert.equal(set.json.crlBaseUrl, "http://crl.example.test/moat/");
    assert.equal((await api.call(admin, "/ca/publication", { method: "PUT", body: { crlBaseUrl: null } })).json.crlBaseUrl, null);
    await api.call(admin, "/ca/publication", { method: "PUT", body: { crlBaseUrl: null } }); // no change: no record
    const publications = await auditRecords(api, "ca.publication");
    assert.deepEqual(
      publications.map((r) => [r.resource, r.before, r.after]),
      [
        ["ca/publication", { crlBaseUrl: "http://edge.example.test/.well-known/moat/" }, { crlBaseUrl: "http://crl.example.test/moat/" }],
        ["ca/publication", { crlBaseUrl: "http://crl.example.test/moat/" }, { crlBaseUrl: null }],
      ],
    );
    const bundle = await api.call(viewer, "/ca/bundle");
    assert.equal(bundle.text, await readFile(join(api.dataDir, "ca", "bundle.pem"), "utf8"));
    assert.equal(bundle.headers["content-type"], "application/pem-certificate-chain");
    assert.equal((await api.call(viewer, "/ca/bundle?intermediates=true")).text.match(/BEGIN CERTIFICATE/g)?.length, 2);

    for (const role of ["viewer", "operator"] as const) {
      for (const url of ["/ca/renew-intermediate", "/ca/rollover/prepare", "/ca/rollover/activate", "/ca/rollover/finish"]) {
        assertProblem(await api.call({ token: api.tokens[role] }, url, { method: "POST", body: {} }), 403, "api-forbidden");
      }
    }
    const oldIntermediate = status.json.certificates[1].serialHex;
    const renewed = await api.call(admin, "/ca/renew-intermediate", { method: "POST", body: { validity: "30d" } });
    assertDocumented(api, "POST", "/ca/renew-intermediate", renewed);
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(renewed.json.reissuesLeaves, true);
    const roles = (answer: ApiAnswer) => answer.json.status.certificates.map((entry: { role: string; serialHex: string }) => [entry.role, entry.serialHex]);
    assert.ok(roles(renewed).some(([role, serial]: [string, string]) => role === "retired intermediate (CRL still published)" && serial === oldIntermediate));
    const activeIntermediate = renewed.json.status.certificates.find((entry: { role: string }) => entry.role === "active intermediate");
    assert.ok(Date.parse(activeIntermediate.notAfter) - Date.parse(activeIntermediate.notBefore) <= 31 * 24 * HOUR_MS, "the validity asked for");

    assertProblem(await api.call(admin, "/ca/rollover/activate", { method: "POST", body: {} }), 409, "ca-rotation-refused");
    assertProblem(await api.call(admin, "/ca/rollover/prepare", { method: "POST", body: { overlap: "soon" } }), 400, "api-request-invalid");
    const prepared = await api.call(admin, "/ca/rollover/prepare", { method: "POST", body: { overlap: "1d" } });
    assert.equal(prepared.status, 200, prepared.text);
    assert.equal(prepared.json.status.bundleRoots, 2);
    assert.equal(prepared.json.status.rollover.phase, "prepared");
    assertProblem(await api.call(admin, "/ca/rollover/prepare", { method: "POST", body: {} }), 409, "ca-rotation-refused");
    const activated = await api.call(admin, "/ca/rollover/activate", { method: "POST", body: {} });
    assert.equal(activated.status, 200, activated.text);
    assert.equal(activated.json.status.rollover.phase, "activated");
    assert.equal((await api.call(viewer, "/ca")).json.certificates[0].serialHex, prepared.json.status.rollover.toRootSerial);

    // Each step that changed the CA is in the audit trail under the admin's token, the refused ones are not.
    const steps = await auditRecords(api, "ca.rotate");
    assert.deepEqual(steps.map((record) => [record.actor, record.resource]), [
      [tokenActor(api.tokens.admin), "ca/renew-intermediate"],
      [tokenActor(api.tokens.admin), "ca/prepare-root-rollover"],
      [tokenActor(api.tokens.admin), "ca/activate-root-rollover"],
    ]);
  });

  test("invalidations: recorded in the store in one transaction, refused with the words of `moat cache invalidate --store` (nothing written), with each edge's applied state", async (t) => {
    const api = await suite.setUp(t);
    const operator = { token: api.tokens.operator };
    await api.call({ token: api.tokens.admin }, "/distributions", { method: "POST", body: distribution("shop") });
    const before = await snapshot(api.store);
    assertProblem(await api.call({ token: api.tokens.viewer }, "/invalidations", { method: "POST", body: { distribution: "shop", paths: ["/a"] } }), 403, "api-forbidden");
    const badPath = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "shop", paths: ["/ok", "/img/*.png"] } });
    assertProblem(badPath, 400, "api-request-invalid");
    assert.deepEqual(badPath.json.errors.map((error: { path: string }) => error.path), ["paths[1]"]);
    assert.match(badPath.json.errors[0].message, /only at the end/);
    const unknown = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "blog", paths: ["/a"] } });
    assertProblem(unknown, 400, "api-request-invalid");
    assert.match(unknown.json.errors[0].message, /no distribution "blog" in the store .*\(there are: shop\)/);
    const empty = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "shop", paths: [] } });
    assertProblem(empty, 400, "api-request-invalid");
    // The CLI on the same store refuses each with the same words.
    for (const [answer, args] of [
      [badPath, ["/ok", "/img/*.png"]],
      [unknown, ["/a"]],
    ] as const) {
      const distributionId = answer === unknown ? "blog" : "shop";
      const run = await runMoat(["cache", "invalidate", "--store", api.address, "--distribution", distributionId, ...args], { cwd: api.dataDir });
      assert.equal(run.code, 2, run.stderr);
      assert.ok(run.stderr.includes(`cache invalidate: ${answer.json.errors[0].message}.`), `${run.stderr} vs ${answer.json.errors[0].message}`);
    }
    const cliEmpty = await runMoat(["cache", "invalidate", "--store", api.address, "--distribution", "shop"], { cwd: api.dataDir });
    assert.ok(cliEmpty.stderr.includes(`cache invalidate: ${empty.json.errors[0].message}.`), `${cliEmpty.stderr} vs ${empty.json.errors[0].message}`);
    const { store } = api;
    assert.deepEqual(await snapshot(store), before, "nothing recorded by a refusal, not even in the audit trail");
    assert.deepEqual(await store.invalidations.list({ limit: 10 }), []);

    const first = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "shop", paths: ["/index.html", "/img/*"] } });
    assertDocumented(api, "POST", "/invalidations", first);
    assert.equal(first.status, 202, first.text);
    assert.deepEqual([first.json.id, first.json.seq, first.json.status, first.json.edges], ["1", 1, "pending", []]);
    assert.match(first.json.actor, /^api:token\//);
    assert.equal(first.headers.location, "/invalidations/1");
    const second = await api.call(operator, "/invalidations", { method: "POST", body: { distribution: "shop", paths: ["*"] } });
    assert.equal(second.json.seq, 2);
    assert.equal(await store.revision(), before.revision, "no config revision: the edges do not reload for an invalidation");
    const audit = await store.audit.list({ limit: 10, after: before.audit.seq });
    assert.deepEqual(audit.map((record) => [record.action, record.resource]), [["invalidation.create", "invalidation/1"], ["invalidation.create", "invalidation/2"]]);

    // Two live edges (a heartbeat now) record what they applied (every worker of each); a third stopped an hour ago: silent, not waited for.
    const now = new Date().toISOString();
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const row = (name: string, lastSeenAt: string) => ({ name, revision: null, servedAt: null, lastSeenAt, startedAt: anHourAgo, version: "0.1.0", region: null, heartbeatMs: 10_000 });
    await store.edges.report(row("edge-a", now));
    await store.edges.report(row("edge-b", now));
    await store.edges.report(row("edge-c", anHourAgo));
    await store.invalidations.markApplied("edge-a", 2, new Date("2026-01-01T00:00:00.000Z"));
    await store.invalidations.markApplied("edge-b", 1, new Date("2026-01-01T00:00:01.000Z"));
    const one = await api.call({ token: api.tokens.viewer }, `/invalidations/${second.json.id}`);
    assertDocumented(api, "GET", `/invalidations/${second.json.id}`, one);
    assert.equal(one.json.status, "pending");
    assert.deepEqual(one.json.edges, [
      { edge: "edge-a", status: "applied", appliedAt: "2026-01-01T00:00:00.000Z", heartbeat: "live", lastSeenAt: now },
      { edge: "edge-b", status: "pending", appliedAt: null, heartbeat: "live", lastSeenAt: now },
      { edge: "edge-c", status: "not-waited-for", appliedAt: null, heartbeat: "silent", lastSeenAt: anHourAgo },
    ]);
    assert.equal((await api.call({ token: api.tokens.viewer }, `/invalidations/${first.json.id}`)).json.status, "applied");
    // The live edge applies it: done, though the silent one has not.
    await store.invalidations.markApplied("edge-b", 2, new Date("2026-01-01T00:00:02.000Z"));
    const done = await api.call({ token: api.tokens.viewer }, `/invalidations/${second.json.id}`);
    assert.equal(done.json.status, "applied");
    assert.deepEqual(done.json.edges.map((edge: { edge: string; status: string }) => [edge.edge, edge.status]), [["edge-a", "applied"], ["edge-b", "applied"], ["edge-c", "not-waited-for"]]);
    // An edge gone for more than a day and without this one is not listed; while no edge applied it, it is pending.
    await store.edges.report(row("edge-c", new Date(Date.now() - 25 * 3_600_000).toISOString()));
    assert.deepEqual((await api.call({ token: api.tokens.viewer }, `/invalidations/${second.json.id}`)).json.edges.map((edge: { edge: string }) => edge.edge), ["edge-a", "edge-b"]);
    assertProblem(await api.call({ token: api.tokens.viewer }, "/invalidations/99"), 404, "api-not-found");
    assertProblem(await api.call({ token: api.tokens.viewer }, "/invalidations/0123456789abcdef"), 400, "api-request-invalid");

    const page = await api.call({ token: api.tokens.viewer }, "/invalidations?limit=1");
    assertDocumented(api, "GET", "/invalidations?limit=1", page);
    assert.deepEqual(page.json.items.map((item: { seq: number }) => item.seq), [2]);
    const next = await api.call({ token: api.tokens.viewer }, `/invalidations?limit=1&cursor=${page.json.nextCursor}`);
    assert.deepEqual(next.json.items.map((item: { seq: number }) => item.seq), [1]);
    assert.equal(next.json.nextCursor, undefined);
  });

  test("started without a data directory, the API reads certificates from the store (every edge's) and invalidations, and the CA and certificate changes answer 503 saying how to start it with one", async (t) => {
    const api = await suite.setUp(t);
    const { viewer } = await issueShopLeaves(api);
    const bare = await startAdminApi({ store: api.store, ca: suite.ca(), listen: { host: "127.0.0.1", port: 0 }, logger: pino({ level: "silent" }) });
    t.after(() => bare.close());
    assert.equal((await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.viewer }, "/invalidations")).status, 200);
    const listed = await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.viewer }, `/certificates?edge=${HARNESS_EDGE}&use=viewer-server`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.items.map((item: { serialHex: string; edge: string }) => [item.serialHex, item.edge]), [[viewer.serialHex, HARNESS_EDGE]]);
    assert.equal((await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.viewer }, `/certificates/${viewer.serialHex}`)).json.edge, HARNESS_EDGE);
    assert.equal((await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.viewer }, "/certificates?edge=elsewhere")).json.items.length, 0);
    const revoke = await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.admin }, `/certificates/${viewer.serialHex}/revoke`, { method: "POST", body: { reason: "superseded" } });
    assertProblem(revoke, 503, "api-data-dir-unavailable");
    for (const path of ["/ca"]) {
      const answer = await callApi(bare.url, suite.ca().bundlePem, { token: api.tokens.viewer }, path);
      assertProblem(answer, 503, "api-data-dir-unavailable");
      assert.match(answer.json.detail, /moat start --store/);
    }
  });
});
