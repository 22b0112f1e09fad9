// Viewer mTLS in the config: trust stores, modes, forwarding, per-behavior requirements; each rule broken once, and what a valid document normalises to.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigInvalidError } from "../../src/errors.ts";
import { loadConfigFile, parseConfig } from "../../src/config/index.ts";
import { assertOnlyIssue } from "./fixture.ts";

const D0 = "distributions[0]";

/** A distribution with an optional mode on the "partners" store, and an /admin/* path that requires a certificate. */
function withMtls(): any {
  return {
    trustStores: { partners: { caBundle: "./partners-ca.pem", crl: "./partners.crl" } },
    distributions: [
      {
        id: "shop",
        aliases: ["shop.example.test"],
        viewerMtls: { mode: "optional", trustStore: "partners" },
        origins: [{ id: "api", url: "https://api.internal" }],
        behaviors: [
          { path: "/admin/*", target: "api", viewerMtls: "required" },
          { path: "*", target: "api" },
        ],
      },
    ],
  };
}

describe("viewer mTLS config: a valid document", () => {
  const config = parseConfig(withMtls(), { source: "t", baseDir: "/etc/moat", env: {} });
  const shop = config.distributions[0];

  it("resolves trust store files against the config's directory and lists CRLs", () => {
    assert.deepEqual(config.trustStores, [{ name: "partners", caBundleFile: "/etc/moat/partners-ca.pem", crlFiles: ["/etc/moat/partners.crl"], allowNoEku: false }]);
  });

  it("keeps the mode and store, and forwards Moat's and RFC 9440's headers by default", () => {
    assert.deepEqual(shop?.viewerMtls, { mode: "optional", trustStore: "partners", edgesOnly: false, forward: { moat: true, rfc9440: true, xfcc: false } });
  });

  it("marks the behaviors that require a certificate", () => {
    assert.deepEqual(shop?.behaviors.map((b) => [b.path, b.requiresViewerCertificate]), [["/admin/*", true], ["*", false]]);
  });

  it("takes a list of CRLs, allowNoEku and forwarding choices", () => {
    const document = withMtls();
    document.trustStores.partners = { caBundle: "ca.pem", crl: ["a.crl", "b.crl"], allowNoEku: true };
    document.distributions[0].viewerMtls.forward = { xfcc: true, rfc9440: false };
    const parsed = parseConfig(document, { source: "t", baseDir: "/etc/moat", env: {} });
    assert.deepEqual(parsed.trustStores[0]?.crlFiles, ["/etc/moat/a.crl", "/etc/moat/b.crl"]);
    assert.equal(parsed.trustStores[0]?.allowNoEku, true);
    assert.deepEqual(parsed.distributions[0]?.viewerMtls.forward, { moat: true, rfc9440: false, xfcc: true });
  });

  it("takes edgesOnly with mode required (the shield side of an origin shield)", () => {
    const document = withMtls();
    document.distributions[0].viewerMtls = { mode: "required", trustStore: "partners", edgesOnly: true };
    assert.equal(parseConfig(document, { source: "t", baseDir: "/", env: {} }).distributions[0]?.viewerMtls.edgesOnly, true);
  });

  it("takes a shield: its URL with the port, the first alias as its name, Moat's CA unless trustedCa says", () => {
    const document = withMtls();
    document.distributions[0].aliases = ["Shop.Example.Test", "www.shop.example.test"];
    document.distributions[0].shield = { url: "https://shield.internal" };
    assert.deepEqual(parseConfig(document, { source: "t", baseDir: "/etc/moat", env: {} }).distributions[0]?.shield, { url: "https://shield.internal:443", hostname: "shield.internal", port: 443, serverName: "shop.example.test", trustedCaFile: null });
    document.distributions[0].shield = { url: "https://10.0.0.9:8443", serverName: "www.shop.example.test", trustedCa: "./shield-ca.pem" };
    assert.deepEqual(parseConfig(document, { source: "t", baseDir: "/etc/moat", env: {} }).distributions[0]?.shield, { url: "https://10.0.0.9:8443", hostname: "10.0.0.9", port: 8443, serverName: "www.shop.example.test", trustedCaFile: "/etc/moat/shield-ca.pem" });
    assert.equal(parseConfig(withMtls(), { source: "t", baseDir: "/", env: {} }).distributions[0]?.shield, null);
  });

  it("takes passthrough without a trust store", () => {
    const document = withMtls();
    document.distributions[0].viewerMtls = { mode: "passthrough" };
    document.distributions[0].behaviors[0].viewerMtls = undefined;
    delete document.distributions[0].behaviors[0].viewerMtls;
    assert.equal(parseConfig(document, { source: "t", baseDir: "/", env: {} }).distributions[0]?.viewerMtls.mode, "passthrough");
  });
});

