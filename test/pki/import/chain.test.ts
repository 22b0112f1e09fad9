// Chains: order refused (never silently fixed) with the right order named, missing intermediates, trust in trustedCaPem, roots dropped.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  createEphemeralCertificateAuthority,
  importCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../../../src/pki/index.ts";
import { assertRefused, pemCerts, serverCert } from "./import-fixtures.ts";

describe("the chain of an import", () => {
  let ca: CertificateAuthority;
  let foreign: CertificateAuthority;
  let server: IssuedCertificate;
  let leafPem: string;

  const importChain = (chainPem: string, trustedCaPem?: string, keyPem = server.keyPem) =>
    importCertificate({ use: "viewer-server", source: { kind: "pem", chainPem, keyPem }, trustedCaPem, now: new Date() });

  before(async () => {
    [ca, foreign] = await Promise.all([
      createEphemeralCertificateAuthority({ name: "Issuing" }),
      createEphemeralCertificateAuthority({ name: "Foreign" }),
    ]);
    server = await serverCert(ca, ["shop.example.test"]);
    leafPem = server.certPem;
  });

  describe("order: refused, and the message names the right order", () => {
    test("root before intermediate (leaf, root, intermediate) → import-chain-broken, order 1, 3, 2", async () => {
      const error = await assertRefused(importChain(leafPem + ca.rootPem + ca.intermediatePem), "import-chain-broken", [
        "certificate 1 (CN=shop.example.test) was issued by certificate 3 (CN=Issuing Intermediate CA, O=Issuing)",
        "not certificate 2 (CN=Issuing Root CA, O=Issuing)",
      ]);
      assert.match(error.fix ?? "", /in this order: 1, 3, 2 \(leaf first/);
    });

    test("leaf not first (intermediate, leaf) → import-chain-broken: the key belongs to certificate 2", async () => {
      const error = await assertRefused(importChain(ca.intermediatePem + leafPem), "import-chain-broken", [
        "the private key belongs to certificate 2 (CN=shop.example.test)",
        "the leaf must come first",
      ]);
      assert.match(error.fix ?? "", /in this order: 2, 1 /);
    });

    test("certificates after the root → import-chain-broken, naming what to remove", async () => {
      const stray = (await serverCert(foreign, ["x.test"])).certPem;
      await assertRefused(importChain(server.chainPem + ca.rootPem + stray), "import-chain-broken", ["certificate 3 (CN=Issuing Root CA, O=Issuing) is self-signed", "certificate 4 (CN=x.test)"]);
    });

    test("an unrelated certificate in the middle → the fix says which to remove", async () => {
      const stray = foreign.intermediatePem;
      const error = await assertRefused(importChain(leafPem + stray + ca.intermediatePem), "import-chain-broken", ["must come right after it"]);
      assert.match(error.fix ?? "", /order: 1, 3 .*remove certificate 2 \(CN=Foreign Intermediate CA, O=Foreign\)/);
    });
  });

  describe("missing intermediates", () => {
    test("leaf then root, intermediate left out → import-chain-broken naming the missing issuer", async () => {
      await assertRefused(importChain(leafPem + ca.rootPem), "import-chain-broken", [
        'was issued by "CN=Issuing Intermediate CA, O=Issuing", but the certificate after it is certificate 2 (CN=Issuing Root CA, O=Issuing)',
        "is missing",
      ]);
    });

    test("the leaf alone (cert.pem instead of fullchain.pem) → import-chain-broken, with or without trustedCaPem", async () => {
      const mentions = ['issued by "CN=Issuing Intermediate CA, O=Issuing"', "the intermediate is missing"];
      const error = await assertRefused(importChain(leafPem), "import-chain-broken", mentions);
      assert.match(error.fix ?? "", /fullchain\.pem/);
      await assertRefused(importChain(leafPem, ca.bundlePem), "import-chain-broken", mentions);
    });

    test("an intermediate of the same name but another key → import-chain-broken (a re-keyed CA)", async () => {
      const twin = await createEphemeralCertificateAuthority({ name: "Issuing" });
      await assertRefused(importChain(leafPem + twin.intermediatePem), "import-chain-broken", ["has that name, but another key"]);
    });
  });

  describe("trust (trustedCaPem)", () => {
    test("a complete chain from another CA → import-chain-untrusted, naming the trusted roots", async () => {
      await assertRefused(importChain(server.chainPem, foreign.bundlePem), "import-chain-untrusted", [
        'issued by "CN=Issuing Root CA, O=Issuing"',
        '"CN=Foreign Root CA, O=Foreign"',
      ]);
    });

    test("a chain that includes its own (other) root → import-chain-untrusted", async () => {
      await assertRefused(importChain(server.chainPem + ca.rootPem, foreign.bundlePem), "import-chain-untrusted", ["self-signed certificate 3 (CN=Issuing Root CA, O=Issuing)"]);
    });

    test("a root with the trusted root's name but another key → import-chain-untrusted", async () => {
      const twin = await createEphemeralCertificateAuthority({ name: "Issuing" });
      await assertRefused(importChain(server.chainPem, twin.bundlePem), "import-chain-untrusted", ["does not verify with that root's key"]);
    });

    test("trustedCaPem that is not PEM → import-pem-malformed naming trustedCaPem", async () => {
      await assertRefused(importChain(server.chainPem, "not a bundle"), "import-pem-malformed", ["trustedCaPem"]);
    });

    test("the issuing root as trustedCaPem → accepted; a root given in the chain is dropped from the result", async () => {
      const imported = await importChain(server.chainPem + ca.rootPem, ca.bundlePem + foreign.bundlePem);
      assert.deepEqual(pemCerts(imported.chainPem), pemCerts(server.chainPem));
    });

    test("without trustedCaPem, a chain ending at its intermediate is accepted (roots are usually left out)", async () => {
      const imported = await importChain(server.chainPem);
      assert.equal(pemCerts(imported.chainPem).length, 2);
    });
  });
});
