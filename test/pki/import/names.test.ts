// Aliases against SANs: exact names, one-label wildcards, wildcard aliases, IP aliases; every alias not covered is listed.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority, importCertificate, type IssuedCertificate } from "../../../src/pki/index.ts";
import { dnsSanCovers } from "../../../src/pki/import/name-coverage.ts";
import { assertRefused, serverCert } from "./import-fixtures.ts";

describe("expectedNames", () => {
  let wildcard: IssuedCertificate;
  const importFor = (expectedNames: string[], issued = wildcard) =>
    importCertificate({ use: "viewer-server", source: { kind: "pem", chainPem: issued.chainPem, keyPem: issued.keyPem }, expectedNames, now: new Date() });

  before(async () => {
    const ca = await createEphemeralCertificateAuthority();
    wildcard = await serverCert(ca, ["shop.example.test", "*.x.test"]);
  });

  test("exact names, one label under a wildcard, the same wildcard, case and a trailing dot are covered", async () => {
    await importFor(["shop.example.test", "a.x.test", "*.x.test", "SHOP.Example.test.", "127.0.0.1"]);
  });

  test("import-names-not-covered lists every alias that no SAN covers, and only those", async () => {
    const aliases = ["shop.example.test", "x.test", "a.b.x.test", "a.x.test", "*.y.test", "other.test", "10.0.0.1"];
    const error = await assertRefused(importFor(aliases), "import-names-not-covered", [
      "does not cover x.test, a.b.x.test, *.y.test, other.test, 10.0.0.1",
      "its names are shop.example.test, *.x.test, 127.0.0.1",
    ]);
    assert.deepEqual(error.uncoveredNames, ["x.test", "a.b.x.test", "*.y.test", "other.test", "10.0.0.1"]);
  });

  test("a wildcard alias needs the same wildcard SAN: specific names under it do not cover it", async () => {
    const ca = await createEphemeralCertificateAuthority();
    const specific = await serverCert(ca, ["a.x.test", "b.x.test"]);
    const error = await assertRefused(importFor(["*.x.test"], specific), "import-names-not-covered", ["does not cover *.x.test"]);
    assert.deepEqual(error.uncoveredNames, ["*.x.test"]);
  });

  test("dnsSanCovers follows RFC 6125 §6.4.3: the wildcard is one whole left-most label", () => {
    assert.equal(dnsSanCovers("*.x.test", "a.x.test"), true);
    assert.equal(dnsSanCovers("*.x.test", "x.test"), false);
    assert.equal(dnsSanCovers("*.x.test", "a.b.x.test"), false);
    assert.equal(dnsSanCovers("*.x.test", ".x.test"), false);
    assert.equal(dnsSanCovers("*.x.test", "*.x.test"), true);
    assert.equal(dnsSanCovers("a.x.test", "*.x.test"), false);
  });
});
