// Every rule of the config format, broken one at a time: each must produce exactly one issue, at the right path, saying what is wrong.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigInvalidError } from "../../src/errors.ts";
import { parseConfig } from "../../src/config/index.ts";
import { assertIssue, assertOnlyIssue, issuesOf, minimal, sketch } from "./fixture.ts";

// any: these tests reach into the document to break it on purpose.
type Case = [name: string, breakIt: (document: any) => void, path: string, ...words: string[]];

function runCases(base: () => unknown, cases: readonly Case[]): void {
  for (const [name, breakIt, path, ...words] of cases) {
    it(name, () => {
      const document = base();
      breakIt(document);
      assertOnlyIssue(document, path, ...words);
    });
  }
}

const D0 = "distributions[0]";
const O0 = `${D0}.origins[0]`;

describe("config errors: the document and its top-level keys", () => {
  it("refuses a document that is not a mapping", () => {
    for (const document of [null, "shop", [], 42]) assertOnlyIssue(document, "", "must be a mapping");
  });
  runCases(minimal, [
    ["requires distributions", (d) => delete d.distributions, "distributions", "required"],
    ["requires at least one distribution", (d) => (d.distributions = []), "distributions", "at least 1"],
    ["requires distributions to be a list", (d) => (d.distributions = { shop: {} }), "distributions", "must be a list"],
    ["refuses an empty dataDir", (d) => (d.dataDir = ""), "dataDir", "must not be empty"],
    ["names an unknown top-level key", (d) => (d.telemetry = {}), "telemetry", "unknown key"],
    ["suggests the key a typo meant", (d) => (d.distributons = []), "distributons", 'did you mean "distributions"'],
  ]);
});

describe("config errors: pki", () => {
  runCases(minimal, [
    ["trustDomain must be a DNS name", (d) => (d.pki = { trustDomain: "moat internal" }), "pki.trustDomain", "DNS name", '"moat internal"'],
    ["trustDomain may not be an IP address", (d) => (d.pki = { trustDomain: "10.0.0.1" }), "pki.trustDomain", "DNS name"],
    ["keyAlgorithm must be a known one", (d) => (d.pki = { keyAlgorithm: "ed25519" }), "pki.keyAlgorithm", "ecdsa-p256", "rsa-3072", '"ed25519"'],
    ["clientCertValidity needs a unit", (d) => (d.pki = { clientCertValidity: 3600 }), "pki.clientCertValidity", "needs a unit"],
    ["clientCertValidity at most 90d", (d) => (d.pki = { clientCertValidity: "91d" }), "pki.clientCertValidity", "between 1s and 90d", '"91d"'],
    ["clientCertValidity at least 1s", (d) => (d.pki = { clientCertValidity: "999ms" }), "pki.clientCertValidity", "between 1s and 90d"],
    ["renewAtFraction at least 0.5", (d) => (d.pki = { renewAtFraction: 0.2 }), "pki.renewAtFraction", "at least 0.5"],
    ["renewAtFraction at most 0.95", (d) => (d.pki = { renewAtFraction: 1 }), "pki.renewAtFraction", "at most 0.95"],
    ["renewAtFraction is a number", (d) => (d.pki = { renewAtFraction: "2/3" }), "pki.renewAtFraction", "must be a number"],
    ["an intermediate lives at least a day", (d) => (d.pki = { ca: { intermediateValidity: "1h" } }), "pki.ca.intermediateValidity", "between 1d and 7305d"],
    ["a rollover overlap is a duration", (d) => (d.pki = { ca: { rolloverOverlap: 30 } }), "pki.ca.rolloverOverlap", "needs a unit"],
    ["autoRotate is a boolean", (d) => (d.pki = { ca: { autoRotate: "yes" } }), "pki.ca.autoRotate", "true or false"],
    ["serverCertValidity at most 398d", (d) => (d.pki = { serverCertValidity: "399d" }), "pki.serverCertValidity", "between 1s and 398d"],
    ["serverCertValidity with an unknown unit", (d) => (d.pki = { serverCertValidity: "1y" }), "pki.serverCertValidity", 'unknown unit "y"', "unit is needed"],
    ["names an unknown pki key", (d) => (d.pki = { keyAlgoritm: "rsa-2048" }), "pki.keyAlgoritm", 'did you mean "keyAlgorithm"'],
  ]);
});

