// Importing PEM certificates from another CA: every key format, what comes back, and that it works in a real TLS handshake.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { before, describe, test } from "node:test";
import tls from "node:tls";
import {
  createEphemeralCertificateAuthority,
  importCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../../../src/pki/index.ts";
import { handshake } from "../handshake.ts";
import { keyAs, originIdentity, PASSPHRASE, pemCerts, serverCert } from "./import-fixtures.ts";

const pem = (chainPem: string, keyPem: string) => ({ kind: "pem" as const, chainPem, keyPem });

describe("importing a PEM chain and key", () => {
  let ecCa: CertificateAuthority;
  let rsaCa: CertificateAuthority;
  let ecServer: IssuedCertificate;
  let rsaServer: IssuedCertificate;

  before(async () => {
    // Stand-ins for "another CA": Moat's ephemeral CA issues exactly what a foreign CA would hand out.
    [ecCa, rsaCa] = await Promise.all([
      createEphemeralCertificateAuthority({ name: "Other EC" }),
      createEphemeralCertificateAuthority({ name: "Other RSA", keyAlgorithm: "rsa-2048" }),
    ]);
    [ecServer, rsaServer] = await Promise.all([serverCert(ecCa, ["shop.example.test"]), serverCert(rsaCa, ["shop.example.test"])]);
  });

  const cases: [string, () => { chainPem: string; keyPem: string; passphrase?: string }][] = [
    ["PKCS#8", () => ({ chainPem: ecServer.chainPem, keyPem: ecServer.keyPem })],
    ["SEC1 EC", () => ({ chainPem: ecServer.chainPem, keyPem: keyAs(ecServer, "sec1") })],
    ["PKCS#1 RSA", () => ({ chainPem: rsaServer.chainPem, keyPem: keyAs(rsaServer, "pkcs1") })],
    ["encrypted PKCS#8", () => ({ chainPem: ecServer.chainPem, keyPem: keyAs(ecServer, "pkcs8", "aes-256-cbc"), passphrase: PASSPHRASE })],
    ["legacy encrypted SEC1 (Proc-Type: 4,ENCRYPTED)", () => ({ chainPem: ecServer.chainPem, keyPem: keyAs(ecServer, "sec1", "aes-256-cbc"), passphrase: PASSPHRASE })],
    ["legacy encrypted PKCS#1 (DES-EDE3-CBC)", () => ({ chainPem: rsaServer.chainPem, keyPem: keyAs(rsaServer, "pkcs1", "des-ede3-cbc"), passphrase: PASSPHRASE })],
  ];
  for (const [name, input] of cases) {
    test(`reads the ${name} key and returns it as unencrypted PKCS#8`, async () => {
      const { chainPem, keyPem, passphrase } = input();
      const imported = await importCertificate({ use: "viewer-server", source: pem(chainPem, keyPem), passphrase, now: new Date() });
      assert.match(imported.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      const issued = chainPem === ecServer.chainPem ? ecServer : rsaServer;
      assert.equal(new X509Certificate(pemCerts(imported.chainPem)[0] ?? "").checkPrivateKey(createPrivateKey(imported.keyPem)), true);
      assert.equal(imported.fingerprint256, new X509Certificate(issued.certPem).fingerprint256);
    });
  }

  test("returns the leaf's log-safe facts, and the chain leaf first with each block ending in a newline", async () => {
    const imported = await importCertificate({ use: "viewer-server", source: pem(ecServer.chainPem, ecServer.keyPem), now: new Date() });
    assert.equal(imported.serialHex, ecServer.serialHex);
    assert.equal(imported.subject, "CN=shop.example.test");
    assert.equal(imported.issuer, "CN=Other EC Intermediate CA, O=Other EC");
    assert.deepEqual(imported.sans, ["DNS:shop.example.test", "IP Address:127.0.0.1"]);
    assert.deepEqual([imported.notBefore, imported.notAfter], [ecServer.notBefore, ecServer.notAfter]);
    assert.equal(imported.chainPem, ecServer.chainPem);
  });

  test("drops a self-signed root at the end of the chain (peers hold it already), keeping leaf and intermediate", async () => {
    const withRoot = ecServer.chainPem + ecCa.rootPem;
    const imported = await importCertificate({ use: "viewer-server", source: pem(withRoot, ecServer.keyPem), trustedCaPem: ecCa.bundlePem, now: new Date() });
    assert.deepEqual(pemCerts(imported.chainPem), pemCerts(ecServer.chainPem));
  });

  test("ignores CRLF line endings, text around the blocks and a passphrase given for an unencrypted key", async () => {
    const messy = `subject=CN=shop.example.test\r\n${ecServer.chainPem.replace(/\n/g, "\r\n")}trailing words\r\n`;
    const imported = await importCertificate({ use: "viewer-server", source: pem(messy, ecServer.keyPem), passphrase: "unused", now: new Date() });
    assert.equal(imported.chainPem, ecServer.chainPem);
  });

  test("accepts the root given as trustedCaPem, and an intermediate-first bundle as trustedCaPem", async () => {
    const source = pem(ecServer.chainPem, ecServer.keyPem);
    await importCertificate({ use: "viewer-server", source, trustedCaPem: ecCa.bundlePem, now: new Date() });
    await importCertificate({ use: "viewer-server", source, trustedCaPem: ecCa.intermediatePem + ecCa.rootPem, now: new Date() });
  });

  test("the imported key and chain make a secure context and complete mutual TLS on 127.0.0.1 with peers trusting the issuing CA", async () => {
    const client = await ecCa.issueOriginClientCertificate(originIdentity);
    const now = new Date();
    const viewer = await importCertificate({ use: "viewer-server", source: pem(rsaServer.chainPem, keyAs(rsaServer, "pkcs1")), now });
    const origin = await importCertificate({ use: "origin-client", source: pem(client.chainPem, keyAs(client, "sec1")), now });
    tls.createSecureContext({ key: viewer.keyPem, cert: viewer.chainPem });
    tls.createSecureContext({ key: origin.keyPem, cert: origin.chainPem });
    const result = await handshake(
      { key: viewer.keyPem, cert: viewer.chainPem, ca: ecCa.bundlePem },
      { ca: rsaCa.bundlePem, cert: origin.chainPem, key: origin.keyPem, servername: "shop.example.test" },
    );
    assert.equal(result.isAccepted, true, String(result.serverError ?? result.clientError));
    assert.equal(result.clientSans, "URI:spiffe://moat.internal/distribution/shop/origin/api");
  });
});
