// CRL Distribution Points: the CA's publication setting, the URL each kind of certificate carries (per issuer), and each issuer's CRL written under ca/crls/.
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { CaCorruptError, CrlBaseUrlInvalidError } from "../../src/errors.ts";
import {
  activateRootRollover,
  DEFAULT_CA_ROTATION_POLICY,
  generateMasterKey,
  initCertificateAuthority,
  openCertificateAuthority,
  parseCrlBaseUrl,
  prepareRootRollover,
  publishCrl,
  readCaPublication,
  readCaStatus,
  renewIntermediate,
  writeCaPublication,
} from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { x509 } from "../../src/pki/x509-lib.ts";

const masterKey = generateMasterKey();
const BASE = "http://crl.example.test:8080/.well-known/moat/";
const DAY_MS = 86_400_000;

async function tempDataDir(t: TestContext): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-cdp-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  return dataDir;
}

/** The URIs of a certificate's CRL Distribution Points extension; undefined when it has none. */
function cdpUrls(pem: string): string[] | undefined {
  const extension = new x509.X509Certificate(pem).getExtension(x509.CRLDistributionPointsExtension);
  if (!extension) return undefined;
  assert.equal(extension.critical, false, "RFC 5280 §4.2.1.13: the extension should be non-critical");
  // Array.from: the ASN.1 classes are Array subclasses, which deepStrictEqual tells apart from arrays.
  return Array.from(extension.distributionPoints).flatMap((point) => Array.from(point.distributionPoint?.fullName ?? [], (name) => name.uniformResourceIdentifier ?? "?"));
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

/** One leaf of every kind the CA issues: server (own key and a requester's key, as enrolment does), origin client, admin client. */
async function leavesOf(ca: CertificateAuthority) {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    server: (await ca.issueServerCertificate({ dnsNames: ["shop.example.test"], validityMs: DAY_MS })).certPem,
    "server for a requester's key": (await ca.signServerCertificate({ dnsNames: ["api.internal"], publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), validityMs: DAY_MS })).certPem,
    "origin client": (await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: DAY_MS })).certPem,
    admin: (await ca.issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "alice", validityMs: DAY_MS })).certPem,
  };
}

describe("parseCrlBaseUrl", () => {
  test("accepts an absolute http URL and makes it end in a slash", () => {
    assert.equal(parseCrlBaseUrl("http://edge.example.com/.well-known/moat"), "http://edge.example.com/.well-known/moat/");
    assert.equal(parseCrlBaseUrl("http://127.0.0.1:8080/.well-known/moat/"), "http://127.0.0.1:8080/.well-known/moat/");
    assert.equal(parseCrlBaseUrl("http://[::1]:8080/"), "http://[::1]:8080/");
  });

  for (const [url, problem] of [
    ["https://edge.example.com/.well-known/moat/", /scheme is https, not http .*without TLS/],
    ["ldap://ldap.example.com/", /scheme is ldap, not http/],
    ["/.well-known/moat/", /not an absolute URL/],
    ["edge.example.com/crl", /not an absolute URL/],
    ["http://user:secret@edge.example.com/", /user name or password/],
    ["http://edge.example.com/moat/?v=1", /query string/],
    ["http://edge.example.com/moat/#top", /fragment/],
    ["http://edge.example.com/moat/?", /query string/],
  ] as const) {
    test(`refuses ${url}, naming what is wrong`, () => {
      assert.throws(
        () => parseCrlBaseUrl(url),
        (error: unknown) => error instanceof CrlBaseUrlInvalidError && error.code === "crl-base-url-invalid" && error.message.includes(JSON.stringify(url)) && problem.test(error.message),
      );
    });
  }
});