describe("config errors: listen", () => {
  runCases(minimal, [
    ["host must be an address or hostname", (d) => (d.listen = { host: "0.0.0.0:80" }), "listen.host", "IP address or a hostname"],
    ["https port at least 0", (d) => (d.listen = { https: -1 }), "listen.https", "at least 0"],
    ["https port at most 65535", (d) => (d.listen = { https: 65536 }), "listen.https", "at most 65535"],
    ["https port must be an integer", (d) => (d.listen = { https: 8443.5 }), "listen.https", "integer"],
    ["https port must not be a string", (d) => (d.listen = { https: "8443" }), "listen.https", "must be a number", '"8443"'],
    ["http is a port or off", (d) => (d.listen = { http: "on" }), "listen.http", "port number", "off", '"on"'],
    ["http port in range", (d) => (d.listen = { http: 70000 }), "listen.http", "at most 65535"],
    ["ports must differ", (d) => (d.listen = { https: 9000, http: 9000 }), "listen.http", "must differ from listen.https", "9000"],
    ["ports must differ from the default https port", (d) => (d.listen = { http: 8443 }), "listen.http", "must differ", "8443"],
    ["the admin port is not part of the format yet", (d) => (d.listen = { admin: 9000 }), "listen.admin", "unknown key"],
  ]);
});

describe("config errors: distributions", () => {
  runCases(minimal, [
    ["id is required", (d) => delete d.distributions[0].id, `${D0}.id`, "required"],
    ["id is lowercase", (d) => (d.distributions[0].id = "Shop"), `${D0}.id`, "lowercase", '"Shop"'],
    ["id has no underscore", (d) => (d.distributions[0].id = "my_shop"), `${D0}.id`, "lowercase letters, digits or hyphens"],
    ["id does not start with a hyphen", (d) => (d.distributions[0].id = "-shop"), `${D0}.id`, "starting and ending"],
    ["id is at most 63 characters", (d) => (d.distributions[0].id = "a".repeat(64)), `${D0}.id`, "1-63"],
    ["aliases are required", (d) => delete d.distributions[0].aliases, `${D0}.aliases`, "required"],
    ["at least one alias", (d) => (d.distributions[0].aliases = []), `${D0}.aliases`, "at least 1"],
    ["an alias has no port", (d) => (d.distributions[0].aliases = ["shop.test:443"]), `${D0}.aliases[0]`, "port"],
    ["an alias is not a URL", (d) => (d.distributions[0].aliases = ["https://shop.test"]), `${D0}.aliases[0]`, "not a URL"],
    ["a wildcard is a whole first label", (d) => (d.distributions[0].aliases = ["shop.*.test"]), `${D0}.aliases[0]`, "wildcard"],
    ["a wildcard is a single label", (d) => (d.distributions[0].aliases = ["*.*.test"]), `${D0}.aliases[0]`, "wildcard"],
    ["no IPv6 literal alias", (d) => (d.distributions[0].aliases = ["::1"]), `${D0}.aliases[0]`, "not an IPv6 address"],
    ["no all-numeric top label", (d) => (d.distributions[0].aliases = ["shop.123"]), `${D0}.aliases[0]`, "hostname"],
    ["aliases unique in a distribution", (d) => (d.distributions[0].aliases = ["a.test", "A.test"]), `${D0}.aliases[1]`, "duplicate alias", `${D0}.aliases[0]`],
    ["tls.minVersion is 1.2 or 1.3", (d) => (d.distributions[0].tls = { minVersion: "TLSv1.1" }), `${D0}.tls.minVersion`, "TLSv1.2", "TLSv1.3"],
    ["underscoreHeaders is drop or forward", (d) => (d.distributions[0].underscoreHeaders = "allow"), `${D0}.underscoreHeaders`, "drop", "forward"],
    ["tls.ciphers is not a per-distribution setting", (d) => (d.distributions[0].tls = { ciphers: "TLS_AES_256_GCM_SHA384" }), `${D0}.tls.ciphers`, "unknown key"],
    ["suggests origins for orgins", (d) => (d.distributions[0].orgins = []), `${D0}.orgins`, 'unknown key (did you mean "origins"?)'],
  ]);

  it("accepts IPv4 literals and wildcard aliases", () => {
    const document = minimal();
    document.distributions[0].aliases = ["192.0.2.10", "*.cdn.example.test"];
    assert.doesNotThrow(() => parseConfig(document, { source: "t", baseDir: "/", env: {} }));
  });

  it("reports duplicate distribution ids and aliases across distributions", () => {
    const document = minimal();
    document.distributions.push({ id: "shop", aliases: ["SHOP.example.test"], origins: [{ id: "api", url: "https://x.test" }] });
    const issues = issuesOf(document);
    assert.equal(issues.length, 2);
    assertIssue(issues, "distributions[1].id", 'duplicate id "shop"', "distributions[0].id");
    assertIssue(issues, "distributions[1].aliases[0]", 'duplicate alias "shop.example.test"', "distributions[0].aliases[0]");
  });
});

