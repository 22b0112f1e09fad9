// describeCertificate and splitPemCertificates read certificates with node:crypto alone (an edge then never loads @peculiar/x509): they must say exactly what @peculiar/x509 says, and hand over to it where Node spells names differently.
import assert from "node:assert/strict";
import { X509Certificate, webcrypto } from "node:crypto";
import { test } from "node:test";
import { createEphemeralCertificateAuthority, describeCertificate } from "../../src/pki/index.ts";
import { describeParsed, splitPemCertificates } from "../../src/pki/describe.ts";
import { x509, type X509 } from "../../src/pki/x509-lib.ts";

const HOUR_MS = 3_600_000;

/** What describeCertificate said before it read names with Node: every field through @peculiar/x509. */
function describedByPeculiar(pem: string) {
  return describeParsed(new X509Certificate(pem), new x509.X509Certificate(pem));
}

async function selfSigned(name: string, sans: X509.JsonGeneralNames): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { serialNumber: "01", name, notBefore: new Date(Date.now() - HOUR_MS), notAfter: new Date(Date.now() + HOUR_MS), keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" }, extensions: [new x509.SubjectAlternativeNameExtension(sans)] },
    webcrypto,
  );
  return cert.toString("pem");
}

test("the certificates Moat issues are described as @peculiar/x509 describes them", async () => {
  const ca = await createEphemeralCertificateAuthority();
  const server = await ca.issueServerCertificate({ dnsNames: ["shop.example.test", "*.cdn.example.test"], ipAddresses: ["127.0.0.1", "::1", "fe80::1:2"], validityMs: HOUR_MS });
  const client = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: HOUR_MS });
  for (const pem of [server.certPem, client.certPem, ca.intermediatePem, ca.rootPem]) assert.deepEqual(describeCertificate(pem), describedByPeculiar(pem));
  assert.deepEqual(describeCertificate(server.certPem).sans, ["DNS:shop.example.test", "DNS:*.cdn.example.test", "IP Address:127.0.0.1", "IP Address:::1", "IP Address:fe80::1:2"]);
});

test("names Node spells otherwise (escaped values, attribute types it names differently, other SAN types) are read by @peculiar/x509", async () => {
  const pems = [
    await selfSigned("CN=Shop\\, Inc., O=Example", [{ type: "dns", value: "shop.example.test" }]),
    await selfSigned("CN=Shop, E=ops@example.test", [{ type: "email", value: "ops@example.test" }]),
    await selfSigned("CN=Shop", [{ type: "dn", value: "CN=Other" }, { type: "dns", value: "a.example.test" }]),
    await selfSigned("CN=Ünïcode", [{ type: "url", value: 'spiffe://example.test/"quoted"' }]),
  ];
  for (const pem of pems) assert.deepEqual(describeCertificate(pem), describedByPeculiar(pem));
  assert.equal(describeCertificate(pems[1]!).subject, "CN=Shop, E=ops@example.test", "@peculiar/x509's spelling, not Node's emailAddress=");
});

test("splitPemCertificates re-encodes each CERTIFICATE block as @peculiar/x509's PemConverter does, skipping other blocks", async () => {
  const ca = await createEphemeralCertificateAuthority();
  const leaf = await ca.issueServerCertificate({ dnsNames: ["a.test"], validityMs: HOUR_MS });
  const bundle = `junk before\r\n${leaf.chainPem.replaceAll("\n", "\r\n")}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n${ca.rootPem}`;
  const expected = x509.PemConverter.decodeWithHeaders(bundle)
    .filter((block) => block.type === "CERTIFICATE")
    .map((block) => x509.PemConverter.encode(block.rawData, "CERTIFICATE"));
  assert.equal(expected.length, 3);
  assert.deepEqual(splitPemCertificates(bundle), expected);
  assert.deepEqual(splitPemCertificates("no PEM here"), []);
});
