import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_CACHE_POLICY, parseConfig, resolveDataDir } from "../../src/config/index.ts";
import { minimal, sketch } from "./fixture.ts";
import { defaultTlsPolicy } from "../../src/tls/index.ts";

const ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"];

describe("parseConfig: the sketch round-trips into the normalised shape", () => {
  const config = parseConfig(sketch(), { source: "sketch", baseDir: "/etc/moat", env: {} });
  const [shop, blog] = config.distributions;
  assert.ok(shop && blog);

  it("keeps the source and resolves dataDir against baseDir", () => {
    assert.equal(config.source, "sketch");
    assert.equal(config.dataDir, "/etc/moat/state");
  });

  it("turns pki durations into milliseconds", () => {
    assert.deepEqual(config.pki, {
      trustDomain: "moat.internal",
      keyAlgorithm: "ecdsa-p384",
      clientCertValidityMs: 12 * 3_600_000,
      serverCertValidityMs: 30 * 86_400_000,
      renewAtFraction: 2 / 3,
      masterKeyFile: "/etc/moat/master.key",
      ca: { autoRotate: false, intermediateValidityMs: 365 * 86_400_000, rootValidityMs: Math.round(10 * 365.25 * 86_400_000), rolloverOverlapMs: 7 * 86_400_000 },
    });
  });

  it("reads http: off as no redirect port", () => {
    assert.deepEqual(config.listen, { host: "127.0.0.1", httpsPort: 9443, httpPort: null, tls: defaultTlsPolicy() });
  });

  it("lowercases aliases and resolves imported certificate files against baseDir", () => {
    assert.deepEqual(shop.aliases, ["shop.example.test", "*.cdn.example.test"]);
    assert.deepEqual(shop.viewerCertificate, { kind: "imported", format: "pem", certFile: "/etc/moat/shop.pem", keyFile: "/etc/moat/shop.key", passphraseFile: null });
    assert.deepEqual(shop.tls, { minVersion: "TLSv1.3" });
  });

  it("splits an origin URL into origin, base path, hostname and port", () => {
    const [api, dr] = shop.origins;
    assert.deepEqual(api, {
      id: "api",
      url: "https://api.internal:9443",
      basePath: "/optional/base/path",
      hostname: "api.internal",
      port: 9443,
      mtls: { clientCertificate: { kind: "issued" }, trustedCaFile: "/etc/moat/origin-ca.pem", serverName: "api.internal" },
      timeouts: { connectMs: 250, responseMs: 60_000 },
    });
    assert.equal(dr?.url, "https://api-dr.internal:443");
    assert.equal(dr?.basePath, "");
    assert.equal(dr?.port, 443);
    assert.deepEqual(dr?.mtls, { clientCertificate: { kind: "none" }, trustedCaFile: null, serverName: null });
    assert.deepEqual(dr?.timeouts, { connectMs: 5_000, responseMs: 30_000 });
  });

  it("names a group's primary and secondary and fills in failoverOn", () => {
    assert.deepEqual(shop.originGroups, [{ id: "api-ha", primary: "api", secondary: "api-dr", failoverOn: [500, 502, 503, 504] }]);
  });

  it("puts the default behavior last and allowed methods in canonical order", () => {
    assert.deepEqual(shop.behaviors, [
      { path: "/static/*", target: "api", allowedMethods: ["GET", "HEAD"], cache: DEFAULT_CACHE_POLICY, requiresViewerCertificate: false, websocket: null },
      { path: "*", target: "api-ha", allowedMethods: ALL_METHODS, cache: DEFAULT_CACHE_POLICY, requiresViewerCertificate: false, websocket: null },
    ]);
  });

  it("fills in the defaults of a distribution that says little", () => {
    assert.deepEqual(blog.viewerCertificate, { kind: "issued" });
    assert.deepEqual(blog.tls, { minVersion: "TLSv1.2" });
    assert.deepEqual(blog.originGroups, []);
    assert.equal(blog.origins[0]?.url, "https://10.0.0.7:8443");
    assert.deepEqual(blog.behaviors, [{ path: "*", target: "web", allowedMethods: ALL_METHODS, cache: DEFAULT_CACHE_POLICY, requiresViewerCertificate: false, websocket: null }]);
    assert.deepEqual(blog.viewerMtls, { mode: "off", trustStore: null, edgesOnly: false, forward: { moat: true, rfc9440: true, xfcc: false } });
  });

  it("deep-freezes the whole snapshot", () => {
    const frozen = [config, config.pki, config.listen, config.distributions, shop, shop.aliases, shop.tls, shop.origins,
      shop.origins[0], shop.origins[0]?.mtls, shop.origins[0]?.mtls.clientCertificate, shop.origins[0]?.timeouts,
      shop.originGroups[0], shop.originGroups[0]?.failoverOn, shop.behaviors, shop.behaviors[0]?.allowedMethods];
    for (const value of frozen) assert.ok(Object.isFrozen(value));
    assert.throws(() => {
      (config.listen as { httpsPort: number }).httpsPort = 1;
    }, TypeError);
  });
});

