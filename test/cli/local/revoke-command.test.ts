// `moat ca revoke` and `moat ca crl` as real processes: exit codes, messages, the registry and the CRL they leave behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { createIssuedCertificateStore, initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../../src/pki/index.ts";
import { x509 } from "../../../src/pki/x509-lib.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { cliMain, runMoat } from "../moat-process.ts";
import type { MoatRun } from "../moat-process.ts";

function assertExit(run: MoatRun, code: number): void {
  assert.equal(run.code, code, `expected exit code ${code}, got ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

/** A user error prints one clean message: no JavaScript stack frames. */
function assertNoStack(run: MoatRun): void {
  assert.doesNotMatch(run.stderr, /\n\s+at /, `expected no stack trace, got:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /internal error/);
}

async function isMissing(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === "ENOENT",
  );
}

/** Runs `moat` with stdout kept as bytes (runMoat decodes it as UTF-8, which would mangle DER). */
async function runMoatBinary(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const base = { ...process.env };
  for (const name of ["MOAT_DATA_DIR", "MOAT_MASTER_KEY", "MOAT_MASTER_KEY_FILE"]) delete base[name];
  const child = spawn(process.execPath, [cliMain, ...args], { cwd, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout: Buffer.concat(chunks), stderr };
}

let dir: string;
let dataDir: string;
let key: TestMasterKey;
let ca: CertificateAuthority;
let issued: IssuedCertificate;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "moat-revoke-cli-"));
  dataDir = join(dir, "data");
  key = await createTestMasterKey();
  ca = await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey: key.masterKey });
  issued = await store.originClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 86_400_000 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const moat = (...args: string[]) => runMoat(args, { cwd: dir, env: key.env });
const moatWithoutKey = (...args: string[]) => runMoat(args, { cwd: dir });

describe("moat ca revoke", () => {
  test("revokes, publishes a CRL that lists the serial, and says where everything is", async () => {
    const colonSerial = issued.serialHex.toUpperCase().replace(/(..)(?!$)/g, "$1:");
    const run = await moat("ca", "revoke", colonSerial, "--reason", "key-compromise", "--data-dir", dataDir);
    assertExit(run, 0);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, new RegExp(`Revoked certificate ${issued.serialHex} \\(reason keyCompromise\\)`));
    assert.ok(run.stdout.includes(join(dataDir, "certs", "origin-client", "shop", "api", issued.serialHex, "chain.pem")), run.stdout);
    assert.match(run.stdout, /Published CRL number \d+ \(1 revoked certificate\)/);
    assert.ok(run.stdout.includes(join(dataDir, "ca", "crl-bundle.pem")));
    assert.match(run.stdout, /Running edges replace an in-use revoked certificate/);

    const registry = JSON.parse(await readFile(join(dataDir, "ca", "revoked.json"), "utf8")) as { serialHex: string; reason: string }[];
    assert.deepEqual(registry.map((r) => [r.serialHex, r.reason]), [[issued.serialHex, "keyCompromise"]]);
    const crl = new x509.X509Crl(await readFile(join(dataDir, "ca", "crl.der")));
    assert.equal(crl.findRevoked(issued.serialHex)?.reason, x509.X509CrlReason.keyCompromise);

    const again = await moat("ca", "revoke", issued.serialHex, "--reason", "superseded", "--data-dir", dataDir);
    assertExit(again, 0);
    assert.match(again.stdout, /was already revoked at .* \(reason keyCompromise\); nothing changed/);
    assert.match(again.stdout, /reason given now \(superseded\) is not recorded/);
    assert.equal(JSON.parse(await readFile(join(dataDir, "ca", "revoked.json"), "utf8")).length, 1);
  });

  test("a serial Moat holds no certificate for is revoked, with a warning", async () => {
    const run = await moat("ca", "revoke", "0badcafe", "--reason", "superseded", "--data-dir", dataDir);
    assertExit(run, 0);
    assert.match(run.stdout, /Revoked certificate 0badcafe/);
    assert.match(run.stderr, /warning: no certificate with serial 0badcafe under .*certs; it is revoked anyway/);
  });

  test("a bad serial: exit 2, a clear message, nothing written", async () => {
    const run = await moat("ca", "revoke", "not-a-serial", "--reason", "superseded", "--data-dir", dataDir);
    assertExit(run, 2);
    assertNoStack(run);
    assert.match(run.stderr, /"not-a-serial" is not a certificate serial number/);
    assert.ok(await isMissing(join(dataDir, "ca", "revoked.json")));
    const tooLong = await moat("ca", "revoke", "01".repeat(21), "--reason", "superseded", "--data-dir", dataDir);
    assertExit(tooLong, 2);
    assert.match(tooLong.stderr, /21 octets long/);
  });

  test("an unknown, missing or hold reason: exit 2 listing the reasons", async () => {
    const reasons = "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation";
    const unknown = await moat("ca", "revoke", issued.serialHex, "--reason", "stolen", "--data-dir", dataDir);
    assertExit(unknown, 2);
    assertNoStack(unknown);
    assert.match(unknown.stderr, /"stolen" is not a revocation reason/);
    assert.ok(unknown.stderr.includes(reasons), unknown.stderr);
    const missing = await moat("ca", "revoke", issued.serialHex, "--data-dir", dataDir);
    assertExit(missing, 2);
    assert.ok(missing.stderr.includes(`--reason is required: one of ${reasons}`), missing.stderr);
    const hold = await moat("ca", "revoke", issued.serialHex, "--reason", "certificateHold", "--data-dir", dataDir);
    assertExit(hold, 2);
    assert.match(hold.stderr, /a revocation in Moat is final/);
    assert.ok(await isMissing(join(dataDir, "ca", "revoked.json")));
  });

  test("the CA's own intermediate: exit 2, since a CRL it signs cannot revoke it", async () => {
    const serial = new X509Certificate(ca.intermediatePem).serialNumber;
    const run = await moat("ca", "revoke", serial, "--reason", "cACompromise", "--data-dir", dataDir);
    assertExit(run, 2);
    assert.match(run.stderr, /the CA's own intermediate certificate/);
  });

  test("no master key: exit 1 naming where a key comes from, nothing revoked", async () => {
    const run = await moatWithoutKey("ca", "revoke", issued.serialHex, "--reason", "superseded", "--data-dir", dataDir);
    assertExit(run, 1);
    assert.match(run.stderr, /no master key/);
    assert.ok(await isMissing(join(dataDir, "ca", "revoked.json")));
  });
});

