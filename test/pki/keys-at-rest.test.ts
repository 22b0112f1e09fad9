// Private keys at rest: encrypted under the master key, 0600, refused with a wrong or missing key without touching the disk, migrated from plaintext, never quoted.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { inspect, promisify } from "node:util";
import { resolveMasterKeySource } from "../../src/config/index.ts";
import {
  CaNotFoundError,
  KeyFileInsecureError,
  MasterKeyInvalidError,
  MasterKeyMissingError,
  MasterKeyWrongError,
} from "../../src/errors.ts";
import {
  createEphemeralCertificateAuthority,
  createIssuedCertificateStore,
  generateMasterKey,
  initCertificateAuthority,
  loadMasterKey,
  openCertificateAuthority,
  openOrCreateMasterKeyFile,
  openPrivateKey,
  readCaBundle,
  type MasterKey,
} from "../../src/pki/index.ts";

const HOUR_MS = 3_600_000;
const identity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: HOUR_MS };
const viewer = { name: "viewer-shop", dnsNames: ["shop.example.test"], validityMs: HOUR_MS };

async function tempDir(t: TestContext, prefix = "moat-keys-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** Every file and directory under `dir` with its mode and bytes: equal snapshots mean nothing changed. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const result = new Map<string, string>();
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const mode = (await modeOf(path)).toString(8);
    result.set(path, entry.isFile() ? `${mode} ${(await readFile(path)).toString("base64")}` : mode);
  }
  return result;
}

/** A key as MOAT_MASTER_KEY would give it, with its text, so tests can check that no message quotes it. */
async function envKey(): Promise<{ masterKey: MasterKey; base64: string }> {
  const base64 = randomBytes(32).toString("base64");
  return { masterKey: await loadMasterKey(resolveMasterKeySource({ env: { MOAT_MASTER_KEY: base64 } }), { dataDir: tmpdir() }), base64 };
}

/** Asserts a key file is an encrypted PKCS#8 PEM, 0600, and that nothing opens it without the passphrase. */
async function assertSealed(path: string): Promise<string> {
  const text = await readFile(path, "utf8");
  assert.doesNotMatch(text, /BEGIN PRIVATE KEY|BEGIN EC PRIVATE KEY|BEGIN RSA PRIVATE KEY/, `${path} holds a plaintext key`);
  assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/, path);
  assert.throws(() => createPrivateKey({ key: text, format: "pem", passphrase: "wrong" }), path);
  assert.equal(await modeOf(path), 0o600, path);
  return text;
}

/** Rewrites a sealed key file as the plaintext PKCS#8 PEM that Moat wrote before keys were encrypted. */
async function unseal(path: string, masterKey: MasterKey): Promise<string> {
  const { keyPem } = openPrivateKey(await readFile(path, "utf8"), masterKey, path);
  await writeFile(path, keyPem, { mode: 0o600 });
  return keyPem;
}

describe("keys on disk", () => {
  test("the CA's root and intermediate keys are encrypted PKCS#8, 0600, and open to their certificates", async (t) => {
    const dataDir = await tempDir(t);
    const masterKey = generateMasterKey();
    await initCertificateAuthority({ dataDir, masterKey });
    for (const [key, cert] of [["root.key", "root.pem"], ["intermediate.key", "intermediate.pem"]]) {
      const text = await assertSealed(join(dataDir, "ca", key!));
      const { keyPem, wasPlaintext } = openPrivateKey(text, masterKey, key!);
      assert.equal(wasPlaintext, false);
      assert.ok(new X509Certificate(await readFile(join(dataDir, "ca", cert!))).checkPrivateKey(createPrivateKey(keyPem)), `${key} matches ${cert}`);
    }
  });

  test("the store's leaf keys are encrypted, 0600, and reused after a reopen with the same key", async (t) => {
    const dataDir = await tempDir(t);
    const masterKey = generateMasterKey();
    const ca = await createEphemeralCertificateAuthority();
    const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
    const client = await store.originClientCertificate(identity);
    const server = await store.serverCertificate(viewer);
    await assertSealed(join(dataDir, "certs", "origin-client", "shop", "api", client.serialHex, "key.pem"));
    await assertSealed(join(dataDir, "certs", "server", "viewer-shop", server.serialHex, "key.pem"));
    const reopened = createIssuedCertificateStore({ ca, dataDir, masterKey });
    assert.equal((await reopened.originClientCertificate(identity)).serialHex, client.serialHex);
    assert.equal((await reopened.serverCertificate(viewer)).keyPem, server.keyPem);
  });

  test("reading the CA bundle needs no master key", async (t) => {
    const dataDir = await tempDir(t);
    const ca = await initCertificateAuthority({ dataDir, masterKey: generateMasterKey() });
    assert.equal(await readCaBundle(dataDir), ca.bundlePem);
    await assert.rejects(readCaBundle(join(dataDir, "nowhere")), CaNotFoundError);
  });
});

