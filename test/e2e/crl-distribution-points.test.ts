// CRL Distribution Points end to end: the edge's plain-HTTP port serves each issuer's CRL at the URL its certificates carry, and OpenSSL, fetching it by itself, sees a revocation made with `moat ca revoke`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRedirectListener } from "../../src/edge/viewers/redirect-listener.ts";
import type { EdgeSnapshot } from "../../src/edge/snapshot/edge-snapshot.ts";
import { DEFAULT_CA_ROTATION_POLICY, initCertificateAuthority, openCertificateAuthority, publishCrl, renewIntermediate } from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../src/pki/index.ts";
import { runMoat } from "../cli/moat-process.ts";
import { createTestMasterKey, type TestMasterKey } from "../support/master-key.ts";

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

/** GET (or HEAD) over real HTTP, with a deadline. */
function get(port: number, path: string, method = "GET"): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, timeout: 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** Runs `openssl` with a deadline; never throws on a non-zero exit (the test reads it). */
function openssl(args: string[]): Promise<{ code: number; output: string }> {
  // OpenSSL's HTTP client honours http_proxy: the CRL is on loopback, so no proxy may be in the way.
  const env: NodeJS.ProcessEnv = { ...process.env, no_proxy: "127.0.0.1,localhost", NO_PROXY: "127.0.0.1,localhost" };
  for (const name of ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]) delete env[name];
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { timeout: 30_000, env }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: typeof error?.code === "number" ? error.code : 0, output: `${stdout}${stderr}` });
    });
  });
}

const hasOpenssl = await openssl(["version"]).then(
  (r) => r.code === 0,
  () => false,
);

describe("CRL Distribution Points, served by the edge and followed by OpenSSL", () => {
  let dir: string;
  let dataDir: string;
  let key: TestMasterKey;
  let server: http.Server;
  let port: number;
  let base: string;
  let first: CertificateAuthority;
  let renewed: CertificateAuthority;
  /** Issued by the first intermediate, which a renewal retired. */
  let oldLeaf: IssuedCertificate;
  /** Issued by the renewed intermediate. */
  let newLeaf: IssuedCertificate;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-cdp-e2e-"));
    dataDir = join(dir, "data");
    key = await createTestMasterKey();
    // The edge's plain-HTTP port first: the CA's base URL names it.
    const noDistribution = { distributionForHost: () => undefined } as unknown as EdgeSnapshot;
    server = createRedirectListener({ currentSnapshot: () => noDistribution, httpsPort: 8443, dataDir });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}/.well-known/moat/`;
    first = await initCertificateAuthority({ dataDir, masterKey: key.masterKey, crlBaseUrl: base });
    oldLeaf = await first.issueServerCertificate({ dnsNames: ["old.example.test"], validityMs: 86_400_000 });
    await renewIntermediate({ dataDir, masterKey: key.masterKey, clock: () => new Date(), policy: DEFAULT_CA_ROTATION_POLICY });
    renewed = await openCertificateAuthority({ dataDir, masterKey: key.masterKey });
    newLeaf = await renewed.issueServerCertificate({ dnsNames: ["new.example.test"], validityMs: 86_400_000 });
    await publishCrl({ ca: renewed, dataDir, masterKey: key.masterKey });
    await writeFile(join(dir, "root.pem"), renewed.rootPem);
    await writeFile(join(dir, "old-intermediate.pem"), first.intermediatePem);
    await writeFile(join(dir, "new-intermediate.pem"), renewed.intermediatePem);
    await writeFile(join(dir, "old-leaf.pem"), oldLeaf.certPem);
    await writeFile(join(dir, "new-leaf.pem"), newLeaf.certPem);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test("each issuer's CRL is served at the URL its certificates carry, DER, application/pkix-crl", async () => {
    const issuers = [renewed.rootPem, first.intermediatePem, renewed.intermediatePem];
    for (const issuer of issuers) {
      const path = `/.well-known/moat/crl/${serialOf(issuer)}.der`;
      const answer = await get(port, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.type, "application/pkix-crl");
      assert.ok(answer.body.equals(await readFile(join(dataDir, "ca", "crls", `${serialOf(issuer)}.der`))));
      const head = await get(port, path, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    }
    // The URL in the certificate is the one served.
    const text = (await openssl(["x509", "-noout", "-ext", "crlDistributionPoints", "-in", join(dir, "old-leaf.pem")])).output;
    if (hasOpenssl) assert.ok(text.includes(`${base}crl/${serialOf(first.intermediatePem)}.der`), text);
    // The old URLs still work.
    assert.equal((await get(port, "/.well-known/moat/crl.der")).status, 200);
    assert.equal((await get(port, "/.well-known/moat/crl-bundle.pem")).status, 200);
  });

  test("only a lower-case hex serial names a file: anything else is not served", async () => {
    assert.equal((await get(port, "/.well-known/moat/crl/0badcafe.der")).status, 404, "an unknown issuer");
    for (const path of [
      "/.well-known/moat/crl/../root.key",
      "/.well-known/moat/crl/..%2froot.key",
      "/.well-known/moat/crl/%2e%2e/intermediate.key",
      `/.well-known/moat/crl/${serialOf(renewed.rootPem).toUpperCase()}.der`,
      `/.well-known/moat/crl/${serialOf(renewed.rootPem)}.der/`,
      `/.well-known/moat/crl/${serialOf(renewed.rootPem)}.der?x=1`,
      "/.well-known/moat/crl/",
      "/.well-known/moat/constructor",
    ]) {
      const answer = await get(port, path);
      assert.notEqual(answer.status, 200, path);
      assert.doesNotMatch(answer.body.toString("latin1"), /PRIVATE KEY|ENCRYPTED/, path);
    }
  });

  test("openssl verify -crl_download fetches the CRLs itself: OK, then revoked after `moat ca revoke`", { skip: hasOpenssl ? false : "the openssl binary is missing" }, async () => {
    // -crl_check: the leaf's CRL, found by its CRL Distribution Point alone (no -CRLfile). Not -crl_check_all:
    // OpenSSL then wants a CRL for the self-signed root too, and a root carries no distribution point.
    const verify = (leaf: string, intermediate: string) =>
      openssl(["verify", "-crl_check", "-crl_download", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, intermediate), join(dir, leaf)]);
    for (const [leaf, intermediate] of [["old-leaf.pem", "old-intermediate.pem"], ["new-leaf.pem", "new-intermediate.pem"]] as const) {
      const before = await verify(leaf, intermediate);
      assert.equal(before.code, 0, before.output);
      assert.match(before.output, /: OK/);
    }

    const revoke = await runMoat(["ca", "revoke", oldLeaf.serialHex, "--reason", "keyCompromise", "--data-dir", dataDir], { cwd: dir, env: key.env });
    assert.equal(revoke.code, 0, revoke.stderr);

    // The leaf of the retired intermediate points at that intermediate's own CRL, which lists it now.
    const revoked = await verify("old-leaf.pem", "old-intermediate.pem");
    assert.notEqual(revoked.code, 0, revoked.output);
    assert.match(revoked.output, /certificate revoked/);
    const other = await verify("new-leaf.pem", "new-intermediate.pem");
    assert.equal(other.code, 0, other.output);
  });
});