describe("moat ca crl", () => {
  test("--der publishes when there is no CRL yet and prints DER signed by the intermediate", async () => {
    const run = await runMoatBinary(["ca", "crl", "--der", "--data-dir", dataDir], key.env, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /published CRL number \d+ \(0 revoked certificates\), valid until/);
    assert.equal(run.stdout[0], 0x30, "DER: a SEQUENCE");
    const crl = new x509.X509Crl(run.stdout);
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.intermediatePem) }));
    assert.deepEqual(run.stdout, await readFile(join(dataDir, "ca", "crl.der")));
  });

  test("prints the bundle (intermediate's CRL, then the root's) and, while it is fresh, needs no master key", async () => {
    assertExit(await moat("ca", "revoke", issued.serialHex, "--reason", "superseded", "--data-dir", dataDir), 0);
    const run = await moatWithoutKey("ca", "crl", "--data-dir", dataDir);
    assertExit(run, 0);
    assert.equal(run.stderr, "", "nothing published: the CRL was fresh");
    assert.equal(run.stdout, await readFile(join(dataDir, "ca", "crl-bundle.pem"), "utf8"));
    assert.equal(run.stdout.match(/-----BEGIN X509 CRL-----/g)?.length, 2);
  });

  test("with no CRL and no master key: exit 1 asking for one", async () => {
    const run = await moatWithoutKey("ca", "crl", "--data-dir", dataDir);
    assertExit(run, 1);
    assertNoStack(run);
    assert.match(run.stderr, /no master key/);
  });

  test("--validity below an hour: exit 2", async () => {
    const run = await moat("ca", "crl", "--validity", "5m", "--data-dir", dataDir);
    assertExit(run, 2);
    assert.match(run.stderr, /--validity 5m is too short/);
  });

  test("--help has an example, and moat --help lists both commands", async () => {
    for (const command of ["revoke", "crl"]) {
      const run = await moat("ca", command, "--help");
      assertExit(run, 0);
      assert.match(run.stdout, new RegExp(`Example:\\n  moat ca ${command} `));
    }
    const help = await moat("--help");
    assert.match(help.stdout, /ca revoke/);
    assert.match(help.stdout, /ca crl/);
  });
});
