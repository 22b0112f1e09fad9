// `moat start --store --api` with two workers: invalidations, rotations and revocations made through the admin API reach the running edge without a restart.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { callApi } from "../../control/admin-api-client.ts";
import type { ApiAnswer, CallOptions } from "../../control/admin-api-client.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import { config, presentedSerial } from "../store-api-edge-scene.ts";
import type { RunningMoat } from "../moat-process.ts";

describe("moat start --store --api: the certificate, CA and invalidation routes against a running edge", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let originHits = 0;
  let edge: RunningMoat;
  let port: number;
  let apiUrl: string;
  const tokens: Record<"viewer" | "operator" | "admin", string> = { viewer: "", operator: "", admin: "" };
  /** Every answer of the API in this suite: none may carry a key. */
  const answers: ApiAnswer[] = [];
  const api = async (role: keyof typeof tokens, path: string, options?: CallOptions) => {
    const answer = await callApi(apiUrl, ca.bundlePem, { token: tokens[role] }, path, options);
    answers.push(answer);
    return answer;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-api-pki-edge-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        originHits += 1;
        res.setHeader("cache-control", "max-age=3600");
        res.end(`hit ${originHits}`);
      },
    });
    await writeFile(join(dir, "moat.yaml"), config(origin.url));
    const moat = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: key.env }), 60_000);
    const store = join(dir, "data");
    const applied = await moat(["apply", "-f", join(dir, "moat.yaml"), "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    for (const role of ["viewer", "operator", "admin"] as const) {
      const created = await moat(["token", "create", "--role", role, "--name", `${role}-e2e`, "--store", store]);
      assert.equal(created.code, 0, created.stderr);
      tokens[role] = created.stdout.trim();
    }
    edge = startMoat(["start", "--store", store, "--api", "127.0.0.1:0"], { cwd: tmpdir(), env: key.env, detached: true });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
    apiUrl = String((await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
  });

  after(async () => {
    if (edge?.child.pid && isGroupAlive(edge.child.pid)) {
      process.kill(edge.child.pid, "SIGTERM");
      await withDeadline("the edge to exit", edge.exited, 60_000).catch(() => edge.kill());
    }
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
    for (const answer of answers) assert.doesNotMatch(answer.text, /PRIVATE KEY/);
  });

  const get = () => viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: "site.test", host: "site.test", path: "/page" });

  /** Polls fresh handshakes (round-robin: both workers) until four in a row present another serial than `old`; returns it. */
  async function newSerialPresented(old: string, what: string): Promise<string> {
    return withDeadline(
      what,
      (async () => {
        for (let inARow = 0, seen = ""; ; ) {
          const serial = await presentedSerial(port, ca.bundlePem);
          if (serial !== old && (seen === "" || serial === seen)) {
            seen = serial;
            if (++inARow === 4) return serial;
          } else {
            inARow = 0;
            seen = "";
            await sleep(100);
          }
        }
      })(),
      30_000,
    );
  }

  test("an invalidation through the API is applied by every worker: the cached object is fetched from the origin again", { timeout: 60_000 }, async () => {
    // Each worker keeps its own memory tier: after a few fresh connections both hold the object, and nothing more reaches the origin.
    for (let i = 0; i < 4; i++) assert.equal((await get()).status, 200);
    const cachedHits = originHits;
    assert.ok(cachedHits >= 1 && cachedHits <= 2, `origin hits while filling: ${cachedHits}`);
    for (let i = 0; i < 4; i++) await get();
    assert.equal(originHits, cachedHits, "served from cache");

    const created = await api("operator", "/invalidations", { method: "POST", body: { distribution: "site", paths: ["/page"] } });
    assert.equal(created.status, 202, created.text);
    const applied = await withDeadline(
      "every worker to apply the invalidation",
      (async () => {
        for (;;) {
          const status = await api("viewer", `/invalidations/${created.json.id}`);
          if (status.json.status === "applied") return status;
          await sleep(50);
        }
      })(),
      20_000,
    );
    // Recorded in the store once both workers applied it, under the edge's name (no --edge-name: the host name).
    assert.deepEqual(applied.json.edges.map((item: { edge: string; status: string }) => [item.edge, item.status]), [[hostname(), "applied"]]);
    const after = await get();
    assert.equal(originHits, cachedHits + 1, "the first request after the invalidation is a miss");
    assert.equal(after.body, `hit ${cachedHits + 1}`);
  });

  test("rotate through the API: the edge presents a new serial, which the API lists as active; revoke it: the CRL lists it and the edge replaces it", { timeout: 90_000 }, async () => {
    const old = await presentedSerial(port, ca.bundlePem);
    const listed = await api("viewer", "/certificates?distribution=site&use=viewer-server&state=active");
    assert.deepEqual(listed.json.items.map((item: { serialHex: string }) => item.serialHex), [old]);

    const asked = await api("operator", `/certificates/${old}/rotate`, { method: "POST" });
    assert.equal(asked.status, 202, asked.text);
    const rotated = await newSerialPresented(old, "the edge to present the rotated certificate");
    const active = await api("viewer", "/certificates?distribution=site&use=viewer-server&state=active");
    assert.deepEqual(active.json.items.map((item: { serialHex: string }) => item.serialHex), [rotated]);
    assert.equal((await api("viewer", `/certificates/${old}`)).json.state, "retired");

    const revoked = await api("admin", `/certificates/${rotated}/revoke`, { method: "POST", body: { reason: "keyCompromise" } });
    assert.equal(revoked.status, 200, revoked.text);
    const crl = await api("viewer", "/ca/crl?format=pem");
    assert.match(crl.text, /BEGIN X509 CRL/);
    assert.deepEqual(revoked.json.crl.revokedSerials, [rotated]);
    const replacement = await newSerialPresented(rotated, "the edge to replace the revoked certificate");
    assert.notEqual(replacement, old);
  });

  test("each role is refused (403) what it may not do; an invalid PEM or a mismatched key is refused (400) and the data directory is unchanged", { timeout: 60_000 }, async () => {
    const serial = (await api("viewer", "/certificates?distribution=site&use=viewer-server&state=active")).json.items[0].serialHex;
    const refusals: [keyof typeof tokens, string, CallOptions][] = [
      ["viewer", `/certificates/${serial}/rotate`, { method: "POST" }],
      ["viewer", "/invalidations", { method: "POST", body: { distribution: "site", paths: ["/page"] } }],
      ["operator", `/certificates/${serial}/revoke`, { method: "POST", body: { reason: "superseded" } }],
      ["operator", "/certificates", { method: "POST", body: { name: "x", use: "viewer-server", chainPem: "x", keyPem: "x" } }],
      ["operator", "/ca/renew-intermediate", { method: "POST", body: {} }],
      ["operator", "/ca/rollover/prepare", { method: "POST", body: {} }],
    ];
    for (const [role, path, options] of refusals) {
      const answer = await api(role, path, options);
      assert.equal(answer.status, 403, `${role} ${options.method} ${path}: ${answer.text}`);
      assert.equal(answer.json.code, "api-forbidden");
    }
    const certsBefore = (await readdir(join(dir, "data", "certs"), { recursive: true })).sort();
    const other = await initCertificateAuthority({ dataDir: join(dir, "partner"), masterKey: key.masterKey, name: "Partner" });
    const leaf = await other.issueServerCertificate({ dnsNames: ["site.test"], validityMs: 3_600_000 });
    const stranger = await other.issueServerCertificate({ dnsNames: ["site.test"], validityMs: 3_600_000 });
    const invalid = await api("admin", "/certificates", { method: "POST", body: { name: "site-ev", use: "viewer-server", chainPem: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", keyPem: leaf.keyPem, distribution: "site" } });
    assert.equal(invalid.status, 400, invalid.text);
    assert.equal(invalid.json.code, "import-pem-malformed");
    const mismatched = await api("admin", "/certificates", { method: "POST", body: { name: "site-ev", use: "viewer-server", chainPem: leaf.chainPem + other.rootPem, keyPem: stranger.keyPem, distribution: "site" } });
    assert.equal(mismatched.status, 400, mismatched.text);
    assert.equal(mismatched.json.code, "import-key-mismatch");
    assert.deepEqual((await readdir(join(dir, "data", "certs"), { recursive: true })).sort(), certsBefore);
  });

  test("import through the API, then name it in the distribution: the edge serves the imported certificate within a poll", { timeout: 60_000 }, async () => {
    const partner = await initCertificateAuthority({ dataDir: join(dir, "partner-2"), masterKey: key.masterKey, name: "Partner Two" });
    const leaf = await partner.issueServerCertificate({ dnsNames: ["site.test"], validityMs: 3_600_000 });
    const imported = await api("admin", "/certificates", { method: "POST", body: { name: "site-ev", use: "viewer-server", chainPem: leaf.chainPem + partner.rootPem, keyPem: leaf.keyPem, distribution: "site" } });
    assert.equal(imported.status, 201, imported.text);
    const site = await api("operator", "/distributions/site");
    const changed = await api("operator", "/distributions/site", { method: "PUT", headers: { "if-match": String(site.headers.etag) }, body: { ...site.json.document, viewerCertificate: { imported: "site-ev" } } });
    assert.equal(changed.status, 200, changed.text);
    const served = await withDeadline(
      "the edge to serve the imported certificate",
      (async () => {
        // Every worker swaps on its own: the new certificate on several connections in a row (the primary hands
        // them out in turn) before a request may count on it, not on the first worker to swap.
        for (let inARow = 0; ; ) {
          const serial = await presentedSerial(port, partner.bundlePem).catch(() => "");
          inARow = serial === leaf.serialHex ? inARow + 1 : 0;
          if (inARow >= 4) return serial;
          if (inARow === 0) await sleep(100);
        }
      })(),
      30_000,
    );
    assert.equal(served, leaf.serialHex);
    assert.equal((await viewerRequestWithSni(port, { caPem: partner.bundlePem, servername: "site.test", host: "site.test", path: "/page" })).status, 200);
    assert.deepEqual((await api("viewer", `/certificates/${leaf.serialHex}`)).json.usedBy, [{ as: "viewer-server", distribution: "site" }]);
  });
});