describe("a wrong master key", () => {
  test("opening the CA throws MasterKeyWrongError naming the file and the fix, and changes nothing", async (t) => {
    const dataDir = await tempDir(t);
    await initCertificateAuthority({ dataDir, masterKey: generateMasterKey() });
    const before = await snapshot(dataDir);
    const wrong = await envKey();
    await assert.rejects(openCertificateAuthority({ dataDir, masterKey: wrong.masterKey }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyWrongError);
      assert.equal(error.code, "master-key-wrong");
      assert.ok(error.message.includes(join(dataDir, "ca", "root.key")), error.message);
      assert.ok(error.message.includes("MOAT_MASTER_KEY") && error.message.includes(wrong.masterKey.id), error.message);
      assert.match(error.message, /Fix: give Moat the master key this data directory was created with/);
      assert.ok(!error.message.includes(wrong.base64));
      return true;
    });
    assert.deepEqual(await snapshot(dataDir), before);
  });

  test("with one key still plaintext and the other sealed under another key, nothing is migrated", async (t) => {
    const dataDir = await tempDir(t);
    const right = generateMasterKey();
    await initCertificateAuthority({ dataDir, masterKey: right });
    await unseal(join(dataDir, "ca", "root.key"), right);
    const before = await snapshot(dataDir);
    await assert.rejects(openCertificateAuthority({ dataDir, masterKey: generateMasterKey() }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyWrongError);
      assert.equal(error.path, join(dataDir, "ca", "intermediate.key"));
      return true;
    });
    assert.deepEqual(await snapshot(dataDir), before, "the plaintext root.key was not re-encrypted under the wrong key");
  });

  test("the store throws MasterKeyWrongError for a leaf key sealed under another key, rather than replacing it", async (t) => {
    const dataDir = await tempDir(t);
    const ca = await createEphemeralCertificateAuthority();
    const sealed = await createIssuedCertificateStore({ ca, dataDir, masterKey: generateMasterKey() }).originClientCertificate(identity);
    const before = await snapshot(dataDir);
    const store = createIssuedCertificateStore({ ca, dataDir, masterKey: generateMasterKey() });
    await assert.rejects(store.originClientCertificate(identity), (error: unknown) => {
      assert.ok(error instanceof MasterKeyWrongError);
      assert.equal(error.path, join(dataDir, "certs", "origin-client", "shop", "api", sealed.serialHex, "key.pem"));
      return true;
    });
    assert.deepEqual(await snapshot(dataDir), before);
  });
});

