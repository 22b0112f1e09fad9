// PKCS#12 imports: modern (PBES2/AES-256) and legacy (3DES/RC2) files from node-forge and, where installed, `openssl pkcs12 -export`.
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { before, describe, test } from "node:test";
import {
  createEphemeralCertificateAuthority,
  importCertificate,
  type CertificateAuthority,
  type ImportRequest,
  type IssuedCertificate,
} from "../../../src/pki/index.ts";
import { handshake } from "../handshake.ts";
import {
  assertRefused,
  forgePkcs12,
  opensslPkcs12,
  opensslVersion,
  originIdentity,
  PASSPHRASE,
  pemCerts,
  pkcs12,
  serverCert,
  type Pkcs12Flavor,
} from "./import-fixtures.ts";

const openssl = opensslVersion();
const noOpenssl = openssl.isPresent ? false : "openssl is not on PATH (the node-forge cases cover the format)";
// DER of the algorithm OIDs, to show which kind of file a test really read.
const OIDS = {
  aes256Cbc: Buffer.from("060960864801650304012a", "hex"), // 2.16.840.1.101.3.4.1.42
  pbes2: Buffer.from("06092a864886f70d01050d", "hex"), // 1.2.840.113549.1.5.13
  pbeSha3Des: Buffer.from("060a2a864886f70d010c0103", "hex"), // 1.2.840.113549.1.12.1.3
  pbeShaRc2_40: Buffer.from("060a2a864886f70d010c0106", "hex"), // 1.2.840.113549.1.12.1.6
};

