// What Moat's CA puts into the certificates it issues: usages, names, chain, serials, validity, keys.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { before, describe, test } from "node:test";
import { CaExpiredError, CertificateRequestInvalidError, CertificateUnreadableError } from "../../src/errors.ts";
import {
  createEphemeralCertificateAuthority,
  describeCertificate,
  type CertificateAuthority,
} from "../../src/pki/index.ts";
import { x509 } from "../../src/pki/x509-lib.ts";

const HOUR_MS = 3_600_000;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const identity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: HOUR_MS };
const fixedNow = new Date("2030-01-01T00:00:00Z");

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

describe("origin client certificates", () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createEphemeralCertificateAuthority({ clock: () => fixedNow });
  });

  test("carry EKU clientAuth only and exactly one URI SAN, the SPIFFE ID", async () => {
    const issued = await ca.issueOriginClientCertificate(identity);
    const cert = new X509Certificate(issued.certPem);
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.equal(cert.subjectAltName, "URI:spiffe://moat.internal/distribution/shop/origin/api");
    assert.deepEqual(issued.sans, ["URI:spiffe://moat.internal/distribution/shop/origin/api"]);
    assert.equal(issued.subject, "CN=shop/api");
    assert.equal(cert.ca, false);
  });

  test("chain to the root: leaf ← intermediate ← root, and chainPem is leaf + intermediate", async () => {
    const issued = await ca.issueOriginClientCertificate(identity);
    const leaf = new X509Certificate(issued.certPem);
    const intermediate = new X509Certificate(ca.intermediatePem);
    const root = new X509Certificate(ca.rootPem);
    assert.equal(leaf.verify(intermediate.publicKey), true);
    assert.equal(leaf.checkIssued(intermediate), true);
    assert.equal(intermediate.verify(root.publicKey), true);
    assert.equal(leaf.verify(root.publicKey), false);
    assert.equal(root.verify(root.publicKey), true, "the root is self-signed");
    assert.equal(ca.bundlePem, ca.rootPem);
    const chain = pemBlocks(issued.chainPem).map((pem) => new X509Certificate(pem).fingerprint256);
    assert.deepEqual(chain, [leaf.fingerprint256, intermediate.fingerprint256]);
  });

  test("get a fresh key (and serial) at every call, and the key matches the certificate", async () => {
    const [a, b] = await Promise.all([ca.issueOriginClientCertificate(identity), ca.issueOriginClientCertificate(identity)]);
    assert.notEqual(a.keyPem, b.keyPem);
    assert.notEqual(a.serialHex, b.serialHex);
    assert.match(a.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(new X509Certificate(a.certPem).checkPrivateKey(createPrivateKey(a.keyPem)), true);
  });

  test("refuse ids that are not SPIFFE path segments or would escape a directory", async () => {
    for (const bad of [{ distributionId: "../etc" }, { originId: "a/b" }, { originId: "" }, { trustDomain: "Moat.Internal" }]) {
      await assert.rejects(ca.issueOriginClientCertificate({ ...identity, ...bad }), CertificateRequestInvalidError);
    }
  });
});

