// `moat demo` as a real process on its fixed ports: the printed curl commands work as printed (the edge's and the admin API's), SIGTERM exits 0, a restart reuses the CA and replaces the API token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, fetch } from "undici";
import { x509 } from "../../../src/pki/x509-lib.ts";
import { runMoat, startMoat } from "../moat-process.ts";
import type { RunningMoat } from "../moat-process.ts";

// Fixed by the demo (src/cli/run/demo-command.ts), all on 127.0.0.1.
const ports = { https: 8443, http: 8080, origin: 9443, api: 8444 };
const apiUrl = `https://127.0.0.1:${ports.api}`;
// The contract of \`moat dist list\` (MOAT_API, MOAT_API_CA, MOAT_TOKEN_FILE): the printed line must be exactly this.
const npmCommand = new RegExp(`^  MOAT_API=${apiUrl.replaceAll(".", "\\.")} MOAT_API_CA=(\\S+) MOAT_TOKEN_FILE=(\\S+) npm run moat -- dist list$`, "m");
const curlCommand = new RegExp(`^  curl --cacert (\\S+) -H "Authorization: Bearer \\$\\(cat (\\S+)\\)" ${apiUrl.replaceAll(".", "\\.")}/distributions$`, "m");
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
  await moat.waitForStdout("the welcome was printed", (text) => text.includes("Ctrl-C drains and stops."));
  return moat;
}

/** The files the printed admin API commands name, resolved as a shell in the demo's working directory (its data directory) would. */
function printedApiFiles(moat: RunningMoat, dataDir: string): { ca: string; tokenFile: string } {
  const stdout = moat.stdout();
  const npm = stdout.match(npmCommand);
  assert.ok(npm, `the npm command is printed in exactly its form:\n${stdout}`);
  return { ca: resolve(dataDir, npm[1]!), tokenFile: resolve(dataDir, npm[2]!) };
}