type Case = [name: string, breakIt: (document: any) => void, path: string, ...words: string[]];

describe("viewer mTLS config: errors", () => {
  const cases: Case[] = [
    ["mode is one of four", (d) => (d.distributions[0].viewerMtls.mode = "strict"), `${D0}.viewerMtls.mode`, "off, optional, required, passthrough", '"strict"'],
    ["optional needs a trust store", (d) => delete d.distributions[0].viewerMtls.trustStore, `${D0}.viewerMtls.trustStore`, "required with mode optional"],
    ["the trust store must exist", (d) => (d.distributions[0].viewerMtls.trustStore = "partner"), `${D0}.viewerMtls.trustStore`, 'no trust store "partner"', 'did you mean "partners"'],
    ["passthrough takes no trust store", (d) => (d.distributions[0].viewerMtls = { mode: "passthrough", trustStore: "partners" }) && delete d.distributions[0].behaviors[0].viewerMtls, `${D0}.viewerMtls.trustStore`, "unverified"],
    ["a path can require a certificate only where one is verified", (d) => (d.distributions[0].viewerMtls = { mode: "passthrough" }), `${D0}.behaviors[0].viewerMtls`, "passthrough"],
    ["a path cannot require a certificate on an off distribution", (d) => delete d.distributions[0].viewerMtls, `${D0}.behaviors[0].viewerMtls`, "off"],
    ["a behavior's viewerMtls is only required", (d) => (d.distributions[0].behaviors[0].viewerMtls = "optional"), `${D0}.behaviors[0].viewerMtls`, "must be required"],
    ["a trust store needs its CA bundle", (d) => delete d.trustStores.partners.caBundle, "trustStores.partners.caBundle", "required"],
    ["a trust store's keys are closed", (d) => (d.trustStores.partners.crls = []), "trustStores.partners.crls", 'did you mean "crl"'],
    ["a trust store's name is an id", (d) => (d.trustStores = { "Partners Inc": { caBundle: "x.pem" } }) && (d.distributions[0].viewerMtls.trustStore = "Partners Inc"), "trustStores", ""],
    ["edgesOnly takes mode required", (d) => (d.distributions[0].viewerMtls.edgesOnly = true), `${D0}.viewerMtls.edgesOnly`, "takes mode required", "not optional"],
    ["a shield URL is https", (d) => (d.distributions[0].shield = { url: "http://shield.internal:8443" }), `${D0}.shield.url`, "https://"],
    ["a shield URL has no path", (d) => (d.distributions[0].shield = { url: "https://shield.internal:8443/base" }), `${D0}.shield.url`, "without a path"],
    ["a shield behind a wildcard first alias needs a serverName", (d) => (d.distributions[0].aliases = ["*.shop.example.test"]) && (d.distributions[0].shield = { url: "https://shield.internal:8443" }), `${D0}.shield.serverName`, "wildcard"],
    ["forward options are booleans", (d) => (d.distributions[0].viewerMtls.forward = { xfcc: "yes" }), `${D0}.viewerMtls.forward.xfcc`, "true or false"],
  ];
  for (const [name, breakIt, path, ...words] of cases) {
    it(name, () => {
      const document = withMtls();
      breakIt(document);
      if (name === "a trust store's name is an id") {
        // The record key is checked by the id rule; its path is the key itself.
        assert.throws(() => parseConfig(document, { source: "t", baseDir: "/", env: {} }), (error: unknown) => error instanceof ConfigInvalidError && error.issues.some((issue) => issue.path.startsWith("trustStores")));
        return;
      }
      assertOnlyIssue(document, path, ...words.filter(Boolean));
    });
  }
});

describe("viewer mTLS config: files", () => {
  it("names each trust store file that cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "moat-mtls-config-"));
    try {
      await writeFile(join(dir, "partners-ca.pem"), "x");
      const document = withMtls();
      document.trustStores.partners.crl = ["./partners.crl", "./missing.crl"];
      await writeFile(join(dir, "partners.crl"), "x");
      await writeFile(join(dir, "moat.json"), JSON.stringify(document));
      const error = await loadConfigFile(join(dir, "moat.json"), {}).then(
        () => assert.fail("expected the config to be refused"),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ConfigInvalidError);
      assert.deepEqual(error.issues.map((issue) => issue.path), ["trustStores.partners.crl[1]"]);
      assert.match(error.issues[0]?.message ?? "", /file not found: .*missing\.crl/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