describe("CRL Distribution Points in issued certificates", () => {
  test("none is set: no certificate carries the extension, and status says null", async (t) => {
    const dataDir = await tempDataDir(t);
    const ca = await initCertificateAuthority({ dataDir, masterKey });
    assert.equal(ca.crlBaseUrl, null);
    assert.equal(cdpUrls(ca.intermediatePem), undefined);
    for (const [kind, pem] of Object.entries(await leavesOf(ca))) assert.equal(cdpUrls(pem), undefined, kind);
    assert.deepEqual(await readCaPublication(dataDir), { crlBaseUrl: null });
    assert.equal((await readCaStatus(dataDir)).crlBaseUrl, null);
    await assert.rejects(stat(join(dataDir, "ca", "publication.json")), { code: "ENOENT" });
  });

  test("set at init: the intermediate points at the root's CRL, every kind of leaf at the intermediate's", async (t) => {
    const dataDir = await tempDataDir(t);
    await initCertificateAuthority({ dataDir, masterKey, crlBaseUrl: "http://crl.example.test:8080/.well-known/moat" });
    // Every issuing path opens the CA from disk, and reads the setting there.
    const ca = await openCertificateAuthority({ dataDir, masterKey });
    assert.equal(ca.crlBaseUrl, BASE);
    assert.deepEqual(cdpUrls(ca.intermediatePem), [`${BASE}crl/${serialOf(ca.rootPem)}.der`]);
    assert.equal(cdpUrls(ca.rootPem), undefined, "a trust anchor has no issuer CRL to point at");
    const expected = [`${BASE}crl/${serialOf(ca.intermediatePem)}.der`];
    for (const [kind, pem] of Object.entries(await leavesOf(ca))) assert.deepEqual(cdpUrls(pem), expected, kind);
    assert.equal((await readCaStatus(dataDir)).crlBaseUrl, BASE);
  });

  test("a bad URL at init is refused before anything is written", async (t) => {
    const dataDir = await tempDataDir(t);
    await assert.rejects(initCertificateAuthority({ dataDir, masterKey, crlBaseUrl: "https://edge.example.com/" }), CrlBaseUrlInvalidError);
    await assert.rejects(stat(join(dataDir, "ca")), { code: "ENOENT" });
  });

  test("set later: new leaves carry it, a renewed intermediate carries the root's; cleared: new ones carry none", async (t) => {
    const dataDir = await tempDataDir(t);
    const first = await initCertificateAuthority({ dataDir, masterKey });
    const before = (await leavesOf(first)).server;
    await writeCaPublication(dataDir, { crlBaseUrl: BASE });
    const reopened = await openCertificateAuthority({ dataDir, masterKey });
    assert.deepEqual(cdpUrls((await leavesOf(reopened)).server), [`${BASE}crl/${serialOf(first.intermediatePem)}.der`]);
    assert.equal(cdpUrls(before), undefined, "a certificate already issued is not changed");
    assert.equal(cdpUrls(reopened.intermediatePem), undefined, "the intermediate gets it when renewed");

    await renewIntermediate({ dataDir, masterKey, clock: () => new Date(), policy: DEFAULT_CA_ROTATION_POLICY });
    const renewed = await openCertificateAuthority({ dataDir, masterKey });
    assert.deepEqual(cdpUrls(renewed.intermediatePem), [`${BASE}crl/${serialOf(renewed.rootPem)}.der`]);
    for (const [kind, pem] of Object.entries(await leavesOf(renewed))) assert.deepEqual(cdpUrls(pem), [`${BASE}crl/${serialOf(renewed.intermediatePem)}.der`], kind);

    await writeCaPublication(dataDir, { crlBaseUrl: null });
    const cleared = await openCertificateAuthority({ dataDir, masterKey });
    assert.equal(cleared.crlBaseUrl, null);
    assert.equal(cdpUrls((await leavesOf(cleared)).admin), undefined);
  });

  test("a root rollover's new intermediate points at the new root's CRL", async (t) => {
    const dataDir = await tempDataDir(t);
    await initCertificateAuthority({ dataDir, masterKey, crlBaseUrl: BASE });
    const clock = () => new Date();
    await prepareRootRollover({ dataDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
    await activateRootRollover({ dataDir, masterKey, clock, policy: DEFAULT_CA_ROTATION_POLICY });
    const ca = await openCertificateAuthority({ dataDir, masterKey });
    assert.deepEqual(cdpUrls(ca.intermediatePem), [`${BASE}crl/${serialOf(ca.rootPem)}.der`]);
    // Every issuer still trusted has its CRL at its own URL: the new pair, the retired intermediate, the old root.
    await publishCrl({ ca, dataDir, masterKey });
    const files = (await readdir(join(dataDir, "ca", "crls"))).sort();
    const oldRoot = ca.bundlePem.split(/(?=-----BEGIN CERTIFICATE-----)/).find((pem) => serialOf(pem) !== serialOf(ca.rootPem))!;
    const expected = [ca.rootPem, ca.intermediatePem, oldRoot, ...ca.previousIntermediatePems].map((pem) => `${serialOf(pem)}.der`).sort();
    assert.deepEqual(files, expected);
  });

  test("a damaged publication.json makes the CA corrupt, naming the file", async (t) => {
    const dataDir = await tempDataDir(t);
    await initCertificateAuthority({ dataDir, masterKey });
    await writeFile(join(dataDir, "ca", "publication.json"), JSON.stringify({ crlBaseUrl: "https://x.example/" }));
    await assert.rejects(openCertificateAuthority({ dataDir, masterKey }), (error: unknown) => error instanceof CaCorruptError && /publication\.json is unreadable: .*scheme is https/.test(error.message));
  });
});

describe("each issuer's CRL under ca/crls/", () => {
  test("publishCrl writes the intermediate's and the root's CRL as <serial>.der, each signed by that issuer", async (t) => {
    const dataDir = await tempDataDir(t);
    const ca = await initCertificateAuthority({ dataDir, masterKey });
    const published = await publishCrl({ ca, dataDir, masterKey });
    const dir = join(dataDir, "ca", "crls");
    const intermediateCrl = await readFile(join(dir, `${serialOf(ca.intermediatePem)}.der`));
    assert.ok(intermediateCrl.equals(published.der), "the intermediate's CRL is crl.der");
    assert.ok(await new x509.X509Crl(intermediateCrl).verify({ publicKey: new x509.X509Certificate(ca.intermediatePem) }));
    const rootCrl = new x509.X509Crl(await readFile(join(dir, `${serialOf(ca.rootPem)}.der`)));
    assert.ok(await rootCrl.verify({ publicKey: new x509.X509Certificate(ca.rootPem) }));
    assert.equal((await stat(join(dir, `${serialOf(ca.rootPem)}.der`))).mode & 0o777, 0o644);

    // After a renewal, the retired intermediate's CRL is still published at its own URL, signed by it.
    await renewIntermediate({ dataDir, masterKey, clock: () => new Date(), policy: DEFAULT_CA_ROTATION_POLICY });
    const renewed = await openCertificateAuthority({ dataDir, masterKey });
    await publishCrl({ ca: renewed, dataDir, masterKey });
    const retired = new x509.X509Crl(await readFile(join(dir, `${serialOf(ca.intermediatePem)}.der`)));
    assert.ok(await retired.verify({ publicKey: new x509.X509Certificate(ca.intermediatePem) }));
    assert.equal((await readdir(dir)).length, 3);
  });
});
