// `moat ca init|issue-server|bundle`, `moat config check` and `moat --help` as real processes: files, modes, exit codes, messages.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { x509 } from "../../../src/pki/x509-lib.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";
import type { MoatRun } from "../moat-process.ts";

const caFiles = ["root.pem", "root.key", "intermediate.pem", "intermediate.key", "bundle.pem"] as const;

/** A user error prints one clean message: no JavaScript stack frames. */
function assertNoStack(run: MoatRun): void {
  assert.doesNotMatch(run.stderr, /\n\s+at /, `expected no stack trace, got:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /internal error/);
}

function assertExit(run: MoatRun, code: number): void {
  assert.equal(run.code, code, `expected exit code ${code}, got ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function readCaFiles(dataDir: string): Promise<Map<string, Buffer>> {
  return new Map(await Promise.all(caFiles.map(async (name) => [name, await readFile(join(dataDir, "ca", name))] as const)));
}

async function isMissing(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === "ENOENT",
  );
}

/** GET / over real TLS; resolves with the status, or rejects with the client's TLS error. */
function httpsGet(options: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ path: "/", agent: false, ...options }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}

let dir: string;
let key: TestMasterKey;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "moat-ca-cli-"));
  key = await createTestMasterKey();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Every command gets a master key in MOAT_MASTER_KEY; test/cli/master-key-command.test.ts covers the other sources and their absence.
const moat = (...args: string[]) => runMoat(args, { cwd: dir, env: key.env });

describe("moat ca init", () => {
  test("creates the root, the intermediate and the bundle, keys 0600", async () => {
    const dataDir = join(dir, "data");
    const run = await moat("ca", "init", "--data-dir", dataDir);
    assertExit(run, 0);
    assert.match(run.stdout, new RegExp(`${join(dataDir, "ca", "bundle.pem")}`));
    const files = await readCaFiles(dataDir);
    for (const name of caFiles) assert.ok(files.get(name)!.length > 0, `${name} is empty`);
    assert.equal(await modeOf(join(dataDir, "ca", "root.key")), 0o600);
    assert.equal(await modeOf(join(dataDir, "ca", "intermediate.key")), 0o600);
    const root = new X509Certificate(files.get("root.pem")!);
    const intermediate = new X509Certificate(files.get("intermediate.pem")!);
    assert.ok(root.ca && intermediate.ca);
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey), "the intermediate is signed by the root");
    assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1", "ecdsa-p256 is the default");
  });

  test("a second init fails with exit code 1, names the path, and leaves the CA byte for byte", async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat("ca", "init", "--data-dir", dataDir), 0);
    const before = await readCaFiles(dataDir);

    const again = await moat("ca", "init", "--data-dir", dataDir);
    assertExit(again, 1);
    assert.ok(again.stderr.includes(join(dataDir, "ca")), `stderr names the CA directory:\n${again.stderr}`);
    assert.match(again.stderr, /already exists/);
    assertNoStack(again);
    const after = await readCaFiles(dataDir);
    for (const name of caFiles) assert.ok(before.get(name)!.equals(after.get(name)!), `${name} changed`);
  });

  test("--key-algorithm rsa-3072 makes an RSA 3072 CA", { timeout: 120_000 }, async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat("ca", "init", "--data-dir", dataDir, "--key-algorithm", "rsa-3072"), 0);
    for (const name of ["root.pem", "intermediate.pem"]) {
      const cert = new X509Certificate(await readFile(join(dataDir, "ca", name)));
      assert.equal(cert.publicKey.asymmetricKeyType, "rsa", name);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 3072, name);
    }
    assert.equal(await modeOf(join(dataDir, "ca", "root.key")), 0o600);
  });

  test("--key-algorithm dsa is a usage error (exit 2) and creates nothing", async () => {
    const dataDir = join(dir, "data");
    const run = await moat("ca", "init", "--data-dir", dataDir, "--key-algorithm", "dsa");
    assertExit(run, 2);
    assert.match(run.stderr, /--key-algorithm must be one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 \(got dsa\)/);
    assertNoStack(run);
    assert.ok(await isMissing(dataDir), "no data directory for a refused command");
  });
});

