// `moat demo` as a real process on its fixed ports: the printed curl commands work as printed, SIGTERM exits 0, a restart reuses the CA.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMoat } from "./moat-process.ts";
import type { RunningMoat } from "./moat-process.ts";

// Fixed by the demo (src/cli/demo-command.ts), all on 127.0.0.1.
const ports = { https: 8443, http: 8080, origin: 9443 };
const demoIdentity = "spiffe://moat.internal/distribution/demo/origin/app";

/** Fails with a message that says what to do, rather than a confusing EADDRINUSE from the child. */
async function assertPortFree(port: number): Promise<void> {
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, "127.0.0.1", resolve);
    });
  } catch (error) {
    assert.fail(`moat demo needs 127.0.0.1:${port}, but it is taken (${(error as NodeJS.ErrnoException).code}); stop whatever listens there (\`ss -ltnp 'sport = :${port}'\`) and run the test again`);
  }
  probe.close();
  await once(probe, "close");
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection, resolving "localhost" to IPv4 as the demo listens on 127.0.0.1 only. */
function get(url: string, options: https.RequestOptions = {}): Promise<Answer> {
  const client = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { family: 4, agent: false, ...options }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (text: string) => (body += text));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
  });
}

async function startDemo(dataDir: string): Promise<RunningMoat> {
  for (const port of Object.values(ports)) await assertPortFree(port);
  // The working directory is the data directory, so nothing strays into the repository.
  const moat = startMoat(["demo"], { cwd: dataDir, env: { MOAT_DATA_DIR: dataDir } });
  await moat.waitForLine("the edge listened", (l) => l.msg === "edge listening");
  await moat.waitForStdout("the curl commands were printed", (text) => text.includes(`https://localhost:${ports.origin}/hello`));
  return moat;
}

/** Every private key under `dir`: the CA's `*.key` and the issued certificates' `key.pem`. */
async function keyFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && (e.name.endsWith(".key") || e.name === "key.pem")).map((e) => join(e.parentPath, e.name));
}

