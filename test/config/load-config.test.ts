import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfigFile } from "../../src/config/index.ts";
import { ConfigInvalidError, ConfigUnreadableError } from "../../src/errors.ts";
import { assertIssue, SKETCH_YAML } from "./fixture.ts";

const MINIMAL_YAML = `
distributions:
  - id: shop
    aliases: [shop.example.test]
    origins: [{ id: api, url: "https://api.internal" }]
`;

let dir = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "moat-config-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `files` (name → text) into a fresh subdirectory and returns its path. */
async function writeFiles(files: Record<string, string>): Promise<string> {
  const sub = await mkdtemp(join(dir, "case-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(sub, name), text);
  return sub;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail("expected a rejection");
}

async function invalidIssues(file: string) {
  const error = await rejection(loadConfigFile(file, {}));
  assert.ok(error instanceof ConfigInvalidError, String(error));
  assert.equal(error.source, file);
  return error.issues;
}

describe("loadConfigFile: valid files", () => {
  it("loads the sketch, resolving paths against the file's directory", async () => {
    const sub = await writeFiles({ "moat.yaml": SKETCH_YAML, "shop.pem": "cert", "shop.key": "key", "origin-ca.pem": "ca" });
    const config = await loadConfigFile(join(sub, "moat.yaml"), {});
    assert.equal(config.source, join(sub, "moat.yaml"));
    assert.equal(config.dataDir, join(sub, "state"));
    const [shop] = config.distributions;
    assert.deepEqual(shop?.viewerCertificate, { kind: "imported", format: "pem", certFile: join(sub, "shop.pem"), keyFile: join(sub, "shop.key"), passphraseFile: null });
    assert.equal(shop?.origins[0]?.mtls.trustedCaFile, join(sub, "origin-ca.pem"));
    assert.equal(config.listen.httpPort, null);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(shop?.origins[0]?.mtls));
  });

  it("loads JSON with JSON.parse and uses the env it is given", async () => {
    const document = { distributions: [{ id: "shop", aliases: ["shop.example.test"], origins: [{ id: "api", url: "https://api.internal" }] }] };
    const sub = await writeFiles({ "moat.json": JSON.stringify(document) });
    const config = await loadConfigFile(join(sub, "moat.json"), { MOAT_DATA_DIR: "/srv/moat" });
    assert.equal(config.dataDir, "/srv/moat");
    assert.equal(config.distributions[0]?.origins[0]?.url, "https://api.internal:443");
  });
});

describe("loadConfigFile: unreadable files", () => {
  it("names a missing config file", async () => {
    const error = await rejection(loadConfigFile(join(dir, "nope.yaml"), {}));
    assert.ok(error instanceof ConfigUnreadableError);
    assert.equal(error.code, "config-unreadable");
    assert.match(error.message, /nope\.yaml: file not found/);
  });

  it("refuses a directory", async () => {
    const sub = await writeFiles({});
    const error = await rejection(loadConfigFile(sub, {}));
    assert.ok(error instanceof ConfigUnreadableError);
    assert.match(error.message, /is a directory/);
  });

  it("names the line and column of a YAML syntax error", async () => {
    const sub = await writeFiles({ "moat.yaml": "distributions:\n  - id: shop\n    aliases: [shop.example.test\n    origins: []\n" });
    const error = await rejection(loadConfigFile(join(sub, "moat.yaml"), {}));
    assert.ok(error instanceof ConfigUnreadableError);
    assert.match(error.message, /invalid YAML at line \d+, column \d+/);
    assert.match(error.message, /line 4/);
  });

  it("refuses a repeated YAML key rather than keeping the last", async () => {
    const sub = await writeFiles({ "moat.yaml": "dataDir: a\ndataDir: b\n" });
    const error = await rejection(loadConfigFile(join(sub, "moat.yaml"), {}));
    assert.ok(error instanceof ConfigUnreadableError);
    assert.match(error.message, /line 2, column 1: Map keys must be unique/);
  });

  it("gives JSON's own line and column for a JSON syntax error", async () => {
    const sub = await writeFiles({ "moat.json": '{\n  "dataDir": "a"\n  "distributions": []\n}' });
    const error = await rejection(loadConfigFile(join(sub, "moat.json"), {}));
    assert.ok(error instanceof ConfigUnreadableError);
    assert.match(error.message, /invalid JSON: .*line 3 column 3/);
  });

  it("reports an empty file as an invalid config", async () => {
    const sub = await writeFiles({ "moat.yaml": "" });
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assertIssue(issues, "", "must be a mapping");
  });
});

describe("loadConfigFile: referenced files", () => {
  it("names the config path and the absolute file of a missing file", async () => {
    const sub = await writeFiles({ "moat.yaml": SKETCH_YAML, "shop.pem": "cert", "shop.key": "key" });
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assert.equal(issues.length, 1);
    assertIssue(issues, "distributions[0].origins[0].mtls.trustedCa", `file not found: ${join(sub, "origin-ca.pem")}`);
  });

  it("checks imported viewer and client certificates and keys", async () => {
    const yaml = `${MINIMAL_YAML.replace('origins: [{ id: api, url: "https://api.internal" }]', `viewerCertificate: { cert: v.pem, key: v.key }
    origins:
      - id: api
        url: https://api.internal
        mtls: { clientCertificate: { cert: certs/c.pem, key: /nonexistent/c.key } }`)}`;
    const sub = await writeFiles({ "moat.yaml": yaml, "v.pem": "cert" });
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assert.equal(issues.length, 3, JSON.stringify(issues));
    assertIssue(issues, "distributions[0].viewerCertificate.key", `file not found: ${join(sub, "v.key")}`);
    assertIssue(issues, "distributions[0].origins[0].mtls.clientCertificate.cert", join(sub, "certs", "c.pem"));
    assertIssue(issues, "distributions[0].origins[0].mtls.clientCertificate.key", "file not found: /nonexistent/c.key");
  });

  it("checks PKCS#12 and passphrase files, naming each path", async () => {
    const yaml = `${MINIMAL_YAML.replace('origins: [{ id: api, url: "https://api.internal" }]', `viewerCertificate: { cert: v.pem, key: v.key, passphraseFile: secrets/v.pass }
    origins:
      - id: api
        url: https://api.internal
        mtls: { clientCertificate: { pkcs12: c.p12, passphraseFile: c.pass } }`)}`;
    const sub = await writeFiles({ "moat.yaml": yaml, "v.pem": "cert", "v.key": "key", "c.pass": "secret\n" });
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assert.equal(issues.length, 2, JSON.stringify(issues));
    assertIssue(issues, "distributions[0].viewerCertificate.passphraseFile", `file not found: ${join(sub, "secrets", "v.pass")}`);
    assertIssue(issues, "distributions[0].origins[0].mtls.clientCertificate.pkcs12", `file not found: ${join(sub, "c.p12")}`);

    await mkdir(join(sub, "secrets"));
    await writeFile(join(sub, "secrets", "v.pass"), "secret\n");
    await writeFile(join(sub, "c.p12"), "p12");
    const config = await loadConfigFile(join(sub, "moat.yaml"), {});
    const [shop] = config.distributions;
    assert.deepEqual(shop?.origins[0]?.mtls.clientCertificate, { kind: "imported", format: "pkcs12", pkcs12File: join(sub, "c.p12"), passphraseFile: join(sub, "c.pass") });
  });

  it("a missing file named by several distributions is one issue at each place that names it, under either spelling", async () => {
    const distributions = ["a", "b", "c"].map((id, index) => ({
      id,
      aliases: [`${id}.example.com`],
      // The same file, spelled two ways: it is looked at once, and reported at each place.
      viewerCertificate: { cert: "v.pem", key: index === 1 ? "./keys/../v.key" : "v.key" },
      origins: [{ id: "api", url: "https://api.internal" }],
    }));
    const sub = await writeFiles({ "moat.json": JSON.stringify({ distributions }), "v.pem": "cert" });
    const issues = await invalidIssues(join(sub, "moat.json"));
    assert.deepEqual(
      issues.map((issue) => `${issue.path}: ${issue.message}`),
      [0, 1, 2].map((index) => `distributions[${index}].viewerCertificate.key: file not found: ${join(sub, "v.key")}`),
    );
  });

  it("refuses a directory where a file is expected", async () => {
    const sub = await writeFiles({ "moat.yaml": SKETCH_YAML, "shop.pem": "cert", "shop.key": "key" });
    await mkdir(join(sub, "origin-ca.pem"));
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assertIssue(issues, "distributions[0].origins[0].mtls.trustedCa", "not a regular file");
  });

  it("refuses a file it may not read", async () => {
    const sub = await writeFiles({ "moat.yaml": SKETCH_YAML, "shop.pem": "cert", "shop.key": "key", "origin-ca.pem": "ca" });
    await chmod(join(sub, "shop.key"), 0o000);
    if (process.getuid?.() !== 0) {
      const issues = await invalidIssues(join(sub, "moat.yaml"));
      assertIssue(issues, "distributions[0].viewerCertificate.key", "permission denied");
      return;
    }
    // Root reads every file, so the check runs as an unprivileged user in a child process.
    for (const path of [dir, sub]) await chmod(path, 0o755);
    for (const name of ["moat.yaml", "shop.pem", "origin-ca.pem"]) await chmod(join(sub, name), 0o644);
    const cli = new URL("../../src/cli/main.ts", import.meta.url).pathname;
    const result = spawnSync(process.execPath, [cli, "config", "check", join(sub, "moat.yaml")], { uid: 65534, gid: 65534, encoding: "utf8" });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /distributions\[0\]\.viewerCertificate\.key: .*permission denied/);
  });

  it("reports missing files together with every other issue", async () => {
    const broken = SKETCH_YAML.replace("url: https://api-dr.internal", "url: http://api-dr.internal");
    const sub = await writeFiles({ "moat.yaml": broken });
    const issues = await invalidIssues(join(sub, "moat.yaml"));
    assert.equal(issues.length, 4, JSON.stringify(issues));
    assertIssue(issues, "distributions[0].origins[1].url", "https://");
    assertIssue(issues, "distributions[0].viewerCertificate.cert", "file not found");
    assertIssue(issues, "distributions[0].viewerCertificate.key", "file not found");
    assertIssue(issues, "distributions[0].origins[0].mtls.trustedCa", "file not found");
  });
});