describe("moat ca issue-server", () => {
  const dataDir = () => join(dir, "data");
  const out = () => join(dir, "out");

  test("writes certificate, key (0600) and bundle that a real HTTPS server serves, by name and by IP", async () => {
    assertExit(await moat("ca", "init", "--data-dir", dataDir()), 0);
    const run = await moat("ca", "issue-server", "--data-dir", dataDir(), "--dns", "api.test", "--ip", "127.0.0.1", "--out", out());
    assertExit(run, 0);
    assert.equal(await modeOf(join(out(), "api.test.key")), 0o600);
    const [cert, key, bundle] = await Promise.all(["api.test.pem", "api.test.key", "ca-bundle.pem"].map((name) => readFile(join(out(), name), "utf8")));
    assert.equal(bundle, await readFile(join(dataDir(), "ca", "bundle.pem"), "utf8"), "ca-bundle.pem is Moat's bundle");

    const server = https.createServer({ key, cert }, (_req, res) => res.end("ok"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      // The bundle holds only the root: these succeed only if api.test.pem carries the intermediate too.
      assert.equal(await httpsGet({ host: "127.0.0.1", port, ca: bundle, servername: "api.test" }), 200);
      assert.equal(await httpsGet({ host: "127.0.0.1", port, ca: bundle }), 200, "by IP, no SNI: the IP SAN verifies");
      // And verification is real: a name the certificate does not carry is refused.
      await assert.rejects(httpsGet({ host: "127.0.0.1", port, ca: bundle, servername: "other.test" }), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });

  test("without --dns or --ip: usage error, exit 2", async () => {
    assertExit(await moat("ca", "init", "--data-dir", dataDir()), 0);
    const run = await moat("ca", "issue-server", "--data-dir", dataDir(), "--out", out());
    assertExit(run, 2);
    assert.match(run.stderr, /give at least one --dns NAME or --ip ADDRESS/);
    assertNoStack(run);
    assert.ok(await isMissing(out()));
  });

  test("without --out: usage error, exit 2", async () => {
    assertExit(await moat("ca", "init", "--data-dir", dataDir()), 0);
    const run = await moat("ca", "issue-server", "--data-dir", dataDir(), "--dns", "api.test");
    assertExit(run, 2);
    assert.match(run.stderr, /--out DIR is required/);
    assertNoStack(run);
  });

  test("with no CA in the data directory: exit 1, naming `moat ca init`", async () => {
    const run = await moat("ca", "issue-server", "--data-dir", dataDir(), "--dns", "api.test", "--out", out());
    assertExit(run, 1);
    assert.match(run.stderr, /moat ca init/);
    assert.ok(run.stderr.includes(join(dataDir(), "ca")), `stderr names where it looked:\n${run.stderr}`);
    assertNoStack(run);
    assert.ok(await isMissing(out()), "nothing written without a CA");
  });
});

describe("moat ca bundle", () => {
  test("prints the bundle's PEM certificate(s)", async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat("ca", "init", "--data-dir", dataDir), 0);
    const run = await moat("ca", "bundle", "--data-dir", dataDir);
    assertExit(run, 0);
    const file = await readFile(join(dataDir, "ca", "bundle.pem"), "utf8");
    assert.equal(run.stdout.trimEnd(), file.trimEnd());
    assert.equal(new X509Certificate(run.stdout).fingerprint256, new X509Certificate(file).fingerprint256);
  });

  test("prints exactly the bytes of <data dir>/ca/bundle.pem, which ends with a newline", async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat("ca", "init", "--data-dir", dataDir), 0);
    const run = await moat("ca", "bundle", "--data-dir", dataDir);
    assertExit(run, 0);
    const file = await readFile(join(dataDir, "ca", "bundle.pem"), "utf8");
    assert.equal(run.stdout, file);
    assert.ok(file.endsWith("-----END CERTIFICATE-----\n"));
  });
});

