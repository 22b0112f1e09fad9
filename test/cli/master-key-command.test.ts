// The master key from the command line, as real processes: `moat ca init --master-key-file`, and `moat start` and `moat ca` without a key or with the wrong one.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import { runMoat } from "./moat-process.ts";
import type { MoatRun } from "./moat-process.ts";

function assertExit(run: MoatRun, code: number): void {
  assert.equal(run.code, code, `expected exit code ${code}, got ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

function assertNoStack(run: MoatRun): void {
  assert.doesNotMatch(run.stderr, /\n\s+at /, `expected no stack trace, got:\n${run.stderr}`);
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const isMissing = (path: string) => stat(path).then(() => false, (error: NodeJS.ErrnoException) => error.code === "ENOENT");

/** Every file under `dir` with its mode and bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return new Map(await Promise.all(files.map(async (f) => [f, `${await modeOf(f)} ${(await readFile(f)).toString("base64")}`] as const)));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "moat-master-key-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const moat = (args: string[], env: NodeJS.ProcessEnv = {}) => runMoat(args, { cwd: dir, env });

describe("moat ca init --master-key-file", () => {
  test("creates the key file (0600) and a CA whose keys it encrypts; issue-server uses it; ca bundle needs none", async () => {
    const dataDir = join(dir, "data");
    const keyFile = join(dir, "etc", "master.key");
    const init = await moat(["ca", "init", "--data-dir", dataDir, "--master-key-file", keyFile]);
    assertExit(init, 0);
    assert.equal(await modeOf(keyFile), 0o600);
    assert.ok(init.stdout.includes(`Created the master key ${keyFile} (mode 0600)`), init.stdout);
    assert.ok(init.stdout.includes(`pki.masterKeyFile: ${keyFile}`), init.stdout);
    const keyText = (await readFile(keyFile, "utf8")).trim();
    assert.ok(!init.stdout.includes(keyText) && !init.stderr.includes(keyText), "the key is never printed");
    for (const name of ["root.key", "intermediate.key"]) {
      const text = await readFile(join(dataDir, "ca", name), "utf8");
      assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, name);
      assert.equal(await modeOf(join(dataDir, "ca", name)), 0o600, name);
    }

    const out = join(dir, "out");
    const issue = await moat(["ca", "issue-server", "--data-dir", dataDir, "--dns", "api.test", "--out", out, "--master-key-file", keyFile]);
    assertExit(issue, 0);
    assert.match(issue.stdout, /not encrypted: the origin's TLS server reads it as is/);
    assert.match(await readFile(join(out, "api.test.key"), "utf8"), /^-----BEGIN PRIVATE KEY-----/, "the origin's key is plaintext, for its TLS server");

    const bundle = await moat(["ca", "bundle", "--data-dir", dataDir]);
    assertExit(bundle, 0);
    assert.equal(bundle.stdout, await readFile(join(dataDir, "ca", "bundle.pem"), "utf8"));
  });

  test("an existing key file is used, not replaced", async () => {
    const keyFile = join(dir, "master.key");
    const text = `${randomBytes(32).toString("base64")}\n`;
    await writeFile(keyFile, text, { mode: 0o600 });
    assertExit(await moat(["ca", "init", "--data-dir", join(dir, "data"), "--master-key-file", keyFile]), 0);
    assert.equal(await readFile(keyFile, "utf8"), text);
  });

  test("a key file inside the data directory is refused: exit 1, the fix, nothing created", async () => {
    const dataDir = join(dir, "data");
    const run = await moat(["ca", "init", "--data-dir", dataDir, "--master-key-file", join(dataDir, "master.key")]);
    assertExit(run, 1);
    assert.match(run.stderr, /inside the data directory/);
    assert.match(run.stderr, /move it out of the data directory/);
    assertNoStack(run);
    assert.ok(await isMissing(dataDir));
  });

  test("onto an existing CA: exit 1, and the key file it would have created is not left behind", async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat(["ca", "init", "--data-dir", dataDir, "--master-key-file", join(dir, "first.key")]), 0);
    const before = await snapshot(dataDir);
    const run = await moat(["ca", "init", "--data-dir", dataDir, "--master-key-file", join(dir, "second.key")]);
    assertExit(run, 1);
    assert.match(run.stderr, /already exists/);
    assert.ok(await isMissing(join(dir, "second.key")));
    assert.deepEqual(await snapshot(dataDir), before);
  });

  test("without any master key: exit 1 naming the three sources and how to make one; nothing created", async () => {
    const dataDir = join(dir, "data");
    const run = await moat(["ca", "init", "--data-dir", dataDir]);
    assertExit(run, 1);
    for (const word of ["no master key", "MOAT_MASTER_KEY", "MOAT_MASTER_KEY_FILE", "pki.masterKeyFile", "moat ca init --master-key-file"]) {
      assert.ok(run.stderr.includes(word), `mentions ${word}:\n${run.stderr}`);
    }
    assertNoStack(run);
    assert.ok(await isMissing(dataDir));
  });
});

describe("moat start and the master key", () => {
  const config = (extra = "") => `dataDir: ./data
${extra}listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins:
      - { id: app, url: "https://localhost:1" }
`;

  async function setUp() {
    const key = await createTestMasterKey();
    const dataDir = join(dir, "data");
    await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
    const configFile = join(dir, "moat.yaml");
    await writeFile(configFile, config());
    return { key, dataDir, configFile, before: await snapshot(dataDir) };
  }

  test("without a master key: exit 1, a clear message, the data directory untouched", async () => {
    const { dataDir, configFile, before } = await setUp();
    const run = await moat(["start", "--config", configFile]);
    assertExit(run, 1);
    assert.match(run.stderr, /^moat: no master key: Moat encrypts its private keys at rest/);
    assertNoStack(run);
    assert.deepEqual(await snapshot(dataDir), before);
  });

  test("with the wrong master key: exit 1 naming the key file it could not decrypt, the data directory byte for byte", async () => {
    const { dataDir, configFile, before } = await setUp();
    const wrong = await createTestMasterKey();
    const run = await moat(["start", "--config", configFile], wrong.env);
    assertExit(run, 1);
    assert.ok(run.stderr.includes(`cannot decrypt ${join(dataDir, "ca", "root.key")} with the master key from MOAT_MASTER_KEY`), run.stderr);
    assert.ok(!run.stderr.includes(wrong.base64) && !run.stdout.includes(wrong.base64));
    assertNoStack(run);
    assert.deepEqual(await snapshot(dataDir), before);
  });

  test("MOAT_MASTER_KEY of the wrong length: exit 1, the variable named, its value never printed", async () => {
    const { configFile } = await setUp();
    const value = randomBytes(31).toString("base64");
    const run = await moat(["start", "--config", configFile], { MOAT_MASTER_KEY: value });
    assertExit(run, 1);
    assert.match(run.stderr, /the master key from MOAT_MASTER_KEY is unusable: it decodes to 31 bytes, not 32/);
    assert.ok(!run.stderr.includes(value) && !run.stdout.includes(value));
  });

  test("pki.masterKeyFile that others can read: exit 1 with the chmod fix", async () => {
    const { key, configFile } = await setUp();
    const keyFile = join(dir, "master.key");
    await writeFile(keyFile, `${key.base64}\n`);
    await chmod(keyFile, 0o644);
    await writeFile(configFile, config(`pki: { masterKeyFile: ./master.key }\n`));
    const run = await moat(["start", "--config", configFile]);
    assertExit(run, 1);
    assert.ok(run.stderr.includes(`chmod 600 ${keyFile}`), run.stderr);
  });

  test("pki.masterKeyFile inside the data directory: refused by the config check, with its path", async () => {
    const { configFile } = await setUp();
    await writeFile(configFile, config(`pki: { masterKeyFile: ./data/master.key }\n`));
    const run = await moat(["config", "check", configFile]);
    assertExit(run, 1);
    assert.match(run.stderr, /pki\.masterKeyFile: must be outside the data directory/);
  });
});