describe("loading the master key", () => {
  test("none configured: MasterKeyMissingError naming the three sources and how to create one", async () => {
    await assert.rejects(loadMasterKey(null, { dataDir: tmpdir() }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyMissingError);
      assert.equal(error.code, "master-key-missing");
      for (const word of ["MOAT_MASTER_KEY", "MOAT_MASTER_KEY_FILE", "pki.masterKeyFile", "moat ca init --master-key-file", "openssl rand -base64 32"]) {
        assert.ok(error.message.includes(word), `mentions ${word}: ${error.message}`);
      }
      return true;
    });
  });

  test("MOAT_MASTER_KEY of the wrong length, or not base64: an error that names the variable, never the value", async () => {
    const cases = [
      [randomBytes(16).toString("base64"), /decodes to 16 bytes, not 32/],
      [randomBytes(48).toString("base64"), /decodes to 48 bytes, not 32/],
      [`${randomBytes(32).toString("hex")}`, /decodes to 48 bytes, not 32/],
      ["correct horse battery staple!", /not base64/],
      ["  ", /empty/],
    ] as const;
    for (const [value, detail] of cases) {
      await assert.rejects(loadMasterKey(resolveMasterKeySource({ env: { MOAT_MASTER_KEY: value } }), { dataDir: tmpdir() }), (error: unknown) => {
        assert.ok(error instanceof MasterKeyInvalidError, String(error));
        assert.match(error.message, /the master key from MOAT_MASTER_KEY is unusable/);
        assert.match(error.message, detail);
        if (value.trim()) assert.ok(!error.message.includes(value.trim()), `the message quotes the value: ${error.message}`);
        return true;
      });
    }
  });

  test("a key file: created 0600 with its missing parent 0700, then loaded to the same key; base64url and 0400 are accepted", async (t) => {
    const [dir, dataDir] = [await tempDir(t), await tempDir(t)];
    const path = join(dir, "etc", "master.key");
    const created = await openOrCreateMasterKeyFile(path, { dataDir, from: "test" });
    assert.equal(created.created, true);
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await modeOf(join(dir, "etc")), 0o700);
    assert.match(await readFile(path, "utf8"), /^[A-Za-z0-9+/]{43}=\n$/, "one line of base64, as `openssl rand -base64 32` writes");
    const again = await openOrCreateMasterKeyFile(path, { dataDir, from: "test" });
    assert.deepEqual([again.created, again.masterKey.id], [false, created.masterKey.id]);
    await again.undo(); // did not create it: keeps it
    await chmod(path, 0o400);
    const loaded = await loadMasterKey({ kind: "file", path, from: "MOAT_MASTER_KEY_FILE" }, { dataDir });
    assert.equal(loaded.id, created.masterKey.id);
    assert.equal(loaded.source, `${path} (MOAT_MASTER_KEY_FILE)`);
    const url = join(dir, "url.key");
    await writeFile(url, Buffer.from(await readFile(path, "utf8"), "base64").toString("base64url"), { mode: 0o600 });
    assert.equal((await loadMasterKey({ kind: "file", path: url, from: "t" }, { dataDir })).id, created.masterKey.id);
  });

  test("a key file that others can read is refused", async (t) => {
    const [dir, dataDir] = [await tempDir(t), await tempDir(t)];
    const path = join(dir, "master.key");
    await writeFile(path, `${randomBytes(32).toString("base64")}\n`, { mode: 0o640 });
    await chmod(path, 0o640);
    await assert.rejects(loadMasterKey({ kind: "file", path, from: "t" }, { dataDir }), (error: unknown) => {
      assert.ok(error instanceof KeyFileInsecureError);
      assert.match(error.message, /mode 0640/);
      assert.ok(error.message.includes(`chmod 600 ${path}`));
      return true;
    });
  });

  test("a key file inside the data directory is refused, to load or to create, and none is created", async (t) => {
    const dataDir = await tempDir(t);
    await mkdir(join(dataDir, "keys"));
    const inside = join(dataDir, "keys", "master.key");
    await assert.rejects(openOrCreateMasterKeyFile(inside, { dataDir, from: "--master-key-file" }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyInvalidError);
      assert.match(error.message, /inside the data directory/);
      assert.match(error.message, /Fix: move it out of the data directory/);
      return true;
    });
    await assert.rejects(stat(inside), { code: "ENOENT" });
    await writeFile(inside, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    await assert.rejects(loadMasterKey({ kind: "file", path: inside, from: "t" }, { dataDir }), /inside the data directory/);
  });

  test("a key file that does not exist or holds no key: errors naming the path and its source, never the contents", async (t) => {
    const [dir, dataDir] = [await tempDir(t), await tempDir(t)];
    const missing = join(dir, "missing.key");
    await assert.rejects(loadMasterKey({ kind: "file", path: missing, from: "pki.masterKeyFile in /etc/moat/moat.yaml" }, { dataDir }), (error: unknown) => {
      assert.ok(error instanceof MasterKeyInvalidError);
      assert.ok(error.message.includes(`${missing} (pki.masterKeyFile in /etc/moat/moat.yaml)`), error.message);
      assert.match(error.message, /does not exist/);
      return true;
    });
    const short = join(dir, "short.key");
    const shortText = randomBytes(24).toString("base64");
    await writeFile(short, shortText, { mode: 0o600 });
    await assert.rejects(loadMasterKey({ kind: "file", path: short, from: "t" }, { dataDir }), (error: unknown) => {
      assert.match((error as Error).message, /decodes to 24 bytes, not 32/);
      assert.ok(!(error as Error).message.includes(shortText));
      return true;
    });
  });

  test("a MasterKey shows its source and id, never the key, when logged or inspected", async () => {
    const { masterKey, base64 } = await envKey();
    const hex = Buffer.from(base64, "base64").toString("hex");
    for (const shown of [JSON.stringify(masterKey), inspect(masterKey, { depth: 10, showHidden: true })]) {
      assert.ok(!shown.includes(base64) && !shown.includes(hex), shown);
      assert.ok(shown.includes(masterKey.id));
    }
    assert.match(masterKey.id, /^[0-9a-f]{16}$/);
  });
});

