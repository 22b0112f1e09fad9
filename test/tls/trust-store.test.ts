// Trust stores load what OpenSSL can use and refuse, naming the entry, what it could not: non-CA certificates, expired CAs, malformed PEM, stale or foreign CRLs, a CA without its CRL.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { TrustStoreConfig } from "../../src/config/index.ts";
import { TrustStoreInvalidError } from "../../src/errors.ts";
import { loadTrustStore } from "../../src/tls/index.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCa } from "../support/viewer-pki.ts";

const HOUR_MS = 3_600_000;

describe("trust stores", () => {
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let partners: ViewerCa;
  let others: ViewerCa;

  before(async () => {
    files = await createFileDir();
    [partners, others] = await Promise.all([createViewerCa("Partner CA"), createViewerCa("Other CA")]);
  });
  after(() => files.remove());

  async function store(caBundle: string, crls: string[] = [], allowNoEku = false): Promise<TrustStoreConfig> {
    const caBundleFile = await files.write(`ca-${Math.random()}.pem`, caBundle);
    const crlFiles = await Promise.all(crls.map((crl, index) => files.write(`crl-${index}-${Math.random()}.crl`, crl)));
    return { name: "partners", caBundleFile, crlFiles, allowNoEku };
  }

  async function refusal(config: TrustStoreConfig, ...mentions: (string | RegExp)[]): Promise<TrustStoreInvalidError> {
    const error = await loadTrustStore(config, new Date()).then(
      () => assert.fail("expected the trust store to be refused"),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TrustStoreInvalidError, String(error));
    assert.equal(error.code, "trust-store-invalid");
    assert.ok(error.fix, "every refusal says how to fix it");
    for (const mention of mentions) {
      if (typeof mention === "string") assert.ok(error.message.includes(mention), `"${error.message}" should mention "${mention}"`);
      else assert.match(error.message, mention);
    }
    return error;
  }

  it("loads a bundle and its CRL, and knows which certificates the CRL lists", async () => {
    const [revoked, kept] = await Promise.all([partners.issue("valid", "revoked"), partners.issue("valid", "kept")]);
    const loaded = await loadTrustStore(await store(partners.certPem + others.certPem, [await partners.crl([revoked.serialHex]), await others.crl([])]), new Date());
    assert.deepEqual(loaded.caSubjects, [partners.subject, others.subject]);
    assert.equal(loaded.crlPems.length, 2);
    assert.equal(loaded.isRevoked(new X509Certificate(revoked.certPem)), true);
    assert.equal(loaded.isRevoked(new X509Certificate(kept.certPem)), false);
    // A certificate from the other CA with the same serial is not the revoked one: the issuer counts too.
    assert.equal(loaded.isRevoked(Buffer.from(new X509Certificate(kept.certPem).raw)), false);
  });

  it("names its set of CAs: the same CAs in any order give the same id, other CAs another", async () => {
    const a = await loadTrustStore(await store(partners.certPem + others.certPem), new Date());
    const b = await loadTrustStore(await store(others.certPem + partners.certPem), new Date());
    const c = await loadTrustStore(await store(partners.certPem), new Date());
    assert.equal(a.caSetId, b.caSetId);
    assert.notEqual(a.caSetId, c.caSetId);
  });

  it("refuses a viewer certificate in the bundle, naming its block", async () => {
    const leaf = await partners.issue("valid", "alice");
    await refusal(await store(partners.certPem + leaf.certPem), "trustStores.partners.caBundle", "PEM block 2", "CN=alice", "not a CA certificate");
  });

  it("refuses an expired CA", async () => {
    const expired = await createViewerCa("Expired CA", { notAfter: new Date(Date.now() - HOUR_MS) });
    await refusal(await store(partners.certPem + expired.certPem), "PEM block 2", "Expired CA", "expired at");
  });

  it("refuses malformed PEM: a cut block, bad base64, a private key, no PEM at all", async () => {
    const cut = partners.certPem.slice(0, partners.certPem.indexOf("-----END"));
    await refusal(await store(cut), "not valid PEM", "no matching END");
    const garbled = partners.certPem.replace(/\n([A-Za-z0-9+/]{10})/, "\n!!!!!!!!!!");
    await refusal(await store(garbled), "not valid PEM", "not base64");
    await refusal(await store(`${partners.certPem}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`), "PEM block 2 is a PRIVATE KEY");
    await refusal(await store("just some text\n"), "holds no PEM certificate");
    const notX509 = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    await refusal(await store(notX509), "PEM block 1 is not a valid X.509 certificate");
  });

  it("refuses a CRL that none of its CAs signed", async () => {
    await refusal(await store(partners.certPem, [await others.crl([])]), "trustStores.partners.crl", "not signed by any CA of caBundle", "Other CA");
  });

  it("refuses a stale CRL (OpenSSL would refuse every certificate against it)", async () => {
    const stale = await partners.crl([], { thisUpdate: new Date(Date.now() - 2 * HOUR_MS), nextUpdate: new Date(Date.now() - HOUR_MS) });
    await refusal(await store(partners.certPem, [stale]), "is stale", "nextUpdate");
  });

  it("refuses CRLs that leave a CA of the bundle without one, naming the CA", async () => {
    await refusal(await store(partners.certPem + others.certPem, [await partners.crl([])]), "no CRL signed by CA", "Other CA", "PEM block 2");
  });

  it("refuses a CRL file holding something else, and names which of several files", async () => {
    const config = await store(partners.certPem, [await partners.crl([]), partners.certPem]);
    await refusal(config, "trustStores.partners.crl[1]", "is a CERTIFICATE, not an X509 CRL");
  });

  it("reads a DER CRL", async () => {
    const pem = await partners.crl([]);
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, ""), "base64");
    const config = await store(partners.certPem);
    const derFile = await files.write("crl.der", "");
    await (await import("node:fs/promises")).writeFile(derFile, der);
    const loaded = await loadTrustStore({ ...config, crlFiles: [derFile] }, new Date());
    assert.equal(loaded.crlPems.length, 1);
    assert.match(loaded.crlPems[0] ?? "", /^-----BEGIN X509 CRL-----/);
  });

  it("names a file that cannot be read", async () => {
    await refusal({ name: "partners", caBundleFile: "/nonexistent/ca.pem", crlFiles: [], allowNoEku: false }, "/nonexistent/ca.pem", "cannot be read (ENOENT)");
  });
});
