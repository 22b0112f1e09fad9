// nginx and HAProxy from Debian's packages, configured from `moat origin snippet`, run as this test's own processes on loopback: the edge of the distribution gets in, another distribution gets 403, a client without a certificate gets no handshake.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { test, type TestContext } from "node:test";
import { runMoat } from "../cli/moat-process.ts";
import { createGuardPki, requestWith, type GuardPki } from "./guard-pki.ts";
import { startUpstreamApp, withTimeout, writeGuardFiles } from "./guard-fixture.ts";

/** The binary's path, or undefined; CI (.ci/run sets MOAT_REQUIRE_NGINX=1) fails instead of skipping when it is missing. */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

function binaryOrSkip(t: TestContext, name: string): string | undefined {
  const path = findBinary(name);
  if (path) return path;
  if (process.env.MOAT_REQUIRE_NGINX === "1") assert.fail(`${name} is not installed, and MOAT_REQUIRE_NGINX=1 says it must be (.ci/run installs it with apt-get install -y nginx haproxy)`);
  t.skip(`${name} is not installed here; \`apt-get install -y nginx haproxy\` to run this test (CI installs it)`);
  return undefined;
}

/** A free loopback port: nginx and HAProxy cannot listen on port 0 and report the port. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts the server and resolves once its output shows it is serving; rejects with its output if it exits first. */
async function startServer(t: TestContext, binary: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = once(child, "exit");
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  const isReady = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (ready.test(output)) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(([code]) => reject(new Error(`${binary} exited (${code}) before it was ready:\n${output}`)));
  });
  await withTimeout(`${binary} to start`, isReady, 15_000);
  return child;
}

async function snippetFor(server: string, dir: string, port: number, upstream: string): Promise<string> {
  const run = await runMoat(["origin", "snippet", server, "--distribution", "shop", "--dir", dir, "--listen", `127.0.0.1:${port}`, "--upstream", upstream], { cwd: dir });
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

/** `other` is another CA with Moat's very names: its edge certificate must not get in either. */
async function assertAdmitsOnlyTheEdge(pki: GuardPki, other: GuardPki, port: number): Promise<void> {
  const shop = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("shop", "api"), headers: { "moat-edge-identity": "forged" } });
  assert.ok("status" in shop, JSON.stringify(shop));
  assert.equal(shop.status, 200);
  assert.match(shop.body, /^app saw undefined 0$/, "a forged identity header is not passed on");
  const blog = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("blog") });
  assert.ok("status" in blog, JSON.stringify(blog));
  assert.equal(blog.status, 403);
  assert.equal(blog.headers["moat-guard-refusal"], "identity-not-accepted");
  // nginx completes the handshake and answers 400 "No required SSL certificate was sent"; HAProxy fails the handshake.
  const direct = await requestWith({ port, caPem: pki.ca.bundlePem });
  assert.ok("error" in direct || direct.status === 400, `a client without a certificate is refused: ${JSON.stringify(direct)}`);
  if ("status" in direct) assert.doesNotMatch(direct.body, /app saw/);
  const foreign = await requestWith({ port, caPem: pki.ca.bundlePem, client: await other.edge("shop") });
  assert.ok("error" in foreign || foreign.status === 400, "a certificate of another CA is refused");
}

test("nginx configured from `moat origin snippet nginx` admits the edge of its distribution only", async (t) => {
  const nginx = binaryOrSkip(t, "nginx");
  if (!nginx) return;
  const pki = await createGuardPki(t);
  const { dir } = await writeGuardFiles(t, pki);
  const app = await startUpstreamApp(t);
  const port = await freePort();
  const prefix = await mkdtemp(join(tmpdir(), "moat-nginx-"));
  t.after(() => rm(prefix, { recursive: true, force: true }));
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((name) => `${name}_temp_path ${join(prefix, name)};`).join("\n  ");
  const config = `daemon off;
pid ${join(prefix, "nginx.pid")};
error_log stderr notice;
worker_processes 1;
${process.getuid?.() === 0 ? "user root;" : ""}
events { worker_connections 64; }
http {
  access_log off;
  ${temp}
${await snippetFor("nginx", dir, port, app.url)}
}
`;
  await writeFile(join(prefix, "nginx.conf"), config);
  await startServer(t, nginx, ["-p", prefix, "-e", "stderr", "-c", join(prefix, "nginx.conf")], /start worker process/);
  await assertAdmitsOnlyTheEdge(pki, await createGuardPki(t), port);
  assert.equal(app.seen.length, 1);
  assert.equal(app.seen[0]?.headers["moat-edge-subject"], "CN=shop/api");
});

test("HAProxy configured from `moat origin snippet haproxy` admits the edge of its distribution only", async (t) => {
  const haproxy = binaryOrSkip(t, "haproxy");
  if (!haproxy) return;
  const pki = await createGuardPki(t);
  const { dir } = await writeGuardFiles(t, pki);
  const app = await startUpstreamApp(t);
  const port = await freePort();
  const prefix = await mkdtemp(join(tmpdir(), "moat-haproxy-"));
  t.after(() => rm(prefix, { recursive: true, force: true }));
  const snippet = await snippetFor("haproxy", dir, port, app.url);
  // The snippet's global section, then defaults for the sections that follow.
  const [globalPart, rest] = snippet.split(/\n(?=frontend )/);
  const config = `${globalPart}\n    pidfile ${join(prefix, "haproxy.pid")}\n\ndefaults\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\n${rest}`;
  await writeFile(join(prefix, "haproxy.cfg"), config);
  await startServer(t, haproxy, ["-W", "-db", "-f", join(prefix, "haproxy.cfg")], /Loading success|New worker/);
  await assertAdmitsOnlyTheEdge(pki, await createGuardPki(t), port);
  assert.equal(app.seen.length, 1);
  assert.equal(app.seen[0]?.headers["moat-edge-subject"], "shop/api");
});