describe("config errors: certificates", () => {
  runCases(minimal, [
    ["a certificate source needs a form", (d) => (d.distributions[0].viewerCertificate = {}), `${D0}.viewerCertificate`, "issuedBy: moat", "cert, key"],
    ["issuedBy is moat", (d) => (d.distributions[0].viewerCertificate = { issuedBy: "letsencrypt" }), `${D0}.viewerCertificate.issuedBy`, '"moat"'],
    ["not issued and imported at once", (d) => (d.distributions[0].viewerCertificate = { issuedBy: "moat", cert: "a.pem", key: "a.key" }), `${D0}.viewerCertificate`, "not both"],
    ["an imported cert needs its key", (d) => (d.distributions[0].viewerCertificate = { cert: "a.pem" }), `${D0}.viewerCertificate.key`, "required with cert"],
    ["an imported key needs its cert", (d) => (d.distributions[0].viewerCertificate = { key: "a.key" }), `${D0}.viewerCertificate.cert`, "required with key"],
    ["none only for origin client certificates", (d) => (d.distributions[0].viewerCertificate = "none"), `${D0}.viewerCertificate`, "must be a mapping"],
    ["a client certificate is none or a source", (d) => (d.distributions[0].origins[0].mtls = { clientCertificate: "off" }), `${O0}.mtls.clientCertificate`, "none", "issuedBy: moat"],
    ["a client certificate object is checked as a source", (d) => (d.distributions[0].origins[0].mtls = { clientCertificate: { cert: "c.pem" } }), `${O0}.mtls.clientCertificate.key`, "required with cert"],
    ["not issued and a PKCS#12 at once", (d) => (d.distributions[0].viewerCertificate = { issuedBy: "moat", pkcs12: "a.p12" }), `${D0}.viewerCertificate`, "not both"],
    ["a name imported through the API stands alone", (d) => (d.distributions[0].viewerCertificate = { imported: "shop-ev", cert: "a.pem", key: "a.key" }), `${D0}.viewerCertificate`, "give it alone, without cert, key"],
    ["an imported name is an id", (d) => (d.distributions[0].viewerCertificate = { imported: "../etc" }), `${D0}.viewerCertificate.imported`],
    ["not issued with a passphrase file", (d) => (d.distributions[0].viewerCertificate = { issuedBy: "moat", passphraseFile: "a.pass" }), `${D0}.viewerCertificate`, "not both"],
    ["a PKCS#12 or PEM files, not both", (d) => (d.distributions[0].viewerCertificate = { pkcs12: "a.p12", cert: "a.pem", key: "a.key" }), `${D0}.viewerCertificate.pkcs12`, "either pkcs12, or cert and key"],
    ["a PKCS#12 with a lone key is still both", (d) => (d.distributions[0].origins[0].mtls = { clientCertificate: { pkcs12: "c.p12", key: "c.key" } }), `${O0}.mtls.clientCertificate.pkcs12`, "not both"],
    ["a passphrase file alone is no certificate", (d) => (d.distributions[0].viewerCertificate = { passphraseFile: "a.pass" }), `${D0}.viewerCertificate`, "passphraseFile opens an imported key", "pkcs12"],
    ["a passphrase file with a cert still needs the key", (d) => (d.distributions[0].viewerCertificate = { cert: "a.pem", passphraseFile: "a.pass" }), `${D0}.viewerCertificate.key`, "required with cert"],
    ["pkcs12 is a path", (d) => (d.distributions[0].viewerCertificate = { pkcs12: "" }), `${D0}.viewerCertificate.pkcs12`, "must not be empty"],
    ["passphraseFile is a path", (d) => (d.distributions[0].origins[0].mtls = { clientCertificate: { pkcs12: "c.p12", passphraseFile: 42 } }), `${O0}.mtls.clientCertificate.passphraseFile`, "must be a string"],
    ["names an unknown key in a client certificate", (d) => (d.distributions[0].origins[0].mtls = { clientCertificate: { issuedBy: "moat", keyy: "k" } }), `${O0}.mtls.clientCertificate.keyy`, "unknown key", 'did you mean "key"'],
  ]);
});

