// Each way a PEM import goes wrong, produced by a real bad input: the code, what the message names, and that no secret leaks.
import { generateKeyPairSync } from "node:crypto";
import { before, describe, test } from "node:test";
import { x509 } from "../../../src/pki/x509-lib.ts";
import {
  createEphemeralCertificateAuthority,
  importCertificate,
  type CertificateAuthority,
  type CertificateUse,
  type IssuedCertificate,
} from "../../../src/pki/index.ts";
import { assertRefused, craftChain, DAY_MS, keyAs, originIdentity, PASSPHRASE, selfSigned, serverCert } from "./import-fixtures.ts";

const pem = (chainPem: string, keyPem: string) => ({ kind: "pem" as const, chainPem, keyPem });

describe("refusing a PEM import", () => {
  let ca: CertificateAuthority;
  let server: IssuedCertificate;
  let client: IssuedCertificate;
  const importAs = (use: CertificateUse, chainPem: string, keyPem: string, passphrase?: string) =>
    importCertificate({ use, source: pem(chainPem, keyPem), passphrase, now: new Date() });

  before(async () => {
    ca = await createEphemeralCertificateAuthority({ name: "Other" });
    server = await serverCert(ca, ["shop.example.test"]);
    client = await ca.issueOriginClientCertificate(originIdentity);
  });

  describe("import-pem-malformed", () => {
    test("a chain that is not PEM at all", async () => {
      await assertRefused(importAs("viewer-server", "hello, I am a certificate", server.keyPem), "import-pem-malformed", ["chainPem", "no PEM block at all"]);
    });
    test("a chain holding only a key", async () => {
      await assertRefused(importAs("viewer-server", server.keyPem, server.keyPem), "import-pem-malformed", ["no CERTIFICATE block", "PRIVATE KEY"], [server.keyPem]);
    });
    test("a certificate block cut short (BEGIN without END)", async () => {
      const cut = server.chainPem.slice(0, server.chainPem.length - 40);
      await assertRefused(importAs("viewer-server", cut, server.keyPem), "import-pem-malformed", ["BEGIN line but no matching END"]);
    });
    test("a certificate block whose base64 is not a certificate", async () => {
      const garbage = "-----BEGIN CERTIFICATE-----\nTW9hdCBpcyBub3QgYSBjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n";
      await assertRefused(importAs("viewer-server", garbage, server.keyPem), "import-pem-malformed", ["certificate 1", "not a valid X.509"]);
    });
    test("a key that is not PEM, and a key file holding two keys", async () => {
      await assertRefused(importAs("viewer-server", server.chainPem, "not a key"), "import-pem-malformed", ["keyPem", "no PRIVATE KEY block"]);
      await assertRefused(importAs("viewer-server", server.chainPem, server.keyPem + client.keyPem), "import-pem-malformed", ["2 private keys"], [server.keyPem, client.keyPem]);
    });
  });

  describe("import-key-unreadable and import-key-unsupported", () => {
    test("a PRIVATE KEY block whose content is not a key", async () => {
      const garbage = "-----BEGIN PRIVATE KEY-----\nTW9hdCBpcyBub3QgYSBrZXk=\n-----END PRIVATE KEY-----\n";
      await assertRefused(importAs("viewer-server", server.chainPem, garbage), "import-key-unreadable", ["PKCS#8", "not a valid private key"]);
    });
    test("an OpenSSH private key names the format and how to convert it", async () => {
      const openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";
      const error = await assertRefused(importAs("viewer-server", server.chainPem, openssh), "import-key-unreadable", ["OPENSSH PRIVATE KEY"]);
      if (!error.fix?.includes("ssh-keygen -p -m PKCS8")) throw new Error(`fix should say how to convert: ${error.fix}`);
    });
    test("an RSA 1024-bit key, and an Ed25519 key", async () => {
      const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      const ed25519 = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      await assertRefused(importAs("viewer-server", server.chainPem, rsa1024), "import-key-unsupported", ["RSA 1024-bit"], [rsa1024]);
      await assertRefused(importAs("viewer-server", server.chainPem, ed25519), "import-key-unsupported", ["ed25519"], [ed25519]);
    });
  });

  describe("passphrases", () => {
    for (const [name, keyPem] of [
      ["encrypted PKCS#8", () => keyAs(server, "pkcs8", "aes-256-cbc")],
      ["legacy Proc-Type: 4,ENCRYPTED", () => keyAs(server, "sec1", "aes-256-cbc")],
    ] as const) {
      test(`import-passphrase-missing: ${name} without a passphrase`, async () => {
        await assertRefused(importAs("viewer-server", server.chainPem, keyPem()), "import-passphrase-missing", ["encrypted", "no passphrase"]);
      });
      test(`import-passphrase-wrong: ${name} with another passphrase, which the message never repeats`, async () => {
        const wrong = "Tr0ub4dor&3-wrong";
        await assertRefused(importAs("viewer-server", server.chainPem, keyPem(), wrong), "import-passphrase-wrong", ["does not decrypt"], [wrong]);
      });
    }
  });

  test("import-key-mismatch: the key of another certificate", async () => {
    const other = await serverCert(ca, ["shop.example.test"]);
    await assertRefused(importAs("viewer-server", server.chainPem, other.keyPem), "import-key-mismatch", ["certificate 1 (CN=shop.example.test)", "ECDSA P-256"], [other.keyPem]);
  });

  describe("import-wrong-usage", () => {
    test("a server certificate (EKU serverAuth) imported as origin-client", async () => {
      await assertRefused(importAs("origin-client", server.chainPem, server.keyPem), "import-wrong-usage", ["serverAuth", "not clientAuth"]);
    });
    test("an origin client certificate (EKU clientAuth) imported as viewer-server", async () => {
      await assertRefused(importAs("viewer-server", client.chainPem, client.keyPem), "import-wrong-usage", ["clientAuth", "not serverAuth"]);
    });
    test("a CA certificate as the leaf", async () => {
      const caCert = await selfSigned({ isCa: true, eku: ["1.3.6.1.5.5.7.3.1"] });
      await assertRefused(importAs("viewer-server", caCert.certPem, caCert.keyPem), "import-wrong-usage", ["is a CA certificate"]);
    });
    test("a leaf without any extended key usage, and one whose key usage cannot sign", async () => {
      const noEku = await selfSigned({ isCa: false });
      await assertRefused(importAs("viewer-server", noEku.certPem, noEku.keyPem), "import-wrong-usage", ["has no extended key usage"]);
      const noSign = await selfSigned({ isCa: false, eku: ["1.3.6.1.5.5.7.3.1"], keyUsage: x509.KeyUsageFlags.keyAgreement });
      await assertRefused(importAs("viewer-server", noSign.certPem, noSign.keyPem), "import-wrong-usage", ["without digitalSignature"]);
    });
  });

  describe("validity", () => {
    test("import-expired: a certificate whose notAfter has passed", async () => {
      const now = Date.now();
      const expired = await serverCert(ca, ["shop.example.test"], { notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - 2 * DAY_MS) });
      await assertRefused(importAs("viewer-server", expired.chainPem, expired.keyPem), "import-expired", ["certificate 1 (CN=shop.example.test) expired at", "2 days ago"]);
    });
    test("import-not-yet-valid: a certificate whose notBefore is ahead", async () => {
      const now = Date.now();
      const early = await serverCert(ca, ["shop.example.test"], { notBefore: new Date(now + 3 * DAY_MS), notAfter: new Date(now + 30 * DAY_MS) });
      await assertRefused(importAs("viewer-server", early.chainPem, early.keyPem), "import-not-yet-valid", ["is not valid until", "in 2 days"]);
    });
    test("import-expired names the intermediate when it is the one expired", async () => {
      const crafted = await craftChain(new Date(Date.now() - DAY_MS));
      const error = await assertRefused(importAs("viewer-server", crafted.chainPem, crafted.keyPem), "import-expired", ["certificate 2 (CN=Crafted Intermediate) expired"]);
      if (!error.fix?.includes("current chain")) throw new Error(`fix should point at the CA's current chain: ${error.fix}`);
    });
  });

  test("a passphrase given with an encrypted key never appears in any refusal", async () => {
    const encrypted = keyAs(client, "pkcs8", "aes-256-cbc");
    await assertRefused(importAs("viewer-server", client.chainPem, encrypted, PASSPHRASE), "import-wrong-usage", [], [client.keyPem]);
  });
});