describe("importing a PKCS#12", () => {
  let rsaCa: CertificateAuthority;
  let ecCa: CertificateAuthority;
  let rsaServer: IssuedCertificate;
  let ecClient: IssuedCertificate;
  // Bags in no useful order (root, leaf, intermediate): the import builds the path itself.
  let scrambled: string[];

  const importP12 = (data: Buffer, passphrase: string | undefined, use: ImportRequest["use"] = "viewer-server") =>
    importCertificate({ use, source: { kind: "pkcs12", data }, passphrase, now: new Date() });

  before(async () => {
    [rsaCa, ecCa] = await Promise.all([
      createEphemeralCertificateAuthority({ name: "P12 RSA", keyAlgorithm: "rsa-2048" }),
      createEphemeralCertificateAuthority({ name: "P12 EC" }),
    ]);
    rsaServer = await serverCert(rsaCa, ["shop.example.test"]);
    ecClient = await ecCa.issueOriginClientCertificate(originIdentity);
    scrambled = [rsaCa.rootPem, rsaServer.certPem, rsaCa.intermediatePem];
  });

  function assertImported(imported: { chainPem: string; fingerprint256: string }, issued: IssuedCertificate): void {
    assert.deepEqual(pemCerts(imported.chainPem), pemCerts(issued.chainPem), "leaf then intermediate, root dropped, bytes unchanged");
    assert.equal(imported.fingerprint256, new X509Certificate(issued.certPem).fingerprint256);
  }

  for (const flavor of ["modern", "legacy"] as const satisfies readonly Pkcs12Flavor[]) {
    test(`node-forge ${flavor} file (${flavor === "modern" ? "PBES2 AES-256-CBC" : "3DES"}), bags out of order`, async () => {
      const data = forgePkcs12(rsaServer.keyPem, scrambled, PASSPHRASE, flavor);
      assert.ok(data.includes(flavor === "modern" ? OIDS.aes256Cbc : OIDS.pbeSha3Des));
      assertImported(await importP12(data, PASSPHRASE), rsaServer);
    });

    test(`${flavor} file from openssl when installed (else node-forge), RSA`, async () => {
      const { data } = await pkcs12(rsaServer.keyPem, [rsaServer.certPem, rsaCa.intermediatePem, rsaCa.rootPem], PASSPHRASE, flavor);
      assertImported(await importP12(data, PASSPHRASE), rsaServer);
    });

    test(`openssl ${flavor} file with an ECDSA key, used in a real mutual TLS handshake`, { skip: noOpenssl }, async () => {
      const data = await opensslPkcs12(ecClient.keyPem, ecClient.chainPem, PASSPHRASE, flavor);
      if (openssl.isV3) {
        const expected = flavor === "modern" ? [OIDS.pbes2, OIDS.aes256Cbc] : [OIDS.pbeShaRc2_40, OIDS.pbeSha3Des];
        for (const oid of expected) assert.ok(data.includes(oid), `expected the ${flavor} algorithms in openssl's output`);
      }
      const imported = await importP12(data, PASSPHRASE, "origin-client");
      assertImported(imported, ecClient);
      const result = await handshake(
        { key: rsaServer.keyPem, cert: rsaServer.chainPem, ca: ecCa.bundlePem },
        { ca: rsaCa.bundlePem, cert: imported.chainPem, key: imported.keyPem, servername: "shop.example.test" },
      );
      assert.equal(result.isAccepted, true, String(result.serverError ?? result.clientError));
    });
  }

  test("a passphrase outside ASCII (UTF-8, as OpenSSL and Windows encode it)", { skip: noOpenssl }, async () => {
    const passphrase = "pässwörd-🔐";
    for (const flavor of ["modern", "legacy"] as const) {
      const data = await opensslPkcs12(ecClient.keyPem, ecClient.chainPem, passphrase, flavor);
      assertImported(await importP12(data, passphrase, "origin-client"), ecClient);
    }
  });

  test("a file with an empty passphrase opens with none given", async () => {
    const { data } = await pkcs12(rsaServer.keyPem, [rsaServer.certPem, rsaCa.intermediatePem], "", "modern");
    assertImported(await importP12(data, undefined), rsaServer);
  });

  test("import-passphrase-wrong and import-passphrase-missing, for modern and legacy files", async () => {
    for (const flavor of ["modern", "legacy"] as const) {
      const data = forgePkcs12(rsaServer.keyPem, scrambled, PASSPHRASE, flavor);
      await assertRefused(importP12(data, "not-the-passphrase"), "import-passphrase-wrong", ["does not open the PKCS#12"], ["not-the-passphrase", rsaServer.keyPem]);
      await assertRefused(importP12(data, undefined), "import-passphrase-missing", ["none was given"], [rsaServer.keyPem]);
    }
  });

  test("import-pkcs12-unreadable: random bytes, PEM text, a file with no key", async () => {
    await assertRefused(importP12(randomBytes(512), PASSPHRASE), "import-pkcs12-unreadable", ["not a PKCS#12 file"]);
    await assertRefused(importP12(Buffer.from(rsaServer.chainPem), PASSPHRASE), "import-pkcs12-unreadable", ["PEM text"]);
    const { default: forge } = await import("node-forge");
    const certsOnly = forge.pkcs12.toPkcs12Asn1(null, scrambled.map((pem) => forge.pki.certificateFromPem(pem)), PASSPHRASE);
    await assertRefused(importP12(Buffer.from(forge.asn1.toDer(certsOnly).getBytes(), "binary"), PASSPHRASE), "import-pkcs12-unreadable", ["holds no private key"]);
  });

  test("import-key-mismatch: a key with certificates that are not its own", async () => {
    const other = await serverCert(rsaCa, ["other.test"]);
    const data = forgePkcs12(other.keyPem, scrambled, PASSPHRASE, "modern");
    await assertRefused(importP12(data, PASSPHRASE), "import-key-mismatch", ["none of the 3 certificate(s)", "RSA 2048-bit"], [other.keyPem]);
  });

  test("import-chain-broken: leaf and root without the intermediate", async () => {
    const data = forgePkcs12(rsaServer.keyPem, [rsaServer.certPem, rsaCa.rootPem], PASSPHRASE, "modern");
    await assertRefused(importP12(data, PASSPHRASE), "import-chain-broken", ["the intermediate is missing"]);
  });

  test("the same checks apply as for PEM: a server certificate imported as origin-client", async () => {
    const data = forgePkcs12(rsaServer.keyPem, scrambled, PASSPHRASE, "legacy");
    await assertRefused(importP12(data, PASSPHRASE, "origin-client"), "import-wrong-usage", ["not clientAuth"]);
  });
});