describe("config errors: imported certificate typos", () => {
  it("suggests pkcs12 for a misspelt key, and says which forms a source takes", () => {
    const document = minimal();
    document.distributions[0].viewerCertificate = { pkcs21: "a.p12" };
    const issues = issuesOf(document);
    assert.equal(issues.length, 2);
    assertIssue(issues, `${D0}.viewerCertificate.pkcs21`, "unknown key", 'did you mean "pkcs12"');
    assertIssue(issues, `${D0}.viewerCertificate`, "{ cert, key, passphraseFile? }", "{ pkcs12, passphraseFile? }");
  });
});

describe("config errors: origins", () => {
  runCases(minimal, [
    ["at least one origin", (d) => (d.distributions[0].origins = []), `${D0}.origins`, "at least 1"],
    ["url is https", (d) => (d.distributions[0].origins[0].url = "http://x"), `${O0}.url`, "https://", '"http://x"'],
    ["url is a URL", (d) => (d.distributions[0].origins[0].url = "api.internal"), `${O0}.url`, "https://"],
    ["url has a valid port", (d) => (d.distributions[0].origins[0].url = "https://api.internal:99999"), `${O0}.url`, "not a valid URL", "port"],
    ["url has no userinfo", (d) => (d.distributions[0].origins[0].url = "https://u:p@api.internal"), `${O0}.url`, "user name or password"],
    ["url has no query", (d) => (d.distributions[0].origins[0].url = "https://api.internal/?a=1"), `${O0}.url`, "query"],
    ["url has no empty query", (d) => (d.distributions[0].origins[0].url = "https://api.internal/?"), `${O0}.url`, "query"],
    ["url has no fragment", (d) => (d.distributions[0].origins[0].url = "https://api.internal/#top"), `${O0}.url`, "fragment"],
    ["url is a string", (d) => (d.distributions[0].origins[0].url = 443), `${O0}.url`, "must be a string", "443"],
    ["origin id syntax", (d) => (d.distributions[0].origins[0].id = "API"), `${O0}.id`, "lowercase"],
    ["serverName is a hostname", (d) => (d.distributions[0].origins[0].mtls = { serverName: "api internal" }), `${O0}.mtls.serverName`, "hostname"],
    ["trustedCa is a path", (d) => (d.distributions[0].origins[0].mtls = { trustedCa: "" }), `${O0}.mtls.trustedCa`, "must not be empty"],
    ["a timeout needs a unit", (d) => (d.distributions[0].origins[0].timeouts = { connect: 5 }), `${O0}.timeouts.connect`, "needs a unit"],
    ["a timeout is at least 1ms", (d) => (d.distributions[0].origins[0].timeouts = { connect: "0ms" }), `${O0}.timeouts.connect`, "between 1ms and 10m"],
    ["a timeout is at most 10m", (d) => (d.distributions[0].origins[0].timeouts = { response: "11m" }), `${O0}.timeouts.response`, "between 1ms and 10m", '"11m"'],
    ["a timeout has a known unit", (d) => (d.distributions[0].origins[0].timeouts = { response: "30sec" }), `${O0}.timeouts.response`, 'unknown unit "sec"'],
    ["names an unknown timeout", (d) => (d.distributions[0].origins[0].timeouts = { read: "5s" }), `${O0}.timeouts.read`, "unknown key"],
  ]);
});