// A bound on the whole suite: a demo that never listens or never exits fails instead of hanging the run.
describe("moat demo", { timeout: 120_000 }, () => {
  let dataDir: string;
  let bundlePath: string;
  let bundle: string;
  const running: RunningMoat[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "moat-demo-"));
    bundlePath = join(dataDir, "ca", "bundle.pem");
    running.push(await startDemo(dataDir));
    bundle = await readFile(bundlePath, "utf8");
  });

  after(async () => {
    await Promise.all(running.map((moat) => moat.kill()));
    await rm(dataDir, { recursive: true, force: true });
    await rm(`${dataDir}.master-key`, { force: true });
  });

  test("creates a new CA on first start", () => {
    const line = running[0]!.lines.find((l) => l.msg === "created a new CA for the demo");
    assert.ok(line, "logs that it created a CA");
    assert.equal(line.created, true);
    assert.equal(line.dataDir, dataDir);
  });

  test("GET https://localhost:8443/hello reaches the origin through the edge's mTLS", async () => {
    const res = await get(`https://localhost:${ports.https}/hello`, { ca: bundle, servername: "localhost" });
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const body = JSON.parse(res.body) as { edgeIdentity: string; path: string };
    assert.equal(body.edgeIdentity, demoIdentity);
    assert.equal(body.path, "/hello");
  });

  test("GET https://localhost:9443/hello straight to the origin, without a client certificate, is refused in the TLS handshake", async () => {
    const outcome = await new Promise<{ status?: number; error?: NodeJS.ErrnoException }>((resolve) => {
      const req = https.get(`https://localhost:${ports.origin}/hello`, { ca: bundle, servername: "localhost", family: 4, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on("error", (error) => resolve({ error }));
    });
    assert.equal(outcome.status, undefined, "the origin must not answer HTTP to a visitor without the edge's certificate");
    // TLS 1.3: the client's side of the handshake completes, then the origin's alert ends the connection.
    // An alert (not a verify error on our side) also shows the client trusted the origin's certificate.
    assert.equal(outcome.error?.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", String(outcome.error));
  });

  test("http://localhost:8080/x redirects (301) to https://localhost:8443/x", async () => {
    const res = await get(`http://localhost:${ports.http}/x`);
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, `https://localhost:${ports.https}/x`);
  });

  test("prints both curl commands with the CA bundle's path", () => {
    const stdout = running[0]!.stdout();
    const throughEdge = stdout.match(new RegExp(`curl --cacert (\\S+) https://localhost:${ports.https}/hello`));
    const straight = stdout.match(new RegExp(`curl --cacert (\\S+) https://localhost:${ports.origin}/hello`));
    assert.ok(throughEdge && straight, `both curl commands are printed:\n${stdout}`);
    // Printed relative to the working directory when inside it (the child ran in the data directory).
    assert.equal(resolve(dataDir, throughEdge[1]!), bundlePath);
    assert.equal(resolve(dataDir, straight[1]!), bundlePath);
  });

  test("the data directory holds the bundle, demo.yaml and private keys, encrypted, with mode 0600", async () => {
    assert.ok((await stat(bundlePath)).isFile());
    assert.match(await readFile(join(dataDir, "demo.yaml"), "utf8"), /^\s*- id: demo$/m);
    const keys = await keyFiles(dataDir);
    for (const expected of [join(dataDir, "ca", "root.key"), join(dataDir, "ca", "intermediate.key")]) assert.ok(keys.includes(expected), `${expected} exists`);
    assert.ok(keys.length >= 4, `the CA's two keys and the edge's viewer and origin-client keys: ${keys.join(", ")}`);
    for (const key of keys) {
      assert.equal((await stat(key)).mode & 0o777, 0o600, key);
      assert.match(await readFile(key, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, key);
    }
  });

  test("without a master key in the environment, keeps its own next to the data directory (0600) and warns that this is for demos", async () => {
    const keyFile = `${dataDir}.master-key`;
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const warning = running[0]!.lines.find((l) => String(l.msg).startsWith("DEMO ONLY"));
    assert.ok(warning, "logs a warning");
    assert.equal(warning.masterKeyFile, keyFile);
    assert.match(running[0]!.stdout(), /WARNING: for demos only/);
    assert.ok(!running[0]!.stdout().includes((await readFile(keyFile, "utf8")).trim()), "the key itself is never printed");
    // demo.yaml names it, so `moat start --config demo.yaml` opens the same data directory.
    assert.ok((await readFile(join(dataDir, "demo.yaml"), "utf8")).includes(`masterKeyFile: ${JSON.stringify(keyFile)}`));
  });

  test("SIGTERM stops it with exit code 0", async () => {
    const moat = running[0]!;
    moat.child.kill("SIGTERM");
    const exit = await moat.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, moat.stderr());
    assert.ok(moat.lines.some((l) => l.msg === "edge stopped"));
  });

  test("a second start on the same data directory reuses the CA", async () => {
    const moat = await startDemo(dataDir);
    running.push(moat);
    const line = await moat.waitForLine("the CA was opened", (l) => l.msg === "using the existing CA");
    assert.equal(line.created, false);
    const keyLines = [running[0]!, moat].map((m) => m.lines.find((l) => l.msg === "master key loaded")?.masterKey as { id: string } | undefined);
    assert.ok(keyLines[0] && keyLines[1]);
    assert.equal(keyLines[1].id, keyLines[0].id, "the same master key file is reused");
    assert.equal(moat.lines.some((l) => l.msg === "created a new CA for the demo"), false);
    assert.equal(await readFile(bundlePath, "utf8"), bundle, "bundle.pem unchanged");

    const res = await get(`https://localhost:${ports.https}/hello`, { ca: bundle, servername: "localhost" });
    assert.equal(res.status, 200, res.body);
    assert.equal((JSON.parse(res.body) as { edgeIdentity: string }).edgeIdentity, demoIdentity);

    moat.child.kill("SIGTERM");
    assert.deepEqual(await moat.exited, { code: 0, signal: null }, moat.stderr());
  });
});