describe("parseConfig: defaults of a minimal document", () => {
  it("fills in pki, listen and dataDir (from the working directory)", () => {
    const config = parseConfig(minimal(), { source: "minimal", baseDir: "/etc/moat", env: {} });
    assert.equal(config.dataDir, resolve(process.cwd(), ".moat"));
    assert.deepEqual(config.pki, {
      trustDomain: "moat.internal",
      keyAlgorithm: "ecdsa-p256",
      clientCertValidityMs: 86_400_000,
      serverCertValidityMs: 30 * 86_400_000,
      renewAtFraction: 2 / 3,
      masterKeyFile: null,
      ca: { autoRotate: true, intermediateValidityMs: Math.round(5 * 365.25 * 86_400_000), rootValidityMs: Math.round(10 * 365.25 * 86_400_000), rolloverOverlapMs: 30 * 86_400_000 },
    });
    assert.deepEqual(config.listen, { host: "0.0.0.0", httpsPort: 8443, httpPort: 8080, tls: defaultTlsPolicy() });
  });

  it("takes dataDir from MOAT_DATA_DIR when the document has none", () => {
    const config = parseConfig(minimal(), { source: "minimal", baseDir: "/etc/moat", env: { MOAT_DATA_DIR: "/var/lib/moat" } });
    assert.equal(config.dataDir, "/var/lib/moat");
  });

  it("prefers the document's dataDir over MOAT_DATA_DIR", () => {
    const document = { ...minimal(), dataDir: "data" };
    const config = parseConfig(document, { source: "minimal", baseDir: "/etc/moat", env: { MOAT_DATA_DIR: "/var/lib/moat" } });
    assert.equal(config.dataDir, "/etc/moat/data");
  });

  it("accepts false and null for a disabled http port, and lowercases trust domain and server name", () => {
    for (const http of [false, null, "off"]) {
      const document = { ...minimal(), listen: { http }, pki: { trustDomain: "Moat.Example" } };
      const config = parseConfig(document, { source: "t", baseDir: "/", env: {} });
      assert.equal(config.listen.httpPort, null);
      assert.equal(config.pki.trustDomain, "moat.example");
    }
  });

  it("keeps IPv6 origins bracketed in url and bare in hostname", () => {
    const document = minimal();
    document.distributions[0].origins[0].url = "https://[::1]:9443";
    const origin = parseConfig(document, { source: "t", baseDir: "/", env: {} }).distributions[0]?.origins[0];
    assert.equal(origin?.url, "https://[::1]:9443");
    assert.equal(origin?.hostname, "::1");
  });

  it("does not modify its input", () => {
    const document = sketch();
    const copy = structuredClone(document);
    parseConfig(document, { source: "t", baseDir: "/", env: {} });
    assert.deepEqual(document, copy);
    assert.ok(!Object.isFrozen(document));
  });
});

describe("parseConfig: imported certificate sources", () => {
  const parse = (viewerCertificate: unknown, clientCertificate: unknown) => {
    const document = minimal();
    document.distributions[0].viewerCertificate = viewerCertificate;
    document.distributions[0].origins[0].mtls = { clientCertificate };
    const [shop] = parseConfig(document, { source: "t", baseDir: "/etc/moat", env: {} }).distributions;
    return { viewer: shop?.viewerCertificate, client: shop?.origins[0]?.mtls.clientCertificate };
  };

  it("reads PEM files with a passphrase file, and a PKCS#12 with or without one, resolving every path against baseDir", () => {
    const { viewer, client } = parse({ cert: "tls/shop.pem", key: "tls/shop.key", passphraseFile: "secrets/shop.pass" }, { pkcs12: "/srv/api.p12" });
    assert.deepEqual(viewer, { kind: "imported", format: "pem", certFile: "/etc/moat/tls/shop.pem", keyFile: "/etc/moat/tls/shop.key", passphraseFile: "/etc/moat/secrets/shop.pass" });
    assert.deepEqual(client, { kind: "imported", format: "pkcs12", pkcs12File: "/srv/api.p12", passphraseFile: null });
    const swapped = parse({ pkcs12: "shop.p12", passphraseFile: "shop.pass" }, { cert: "c.pem", key: "c.key" });
    assert.deepEqual(swapped.viewer, { kind: "imported", format: "pkcs12", pkcs12File: "/etc/moat/shop.p12", passphraseFile: "/etc/moat/shop.pass" });
    assert.deepEqual(swapped.client, { kind: "imported", format: "pem", certFile: "/etc/moat/c.pem", keyFile: "/etc/moat/c.key", passphraseFile: null });
  });
});

describe("resolveDataDir", () => {
  it("prefers an explicit directory, then MOAT_DATA_DIR, then ./.moat", () => {
    assert.equal(resolveDataDir("/var/lib/moat", { MOAT_DATA_DIR: "/srv/moat" }), "/var/lib/moat");
    assert.equal(resolveDataDir("state", {}, "/etc/moat"), "/etc/moat/state");
    assert.equal(resolveDataDir(undefined, { MOAT_DATA_DIR: "/srv/moat" }), "/srv/moat");
    assert.equal(resolveDataDir(undefined, {}), resolve(process.cwd(), ".moat"));
  });
});

describe("parseConfig: a behavior's websocket switch", () => {
  const behaviorsWith = (websocket: unknown) => {
    const document = minimal();
    document.distributions[0].behaviors = [{ path: "/ws/*", target: "api", websocket }, { path: "*", target: "api" }];
    return parseConfig(document, { source: "t", baseDir: "/", env: {} }).distributions[0]?.behaviors ?? [];
  };

  it("is off unless a behavior turns it on", () => {
    assert.deepEqual(behaviorsWith(false).map((b) => b.websocket), [null, null]);
  });

  it("true takes CloudFront's 10 minute idle limit and a 2 hour lifetime", () => {
    assert.deepEqual(behaviorsWith(true)[0]?.websocket, { idleTimeoutMs: 600_000, maxLifetimeMs: 7_200_000 });
  });

  it("an object sets the limits, each defaulting on its own", () => {
    assert.deepEqual(behaviorsWith({ idleTimeout: "30s" })[0]?.websocket, { idleTimeoutMs: 30_000, maxLifetimeMs: 7_200_000 });
  });
});