describe("server certificates", () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createEphemeralCertificateAuthority({ clock: () => fixedNow });
  });

  test("carry EKU serverAuth only, DNS and IP SANs, and CA:false", async () => {
    const issued = await ca.issueServerCertificate({
      dnsNames: ["Shop.Example.Test", "localhost"],
      ipAddresses: ["127.0.0.1", "0:0::1"],
      validityMs: HOUR_MS,
    });
    const cert = new X509Certificate(issued.certPem);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.equal(cert.ca, false);
    assert.deepEqual(issued.sans, ["DNS:shop.example.test", "DNS:localhost", "IP Address:127.0.0.1", "IP Address:::1"]);
    assert.equal(cert.checkHost("shop.example.test"), "shop.example.test");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(issued.subject, "CN=shop.example.test");
  });

  test("are backdated one minute and valid for validityMs from now, per the injected clock", async () => {
    const issued = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: HOUR_MS });
    assert.equal(issued.notBefore.getTime(), fixedNow.getTime() - 60_000);
    assert.equal(issued.notAfter.getTime(), fixedNow.getTime() + HOUR_MS);
  });

  test("take notBefore / notAfter overrides as given", async () => {
    const notBefore = new Date("2029-06-01T00:00:00Z");
    const notAfter = new Date("2029-06-02T00:00:00Z");
    const issued = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: HOUR_MS, notBefore, notAfter });
    assert.deepEqual([issued.notBefore, issued.notAfter], [notBefore, notAfter]);
  });

  test("never outlive the intermediate", async () => {
    const tenYearsMs = 10 * 365 * 24 * HOUR_MS;
    const issued = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: tenYearsMs });
    assert.deepEqual(issued.notAfter, new X509Certificate(ca.intermediatePem).validToDate);
  });

  test("have a random, positive, 16-byte serial", async () => {
    const issued = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: HOUR_MS });
    assert.match(issued.serialHex, /^[4-7][0-9a-f]{31}$/);
    assert.equal(issued.serialHex, new X509Certificate(issued.certPem).serialNumber.toLowerCase());
  });

  test("refuse bad names, no names, and a non-positive validity", async () => {
    const bad = [
      { dnsNames: ["bad name.test"], validityMs: HOUR_MS },
      { dnsNames: ["-x.test"], validityMs: HOUR_MS },
      { dnsNames: [], ipAddresses: ["300.1.1.1"], validityMs: HOUR_MS },
      { dnsNames: [], validityMs: HOUR_MS },
      { dnsNames: ["a.test"], validityMs: 0 },
      { dnsNames: ["a.test"], validityMs: HOUR_MS, notBefore: fixedNow, notAfter: fixedNow },
    ];
    for (const request of bad) await assert.rejects(ca.issueServerCertificate(request), CertificateRequestInvalidError);
  });

  test("can use another key algorithm than the CA's", async () => {
    const issued = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: HOUR_MS, keyAlgorithm: "ecdsa-p384" });
    assert.equal(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve, "secp384r1");
  });
});

test("a P-384 CA signs with ECDSA SHA-384", async () => {
  const ca = await createEphemeralCertificateAuthority({ keyAlgorithm: "ecdsa-p384" });
  const issued = await ca.issueOriginClientCertificate(identity);
  const leaf = new X509Certificate(issued.certPem);
  assert.equal(leaf.verify(new X509Certificate(ca.intermediatePem).publicKey), true);
  assert.equal(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve, "secp384r1");
  const signature = new x509.X509Certificate(issued.certPem).signatureAlgorithm as { name: string; hash?: { name: string } };
  assert.deepEqual([signature.name, signature.hash?.name], ["ECDSA", "SHA-384"]);
  assert.equal(ca.keyAlgorithm, "ecdsa-p384");
});

test("a CA whose intermediate has expired refuses to issue", async () => {
  let now = new Date();
  const ca = await createEphemeralCertificateAuthority({ clock: () => now });
  now = new Date(now.getTime() + 6 * 365 * 24 * HOUR_MS);
  await assert.rejects(ca.issueOriginClientCertificate(identity), CaExpiredError);
});

test("describeCertificate gives the log-safe facts of a certificate", async () => {
  const ca = await createEphemeralCertificateAuthority({ name: "Acme, Edge" });
  const issued = await ca.issueOriginClientCertificate(identity);
  const leaf = describeCertificate(issued.chainPem);
  assert.equal(leaf.serialHex, issued.serialHex);
  assert.equal(leaf.fingerprint256, new X509Certificate(issued.certPem).fingerprint256);
  assert.equal(leaf.issuer, "CN=Acme\\, Edge Intermediate CA, O=Acme\\, Edge");
  assert.deepEqual(leaf.extendedKeyUsage, ["clientAuth"]);
  assert.equal(leaf.isCa, false);
  const root = describeCertificate(ca.rootPem);
  assert.equal(root.isCa, true);
  assert.equal(root.subject, root.issuer);
  assert.deepEqual(root.extendedKeyUsage, []);
  assert.ok(root.notAfter.getTime() - root.notBefore.getTime() > 9.9 * 365 * 24 * HOUR_MS);
  assert.throws(() => describeCertificate("not a pem"), CertificateUnreadableError);
});
