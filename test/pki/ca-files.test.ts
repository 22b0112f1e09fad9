// The CA on disk: created once with private modes, reopened identically, never overwritten, and checked when opened.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { CaAlreadyExistsError, CaCorruptError, CaNotFoundError, KeyFileInsecureError } from "../../src/errors.ts";
import {
  generateMasterKey,
  initCertificateAuthority,
  openCertificateAuthority,
  openOrInitCertificateAuthority,
} from "../../src/pki/index.ts";

// One key for the whole file: the tests that copy keys between CAs need them sealed alike.
const masterKey = generateMasterKey();

async function tempDataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "moat-pki-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

test("init writes the CA files with private modes, even under a permissive umask", async (t) => {
  const dataDir = await tempDataDir(t);
  const previousUmask = process.umask(0o000);
  t.after(() => process.umask(previousUmask));
  const ca = await initCertificateAuthority({ masterKey, dataDir });
  const caDir = join(dataDir, "ca");
  assert.deepEqual((await readdir(caDir)).sort(), ["bundle.pem", "intermediate.key", "intermediate.pem", "root.key", "root.pem"]);
  assert.equal(await modeOf(caDir), 0o700);
  assert.equal(await modeOf(join(caDir, "root.key")), 0o600);
  assert.equal(await modeOf(join(caDir, "intermediate.key")), 0o600);
  assert.equal(await readFile(join(caDir, "bundle.pem"), "utf8"), ca.bundlePem);
  assert.deepEqual(await readdir(dataDir), ["ca"], "no staging directory is left behind");
  assert.equal(ca.keyAlgorithm, "ecdsa-p256");
});

test("reopening gives the same CA, which issues certificates chaining to the same root", async (t) => {
  const dataDir = await tempDataDir(t);
  const created = await initCertificateAuthority({ masterKey, dataDir, name: "Acme" });
  const opened = await openCertificateAuthority({ masterKey, dataDir });
  assert.equal(opened.rootPem, created.rootPem);
  assert.equal(opened.intermediatePem, created.intermediatePem);
  assert.equal(opened.bundlePem, created.bundlePem);
  assert.equal(opened.keyAlgorithm, created.keyAlgorithm);
  const issued = await opened.issueServerCertificate({ dnsNames: ["a.test"], validityMs: 60_000 });
  const intermediate = new X509Certificate(created.intermediatePem);
  assert.equal(new X509Certificate(issued.certPem).verify(intermediate.publicKey), true);
  assert.match(new X509Certificate(issued.certPem).issuer, /Acme Intermediate CA/);
});

test("init refuses to overwrite an existing CA, and leaves it untouched", async (t) => {
  const dataDir = await tempDataDir(t);
  const first = await initCertificateAuthority({ masterKey, dataDir });
  await assert.rejects(initCertificateAuthority({ masterKey, dataDir }), (error: unknown) => {
    assert.ok(error instanceof CaAlreadyExistsError);
    assert.equal(error.code, "ca-exists");
    assert.ok(error.message.includes(join(dataDir, "ca")));
    return true;
  });
  assert.equal(await readFile(join(dataDir, "ca", "root.pem"), "utf8"), first.rootPem);
});

test("init refuses a ca directory that holds anything at all", async (t) => {
  const dataDir = await tempDataDir(t);
  await mkdir(join(dataDir, "ca"));
  await writeFile(join(dataDir, "ca", "notes.txt"), "mine");
  await assert.rejects(initCertificateAuthority({ masterKey, dataDir }), CaAlreadyExistsError);
});

test("open on an empty data directory says where it looked and how to fix it", async (t) => {
  const dataDir = await tempDataDir(t);
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), (error: unknown) => {
    assert.ok(error instanceof CaNotFoundError);
    assert.equal(error.code, "ca-not-found");
    assert.ok(error.message.includes(join(dataDir, "ca")));
    assert.match(error.message, /moat ca init/);
    return true;
  });
});

test("openOrInit creates the CA once, then opens it", async (t) => {
  const dataDir = await tempDataDir(t);
  const first = await openOrInitCertificateAuthority({ masterKey, dataDir, keyAlgorithm: "ecdsa-p384" });
  const second = await openOrInitCertificateAuthority({ masterKey, dataDir });
  assert.deepEqual([first.created, second.created], [true, false]);
  assert.equal(second.ca.rootPem, first.ca.rootPem);
  assert.equal(second.ca.keyAlgorithm, "ecdsa-p384");
});

test("open reports a key that does not match its certificate, without quoting the key", async (t) => {
  const [dataDir, otherDir] = await Promise.all([tempDataDir(t), tempDataDir(t)]);
  await Promise.all([initCertificateAuthority({ masterKey, dataDir }), initCertificateAuthority({ masterKey, dataDir: otherDir })]);
  const keyPath = join(dataDir, "ca", "intermediate.key");
  await copyFile(join(otherDir, "ca", "intermediate.key"), keyPath);
  const keyPem = await readFile(keyPath, "utf8");
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), (error: unknown) => {
    assert.ok(error instanceof CaCorruptError);
    assert.match(error.message, /intermediate\.key does not match intermediate\.pem/);
    const keyBody = keyPem.split("\n")[1] ?? "";
    assert.ok(keyBody.length > 0 && !error.message.includes(keyBody) && !error.message.includes("PRIVATE KEY"));
    return true;
  });
});

test("open reports unparsable, missing and mismatched files as corrupt", async (t) => {
  const dataDir = await tempDataDir(t);
  await initCertificateAuthority({ masterKey, dataDir });
  const caDir = join(dataDir, "ca");
  const rootPem = await readFile(join(caDir, "root.pem"), "utf8");

  await writeFile(join(caDir, "root.pem"), "garbage");
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), /root\.pem is not a PEM certificate/);
  await writeFile(join(caDir, "root.pem"), rootPem);

  await writeFile(join(caDir, "root.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", { mode: 0o600 });
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), /root\.key is not a PEM private key/);

  await unlink(join(caDir, "bundle.pem"));
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), (error: unknown) => {
    assert.ok(error instanceof CaCorruptError);
    assert.match(error.message, /missing bundle\.pem/);
    return true;
  });
});

test("open refuses a key file that others can read", async (t) => {
  const dataDir = await tempDataDir(t);
  await initCertificateAuthority({ masterKey, dataDir });
  const keyPath = join(dataDir, "ca", "root.key");
  await chmod(keyPath, 0o644);
  await assert.rejects(openCertificateAuthority({ masterKey, dataDir }), (error: unknown) => {
    assert.ok(error instanceof KeyFileInsecureError);
    assert.match(error.message, /chmod 600/);
    return true;
  });
});
