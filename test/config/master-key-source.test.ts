// pki.masterKeyFile and where the master key comes from: flag, MOAT_MASTER_KEY, MOAT_MASTER_KEY_FILE, config, in that order.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { parseConfig, resolveMasterKeySource } from "../../src/config/index.ts";
import { assertOnlyIssue, minimal } from "./fixture.ts";

describe("pki.masterKeyFile", () => {
  it("resolves against the config's directory", () => {
    const config = parseConfig({ ...minimal(), dataDir: "/var/lib/moat", pki: { masterKeyFile: "keys/master.key" } }, { source: "t", baseDir: "/etc/moat", env: {} });
    assert.equal(config.pki.masterKeyFile, "/etc/moat/keys/master.key");
  });

  it("must not be empty", () => {
    assertOnlyIssue({ ...minimal(), pki: { masterKeyFile: "" } }, "pki.masterKeyFile", "must not be empty");
  });

  it("must be outside the data directory, and the issue names both paths", () => {
    const document = { ...minimal(), dataDir: "/var/lib/moat", pki: { masterKeyFile: "/var/lib/moat/master.key" } };
    assertOnlyIssue(document, "pki.masterKeyFile", "outside the data directory /var/lib/moat", "/var/lib/moat/master.key");
  });

  it("is checked against the data directory MOAT_DATA_DIR chose", () => {
    const document = { ...minimal(), pki: { masterKeyFile: "/srv/moat/master.key" } };
    assert.throws(() => parseConfig(document, { source: "t", baseDir: "/etc/moat", env: { MOAT_DATA_DIR: "/srv/moat" } }), /pki\.masterKeyFile: must be outside/);
  });

  it("may be a sibling whose name starts like the data directory's", () => {
    const config = parseConfig({ ...minimal(), dataDir: "/var/lib/moat", pki: { masterKeyFile: "/var/lib/moat.master-key" } }, { source: "t", baseDir: "/", env: {} });
    assert.equal(config.pki.masterKeyFile, "/var/lib/moat.master-key");
  });
});

describe("resolveMasterKeySource", () => {
  const base64 = Buffer.alloc(32, 7).toString("base64");

  it("is null when nothing names a key", () => {
    assert.equal(resolveMasterKeySource({ env: {} }), null);
    assert.equal(resolveMasterKeySource({ env: { MOAT_MASTER_KEY: "", MOAT_MASTER_KEY_FILE: "" }, configuredFile: null }), null);
  });

  it("takes the config's file, naming the config", () => {
    assert.deepEqual(resolveMasterKeySource({ env: {}, configuredFile: "/etc/moat/master.key", configSource: "/etc/moat/moat.yaml" }), {
      kind: "file",
      path: "/etc/moat/master.key",
      from: "pki.masterKeyFile in /etc/moat/moat.yaml",
    });
  });

  it("prefers MOAT_MASTER_KEY_FILE to the config, resolved against the working directory", () => {
    const source = resolveMasterKeySource({ env: { MOAT_MASTER_KEY_FILE: "master.key" }, configuredFile: "/etc/moat/master.key" });
    assert.deepEqual(source, { kind: "file", path: resolve("master.key"), from: "MOAT_MASTER_KEY_FILE" });
  });

  it("prefers MOAT_MASTER_KEY to both, and never shows its value when logged or inspected", () => {
    const source = resolveMasterKeySource({ env: { MOAT_MASTER_KEY: base64, MOAT_MASTER_KEY_FILE: "/k" }, configuredFile: "/etc/moat/master.key" });
    assert.equal(source?.kind, "env");
    assert.equal(source.kind === "env" && source.value(), base64);
    assert.ok(!JSON.stringify(source).includes(base64));
    assert.ok(!inspect(source, { depth: 5 }).includes(base64));
  });

  it("prefers a --master-key-file flag to everything", () => {
    const source = resolveMasterKeySource({ flagFile: "/opt/k", env: { MOAT_MASTER_KEY: base64 }, configuredFile: "/etc/moat/master.key" });
    assert.deepEqual(source, { kind: "file", path: "/opt/k", from: "--master-key-file" });
  });
});