describe("config errors: origin groups", () => {
  const withGroup = () => {
    const document = sketch();
    document.distributions.splice(1);
    return document;
  };
  const G0 = `${D0}.originGroups[0]`;
  runCases(withGroup, [
    ["exactly two members, not one", (d) => (d.distributions[0].originGroups[0].members = ["api"]), `${G0}.members`, "exactly 2", "primary then secondary", "got 1"],
    ["exactly two members, not none", (d) => (d.distributions[0].originGroups[0].members = []), `${G0}.members`, "exactly 2", "got 0"],
    ["distinct members", (d) => (d.distributions[0].originGroups[0].members = ["api", "api"]), `${G0}.members[1]`, 'duplicate "api"'],
    ["a member is an origin of this distribution", (d) => (d.distributions[0].originGroups[0].members = ["api", "api-dx"]), `${G0}.members[1]`, 'no origin "api-dx"', 'did you mean "api-dr"'],
    ["a member is not a group", (d) => (d.distributions[0].originGroups[0].members = ["api", "api-ha"]), `${G0}.members[1]`, "is an origin group"],
    ["failoverOn codes from 400", (d) => (d.distributions[0].originGroups[0].failoverOn = [200]), `${G0}.failoverOn[0]`, "400 to 599", "200"],
    ["failoverOn codes to 599", (d) => (d.distributions[0].originGroups[0].failoverOn = [502, 600]), `${G0}.failoverOn[1]`, "400 to 599"],
    ["failoverOn codes are integers", (d) => (d.distributions[0].originGroups[0].failoverOn = [502.5]), `${G0}.failoverOn[0]`, "integer"],
    ["failoverOn codes are distinct", (d) => (d.distributions[0].originGroups[0].failoverOn = [502, 503, 502]), `${G0}.failoverOn[2]`, "duplicate 502", "[0]"],
    ["a group id is not an origin id", (d) => d.distributions[0].originGroups.push({ id: "api", members: ["api", "api-dr"] }), `${D0}.originGroups[1].id`, 'duplicate id "api"', `${O0}.id`],
    ["origin ids are distinct", (d) => d.distributions[0].origins.push({ id: "api", url: "https://x.test" }), `${D0}.origins[2].id`, 'duplicate id "api"'],
    ["group ids are distinct", (d) => d.distributions[0].originGroups.push({ id: "api-ha", members: ["api-dr", "api"] }), `${D0}.originGroups[1].id`, 'duplicate id "api-ha"'],
  ]);
  it("exactly two members, not three (and each checked)", () => {
    const document = withGroup();
    document.distributions[0].originGroups[0].members = ["api", "api-dr", "api-eu"];
    const issues = issuesOf(document);
    assertIssue(issues, `${G0}.members`, "exactly 2", "got 3");
    assertIssue(issues, `${G0}.members[2]`, 'no origin "api-eu"');
    assert.equal(issues.length, 2);
  });
  it("a member of another distribution does not count", () => {
    const document = sketch();
    document.distributions[0].originGroups[0].members = ["api", "web"];
    assertOnlyIssue(document, `${G0}.members[1]`, 'no origin "web" in this distribution');
  });
});