describe("moat config check", () => {
  test("a valid file: exit 0, says valid", async () => {
    const file = join(dir, "moat.yaml");
    await writeFile(file, "dataDir: ./state\ndistributions:\n  - id: site\n    aliases: [site.test]\n    origins:\n      - { id: api, url: https://api.internal }\n");
    const run = await moat("config", "check", file);
    assertExit(run, 0);
    assert.match(run.stdout, /: valid \(1 distribution\(s\), 1 origin\(s\)/);
    assert.equal(run.stderr, "");
  });

  test("an invalid file: exit 1, every problem with its path, no stack", async () => {
    const file = join(dir, "moat.yaml");
    await writeFile(
      file,
      [
        "distributions:",
        "  - id: site",
        "    aliases: [site.test]",
        "    origins:",
        "      - { id: api, url: http://api.internal }",
        "    behaviors:",
        "      - { path: '*', target: nowhere }",
        "",
      ].join("\n"),
    );
    const run = await moat("config", "check", file);
    assertExit(run, 1);
    assert.match(run.stderr, /distributions\[0\]\.origins\[0\]\.url: .*https/);
    assert.match(run.stderr, /distributions\[0\]\.behaviors\[0\]\.target: .*nowhere/);
    assert.doesNotMatch(run.stdout, /valid/);
    assertNoStack(run);
  });
});

describe("moat --help and unknown commands", () => {
  test("moat --help: exit 0, usage and every command", async () => {
    const run = await moat("--help");
    assertExit(run, 0);
    assert.match(run.stdout, /^Usage: moat <command> \[options\]$/m);
    for (const command of ["start", "demo", "config check", "ca init", "ca issue-server", "ca bundle"]) {
      assert.match(run.stdout, new RegExp(`^  ${command} `, "m"), `lists ${command}`);
    }
  });

  test("moat --help shows an example", async () => {
    const run = await moat("--help");
    assertExit(run, 0);
    assert.match(run.stdout, /Example/);
  });

  test("moat ca init --help: exit 0, usage and an example, creates nothing", async () => {
    const run = await moat("ca", "init", "--help");
    assertExit(run, 0);
    assert.match(run.stdout, /^moat ca init \[--data-dir DIR\]/);
    assert.match(run.stdout, /Example:\n\s+moat ca init --data-dir \S+/);
    assert.ok(await isMissing(join(dir, ".moat", "ca")));
  });

  test("an unknown command: exit 2, pointing at moat --help", async () => {
    const run = await moat("frobnicate");
    assertExit(run, 2);
    assert.match(run.stderr, /unknown command "frobnicate"/);
    assert.match(run.stderr, /moat --help/);
    assertNoStack(run);
  });
});

describe("moat ca init --crl-base-url and moat ca publication", () => {
  test("a bad URL: exit 2, the URL and what is wrong with it, no CA", async () => {
    const dataDir = join(dir, "data");
    const run = await moat("ca", "init", "--data-dir", dataDir, "--crl-base-url", "https://edge.example.com/.well-known/moat/");
    assertExit(run, 2);
    assert.match(run.stderr, /--crl-base-url: the CRL base URL "https:\/\/edge\.example\.com\/\.well-known\/moat\/" cannot go into certificates: its scheme is https, not http/);
    assertNoStack(run);
    assert.ok(await isMissing(join(dataDir, "ca")));
  });

  test("init sets it, publication shows, changes and clears it, status shows it; issue-server uses it", async () => {
    const dataDir = join(dir, "data");
    assertExit(await moat("ca", "init", "--data-dir", dataDir, "--crl-base-url", "http://edge.example.com/.well-known/moat"), 0);
    const shown = await moat("ca", "publication", "--data-dir", dataDir);
    assertExit(shown, 0);
    assert.match(shown.stdout, /CRL distribution points: http:\/\/edge\.example\.com\/\.well-known\/moat\/crl\/<issuer serial>\.der/);

    const changed = await moat("ca", "publication", "--data-dir", dataDir, "--crl-base-url", "http://crl.example.com:8080/moat/");
    assertExit(changed, 0);
    assert.match(changed.stdout, /keep theirs until renewed/);
    assertExit(await moat("ca", "issue-server", "--data-dir", dataDir, "--dns", "api.internal", "--out", join(dir, "tls")), 0);
    const intermediateSerial = new X509Certificate(await readFile(join(dataDir, "ca", "intermediate.pem"))).serialNumber.toLowerCase();
    const leaf = (await readFile(join(dir, "tls", "api.internal.pem"), "utf8")).split(/(?=-----BEGIN CERTIFICATE-----)/)[0] ?? "";
    const status = JSON.parse((await moat("ca", "status", "--data-dir", dataDir, "--json")).stdout) as { crlBaseUrl: string | null };
    assert.equal(status.crlBaseUrl, "http://crl.example.com:8080/moat/");
    const cdp = new x509.X509Certificate(leaf).getExtension(x509.CRLDistributionPointsExtension);
    assert.equal(cdp?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier, `http://crl.example.com:8080/moat/crl/${intermediateSerial}.der`);

    const both = await moat("ca", "publication", "--data-dir", dataDir, "--crl-base-url", "http://a.example/", "--clear");
    assertExit(both, 2);
    assertExit(await moat("ca", "publication", "--data-dir", dataDir, "--clear"), 0);
    assert.match((await moat("ca", "status", "--data-dir", dataDir)).stdout, /CRL distribution points: none/);
  });
});