describe("keys from before encryption", () => {
  test("the CA's plaintext keys are encrypted in place when opened, once, and stay the same keys", async (t) => {
    const dataDir = await tempDir(t);
    const masterKey = generateMasterKey();
    const created = await initCertificateAuthority({ dataDir, masterKey });
    const rootKey = await unseal(join(dataDir, "ca", "root.key"), masterKey);
    const intermediateKey = await unseal(join(dataDir, "ca", "intermediate.key"), masterKey);

    const encrypted: string[] = [];
    const opened = await openCertificateAuthority({ dataDir, masterKey, onKeyFileEncrypted: (path) => encrypted.push(path) });
    assert.deepEqual(encrypted, [join(dataDir, "ca", "root.key"), join(dataDir, "ca", "intermediate.key")]);
    assert.equal(opened.rootPem, created.rootPem);
    for (const [file, plaintext] of [["root.key", rootKey], ["intermediate.key", intermediateKey]] as const) {
      const text = await assertSealed(join(dataDir, "ca", file));
      assert.equal(openPrivateKey(text, masterKey, file).keyPem, plaintext, `${file} holds the same key`);
    }
    assert.deepEqual((await readdir(join(dataDir, "ca"))).sort(), ["bundle.pem", "intermediate.key", "intermediate.pem", "root.key", "root.pem"], "no temporary file is left");

    const again: string[] = [];
    await openCertificateAuthority({ dataDir, masterKey, onKeyFileEncrypted: (path) => again.push(path) });
    assert.deepEqual(again, []);
  });

  test("a plaintext leaf key is not reused: a fresh, encrypted key and certificate replace it", async (t) => {
    const dataDir = await tempDir(t);
    const masterKey = generateMasterKey();
    const ca = await createEphemeralCertificateAuthority();
    const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
    const first = await store.originClientCertificate(identity);
    await unseal(join(dataDir, "certs", "origin-client", "shop", "api", first.serialHex, "key.pem"), masterKey);
    const second = await store.originClientCertificate(identity);
    assert.notEqual(second.serialHex, first.serialHex);
    assert.notEqual(second.keyPem, first.keyPem);
    await assertSealed(join(dataDir, "certs", "origin-client", "shop", "api", second.serialHex, "key.pem"));
  });
});

describe("no key material in messages", () => {
  test("no error of a wrong, missing or broken key quotes the master key, a passphrase or a private key", async (t) => {
    const dataDir = await tempDir(t);
    const { masterKey, base64 } = await envKey();
    await initCertificateAuthority({ dataDir, masterKey });
    const rootKeyText = await readFile(join(dataDir, "ca", "root.key"), "utf8");
    const plaintextRoot = openPrivateKey(rootKeyText, masterKey, "root.key").keyPem;
    const messages: string[] = [];
    const collect = (promise: Promise<unknown>) => promise.then(() => assert.fail("expected a rejection"), (error: Error) => messages.push(`${error.message} ${String(error.cause ?? "")}`));
    await collect(openCertificateAuthority({ dataDir, masterKey: generateMasterKey() }));
    await collect(loadMasterKey(null, { dataDir }));
    await collect(loadMasterKey({ kind: "env", name: "MOAT_MASTER_KEY", value: () => base64.slice(0, 20) }, { dataDir }));
    await writeFile(join(dataDir, "ca", "intermediate.key"), plaintextRoot, { mode: 0o600 });
    await collect(openCertificateAuthority({ dataDir, masterKey }));
    assert.equal(messages.length, 4);
    const secrets = [base64, base64.slice(0, 20), "PRIVATE KEY", ...rootKeyText.split("\n").slice(1, -2), ...plaintextRoot.split("\n").slice(1, -2)];
    for (const message of messages) {
      for (const secret of secrets.filter((s) => s.length >= 16)) assert.ok(!message.includes(secret), `"${message}" quotes key material`);
    }
  });
});

const run = promisify(execFile);
const hasOpenssl = await run("openssl", ["version"]).then(
  (result) => /^OpenSSL 3\./.test(result.stdout),
  () => false,
);

describe("disaster recovery without Moat", () => {
  // The recovery commands of docs/how-to/back-up.md, verbatim: the passphrase is HKDF-SHA256 of the master key, in base64.
  test("openssl decrypts a CA key with the passphrase derived from the master key file", { skip: hasOpenssl ? false : "needs OpenSSL 3 (openssl kdf)" }, async (t) => {
    const [dir, dataDir] = [await tempDir(t), await tempDir(t)];
    const keyFile = join(dir, "master.key");
    const { masterKey } = await openOrCreateMasterKeyFile(keyFile, { dataDir, from: "test" });
    await initCertificateAuthority({ dataDir, masterKey });
    const script = [
      `MASTER_HEX=$(base64 -d < "$KEY_FILE" | od -An -v -tx1 | tr -d ' \\n')`,
      `export MOAT_KEY_PASS=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$MASTER_HEX -kdfopt info:"moat key at rest v1" -binary HKDF | base64)`,
      `openssl pkey -in "$DATA_DIR/ca/root.key" -passin env:MOAT_KEY_PASS`,
    ].join("\n");
    const { stdout } = await run("sh", ["-c", script], { env: { PATH: process.env.PATH, KEY_FILE: keyFile, DATA_DIR: dataDir } });
    assert.match(stdout, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(new X509Certificate(await readFile(join(dataDir, "ca", "root.pem"))).checkPrivateKey(createPrivateKey(stdout)));
  });
});