/** GET /distributions as the printed curl line does it: real TLS verified against the printed CA file, the token from the printed file. */
async function listDistributions(files: { ca: string; tokenFile: string }, token?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- a test reads fields freely
  const dispatcher = new Agent({ connect: { ca: await readFile(files.ca, "utf8") } });
  try {
    const bearer = token ?? (await readFile(files.tokenFile, "utf8")).trim();
    const response = await fetch(`${apiUrl}/distributions`, { headers: { authorization: `Bearer ${bearer}` }, dispatcher, signal: AbortSignal.timeout(20_000) });
    return { status: response.status, body: await response.json() };
  } finally {
    await dispatcher.close();
  }
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

  test("the edge's certificate names its CRL on the demo's plain-HTTP port, which serves it", async () => {
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port: ports.https, servername: "localhost", ca: bundle }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on("error", reject);
    });
    const leaf = new x509.X509Certificate(peer.raw);
    const cdp = leaf.getExtension(x509.CRLDistributionPointsExtension);
    const url = cdp?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier ?? "";
    const intermediateSerial = new X509Certificate(await readFile(join(dataDir, "ca", "intermediate.pem"))).serialNumber.toLowerCase();
    assert.equal(url, `http://localhost:${ports.http}/.well-known/moat/crl/${intermediateSerial}.der`);
    const crl = await new Promise<Buffer>((resolve, reject) => {
      http.get(url, { family: 4, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      }).on("error", reject);
    });
    assert.ok(await new x509.X509Crl(crl).verify({ publicKey: new x509.X509Certificate(await readFile(join(dataDir, "ca", "intermediate.pem"), "utf8")) }));
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

  test("prints the admin API commands: the npm command in exactly its form and the curl line, both naming the CA bundle and the token file", () => {
    const stdout = running[0]!.stdout();
    const files = printedApiFiles(running[0]!, dataDir);
    assert.equal(files.ca, bundlePath, "the API's server certificate is from Moat's CA: its bundle verifies it");
    assert.equal(files.tokenFile, join(dataDir, "demo-api-token"));
    const curl = stdout.match(curlCommand);
    assert.ok(curl, `the curl line is printed:\n${stdout}`);
    assert.deepEqual([resolve(dataDir, curl[1]!), resolve(dataDir, curl[2]!)], [files.ca, files.tokenFile]);
    // One block on stdout, after the logs of start-up: no log line carries the commands.
    assert.equal(running[0]!.lines.some((line) => JSON.stringify(line).includes("npm run moat")), false);
  });

  test("prints the web console's address; with stdout not a terminal (it carries the log), the token's file to sign in with, not the token", () => {
    const stdout = running[0]!.stdout();
    assert.match(stdout, new RegExp(`^  console: ${apiUrl.replaceAll(".", "\\.")}/console/$`, "m"));
    const signIn = /^  sign in with the token in (\S+): cat (\S+)$/m.exec(stdout);
    assert.ok(signIn, `the sign-in line names the token file:\n${stdout}`);
    assert.equal(resolve(dataDir, signIn[1]!), join(dataDir, "demo-api-token"));
  });

  test("the printed curl request works as printed: TLS verified by the printed CA, the token from the printed file, 200 listing the demo distribution", async () => {
    const answer = await listDistributions(printedApiFiles(running[0]!, dataDir));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.items.map((item: { id: string }) => item.id), ["demo"]);
    assert.equal(answer.body.items[0].document.origins[0].url, `https://localhost:${ports.origin}`);
  });

  test("the printed moat dist list works as printed: its MOAT_API, MOAT_API_CA and MOAT_TOKEN_FILE, as a shell in the demo's directory passes them", async () => {
    const printed = running[0]!.stdout().match(npmCommand);
    assert.ok(printed);
    // `npm run moat --` runs src/cli/main.ts from the repository; here it is run straight, where the printed relative paths hold.
    const run = await runMoat(["dist", "list"], { cwd: dataDir, env: { MOAT_API: apiUrl, MOAT_API_CA: printed[1]!, MOAT_TOKEN_FILE: printed[2]!, MOAT_CONTEXTS: join(dataDir, "no-contexts.yaml") } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ID +VERSION +ALIASES +ORIGINS\ndemo +1 +\S+/);
    // The demo's edge reports in the store as an edge run with --store does: `moat edge list` shows it serving revision 1.
    const env = { MOAT_API: apiUrl, MOAT_API_CA: printed[1]!, MOAT_TOKEN_FILE: printed[2]!, MOAT_CONTEXTS: join(dataDir, "no-contexts.yaml") };
    const edges = await runMoat(["edge", "list", "--json"], { cwd: dataDir, env });
    assert.equal(edges.code, 0, edges.stderr);
    const listed = JSON.parse(edges.stdout) as { items?: { revision: number | null; health: string }[] } | { revision: number | null; health: string }[];
    const items = Array.isArray(listed) ? listed : (listed.items ?? []);
    assert.equal(items.length, 1, edges.stdout);
    assert.equal(items[0]?.revision, 1, edges.stdout);
  });

  test("the token is an admin token for 24 h, in a 0600 file, and in no log line; the store holds the demo config at revision 1", async () => {
    const { tokenFile } = printedApiFiles(running[0]!, dataDir);
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
    const token = (await readFile(tokenFile, "utf8")).trim();
    assert.match(token, /^moat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const moat = running[0]!;
    assert.equal(moat.stdout().includes(token), false, "the token is not printed");
    assert.equal(moat.stderr().includes(token), false);
    assert.equal(moat.stdout().includes(token.slice(22)), false, "nor its secret part");
    const made = moat.lines.find((line) => line.msg === "demo API token made");
    assert.ok(made, "logs that it made a token");
    assert.equal(made.tokenId, token.slice(5, 21));
    assert.equal(made.role, "admin");
    assert.deepEqual(made.revoked, [], "no token before the first start");
    const lifeMs = Date.parse(String(made.expiresAt)) - Date.parse(String(made.time));
    assert.ok(lifeMs > 23.9 * 3600_000 && lifeMs <= 24 * 3600_000, `expires in 24 h (${lifeMs} ms)`);
    const applied = moat.lines.find((line) => line.msg === "demo config applied to the store");
    assert.ok(applied);
    assert.deepEqual([applied.revision, applied.applied, applied.store], [1, true, `sqlite:${join(dataDir, "moat.db")}`]);
  });

  test("the edge runs from the store: a change through the admin API is served by the running edge", async () => {
    const files = printedApiFiles(running[0]!, dataDir);
    const dispatcher = new Agent({ connect: { ca: await readFile(files.ca, "utf8") } });
    try {
      const headers = { authorization: `Bearer ${(await readFile(files.tokenFile, "utf8")).trim()}` };
      const read = await fetch(`${apiUrl}/distributions/demo`, { headers, dispatcher, signal: AbortSignal.timeout(20_000) });
      const item = (await read.json()) as { document: { aliases: string[] } };
      const changed = { ...item.document, aliases: ["localhost", "demo.localhost"] };
      const put = await fetch(`${apiUrl}/distributions/demo`, {
        method: "PUT",
        headers: { ...headers, "content-type": "application/json", "if-match": String(read.headers.get("etag")) },
        body: JSON.stringify(changed),
        dispatcher,
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(put.status, 200, await put.text());
    } finally {
      await dispatcher.close();
    }
    const reloaded = await running[0]!.waitForLine("the edge served revision 2", (line) => line.msg === "config reloaded" && line.revision === 2);
    assert.equal(reloaded.store, `sqlite:${join(dataDir, "moat.db")}`);
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

  test("SIGTERM stops it with exit code 0, after signing an audit checkpoint that covers the whole trail", async () => {
    const moat = running[0]!;
    moat.child.kill("SIGTERM");
    const exit = await moat.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, moat.stderr());
    assert.ok(moat.lines.some((l) => l.msg === "edge stopped"));
    // The demo holds the CA and writes the store, as a CA node does: its trail is anchored, not only hash-chained.
    const verified = await runMoat(["audit", "verify", "--store", dataDir, "--json"], { cwd: dataDir });
    assert.equal(verified.code, 0, verified.stderr);
    const result = JSON.parse(verified.stdout) as { ok: boolean; records: number; checkpoints: { count: number; coveredThrough: number; signatures: string } };
    assert.equal(result.ok, true);
    assert.ok(result.checkpoints.count >= 1, verified.stdout);
    assert.equal(result.checkpoints.signatures, "verified");
    assert.equal(result.checkpoints.coveredThrough, result.records, "the stop's checkpoint covers every record");
  });

  test("a second start on the same data directory reuses the CA, applies demo.yaml again and replaces the API token", async () => {
    const firstToken = (await readFile(join(dataDir, "demo-api-token"), "utf8")).trim();
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

    // demo.yaml is applied again: the alias added through the API (revision 2) is undone, in one new revision.
    const applied = moat.lines.find((l) => l.msg === "demo config applied to the store");
    assert.ok(applied, moat.stdout());
    assert.deepEqual([applied.revision, applied.applied], [3, true]);
    // The token of the first start is revoked; the new one, in the same file, works.
    const files = printedApiFiles(moat, dataDir);
    assert.notEqual((await readFile(files.tokenFile, "utf8")).trim(), firstToken);
    assert.deepEqual(moat.lines.find((l) => l.msg === "demo API token made")?.revoked, [firstToken.slice(5, 21)]);
    assert.equal((await listDistributions(files, firstToken)).status, 401);
    const answer = await listDistributions(files);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.items[0].document.aliases, ["localhost"]);
    assert.equal(answer.body.revision, 3);

    moat.child.kill("SIGTERM");
    assert.deepEqual(await moat.exited, { code: 0, signal: null }, moat.stderr());
  });

  test("a start with demo.yaml unchanged and the store holding it makes no revision", async () => {
    const moat = await startDemo(dataDir);
    running.push(moat);
    const held = moat.lines.find((l) => l.msg === "the store already holds the demo config");
    assert.ok(held, moat.stdout());
    assert.deepEqual([held.revision, held.applied], [3, false]);
    assert.equal((await listDistributions(printedApiFiles(moat, dataDir))).body.revision, 3);
    moat.child.kill("SIGTERM");
    assert.deepEqual(await moat.exited, { code: 0, signal: null }, moat.stderr());
  });
});