describe("config errors: behaviors", () => {
  const twoOrigins = () => {
    const document = minimal();
    document.distributions[0].origins.push({ id: "cdn", url: "https://cdn.internal" });
    document.distributions[0].behaviors = [{ path: "*", target: "api" }, { path: "/static/*", target: "cdn" }];
    return document;
  };
  const B = `${D0}.behaviors`;
  runCases(twoOrigins, [
    ["required with several origins", (d) => delete d.distributions[0].behaviors, B, "required", '"*"'],
    ["needs the default", (d) => (d.distributions[0].behaviors[0].path = "/api/*"), B, 'default behavior, with path "*"'],
    ["only one default", (d) => (d.distributions[0].behaviors[1].path = "*"), `${B}[1].path`, 'duplicate path "*"', `${B}[0].path`],
    ["a path is * or starts with /", (d) => (d.distributions[0].behaviors[1].path = "static/*"), `${B}[1].path`, 'start with "/"'],
    ["a target exists", (d) => (d.distributions[0].behaviors[1].target = "cnd"), `${B}[1].target`, 'no origin or origin group "cnd"', 'did you mean "cdn"'],
    ["a target is required", (d) => delete d.distributions[0].behaviors[1].target, `${B}[1].target`, "required"],
    ["allowed methods include GET and HEAD", (d) => (d.distributions[0].behaviors[1].allowedMethods = ["GET", "POST"]), `${B}[1].allowedMethods`, "GET and HEAD"],
    ["allowed methods are known and uppercase", (d) => (d.distributions[0].behaviors[1].allowedMethods = ["GET", "HEAD", "get"]), `${B}[1].allowedMethods[2]`, "one of"],
    ["allowed methods are distinct", (d) => (d.distributions[0].behaviors[1].allowedMethods = ["GET", "HEAD", "GET"]), `${B}[1].allowedMethods[2]`, 'duplicate "GET"'],
    ["a cache policy's defaultTtl lies within its TTLs", (d) => (d.distributions[0].behaviors[1].cache = { defaultTtl: "1d", maxTtl: "1h" }), `${B}[1].cache.defaultTtl`, "between minTtl and maxTtl"],
    ["websocket is a switch or its limits", (d) => (d.distributions[0].behaviors[1].websocket = "on"), `${B}[1].websocket`, "true, false, or { idleTimeout, maxLifetime }", '"on"'],
    ["a websocket idle timeout is bounded", (d) => (d.distributions[0].behaviors[1].websocket = { idleTimeout: "2h" }), `${B}[1].websocket.idleTimeout`, "between 1s and 1h"],
    ["a websocket lifetime needs a unit", (d) => (d.distributions[0].behaviors[1].websocket = { maxLifetime: 60 }), `${B}[1].websocket.maxLifetime`, 'as in "60s"'],
    ["websocket limits are named", (d) => (d.distributions[0].behaviors[1].websocket = { idle: "1m" }), `${B}[1].websocket.idle`, "unknown key"],
  ]);

  it("required with one origin and a group", () => {
    const document = minimal();
    document.distributions[0].origins.push({ id: "dr", url: "https://dr.internal" });
    document.distributions[0].originGroups = [{ id: "ha", members: ["api", "dr"] }];
    assertOnlyIssue(document, B, "required");
  });

  it("when listed with a single origin, still needs the default", () => {
    const document = minimal();
    document.distributions[0].behaviors = [{ path: "/static/*", target: "api" }];
    assertOnlyIssue(document, B, 'default behavior, with path "*"');
  });

  it("may target a group", () => {
    const document = sketch();
    document.distributions[0].behaviors[1].target = "api-ha";
    assert.doesNotThrow(() => parseConfig(document, { source: "t", baseDir: "/", env: {} }));
  });
});

describe("config errors: several at once", () => {
  it("reports every issue in one error, shape and references together", () => {
    const document = sketch();
    document.pki.clientCertValidity = "5";
    document.listen.https = 70000;
    document.distributions[0].origins[1].url = "http://x";
    document.distributions[0].orgins = [];
    document.distributions[0].behaviors[1].target = "nowhere";
    document.distributions[1].id = "shop";
    let caught: unknown;
    try {
      parseConfig(document, { source: "moat.yaml", baseDir: "/etc/moat", env: {} });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigInvalidError);
    assert.equal(caught.source, "moat.yaml");
    assert.equal(caught.issues.length, 6);
    assertIssue(caught.issues, "pki.clientCertValidity", "unit is needed");
    assertIssue(caught.issues, "listen.https", "at most 65535");
    assertIssue(caught.issues, "distributions[0].origins[1].url", "https://", '"http://x"');
    assertIssue(caught.issues, "distributions[0].orgins", 'did you mean "origins"');
    assertIssue(caught.issues, "distributions[0].behaviors[1].target", '"nowhere"');
    assertIssue(caught.issues, "distributions[1].id", "duplicate");
    // The message lists each issue on its own line with its path.
    assert.match(caught.message, /^moat\.yaml is not a valid Moat config:/);
    assert.match(caught.message, /\n {2}distributions\[0\]\.origins\[1\]\.url: must be an https:\/\/ URL \(got "http:\/\/x"\)/);
  });
});
