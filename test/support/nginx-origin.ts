// A real nginx (Debian's package) as a test's own process on loopback: an HTTPS origin that requires a client certificate, reloadable with SIGHUP like `nginx -s reload`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { TestContext } from "node:test";
import { withDeadline } from "./deadline.ts";

export interface NginxOrigin {
  port: number;
  /** Writes a new server certificate and key, for the next reload (a certificate rotation). */
  writeServerCertificate(certificate: { chainPem: string; keyPem: string }): Promise<void>;
  /** Writes the bundle that client certificates must chain to, for the next reload (a CA rollover step). */
  writeClientCa(pem: string): Promise<void>;
  /** Reloads the configuration (SIGHUP, what `nginx -s reload` sends) and resolves once the new worker has started. */
  reload(): Promise<void>;
  /** Which nginx worker processes and which client connections have answered so far, from nginx's own access log. */
  served(): Promise<{ requests: number; workers: Set<string>; connections: Set<string> }>;
}

/** nginx's path, or undefined when the test was skipped; with MOAT_REQUIRE_NGINX=1 (CI) a missing nginx fails instead. */
export function nginxOrSkip(t: TestContext): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, "nginx"), constants.X_OK);
      return join(dir, "nginx");
    } catch {
      // not here
    }
  }
  if (process.env.MOAT_REQUIRE_NGINX === "1") assert.fail("nginx is not installed, and MOAT_REQUIRE_NGINX=1 says it must be (.ci/run installs it with apt-get install -y nginx)");
  t.skip("nginx is not installed here; `apt-get install -y nginx` to run this test (CI installs it)");
  return undefined;
}

/** How nginx checks client certificates, and what it serves besides 200 at /. */
export interface NginxOriginOptions {
  certificate: { chainPem: string; keyPem: string };
  clientCaPem: string;
  /** ssl_verify_client: `on` (the default) refuses a request without a certificate that chains to `clientCaPem`. */
  verifyClient?: "on" | "optional" | "optional_no_ca";
  /** More location blocks inside the server block, e.g. an application's own 400. */
  locations?: string;
}

/**
 * Starts nginx answering 200 on every path over HTTPS, to clients whose certificate chains to `clientCaPem`.
 * Keep-alive stays on (nginx's default) so that the edge reuses connections across reloads.
 */
export async function startNginxOrigin(t: TestContext, nginx: string, options: NginxOriginOptions): Promise<NginxOrigin> {
  const prefix = await mkdtemp(join(tmpdir(), "moat-nginx-origin-"));
  t.after(() => rm(prefix, { recursive: true, force: true }));
  const port = await freePort();
  const file = (name: string) => join(prefix, name);
  const writeServerCertificate = async (certificate: { chainPem: string; keyPem: string }) => {
    await writeFile(file("server.pem"), certificate.chainPem);
    await writeFile(file("server.key"), certificate.keyPem, { mode: 0o600 });
  };
  await writeServerCertificate(options.certificate);
  await writeFile(file("client-ca.pem"), options.clientCaPem);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((name) => `${name}_temp_path ${file(name)};`).join("\n  ");
  await writeFile(
    file("nginx.conf"),
    `daemon off;
pid ${file("nginx.pid")};
error_log stderr notice;
worker_processes 1;
${process.getuid?.() === 0 ? "user root;" : ""}
events { worker_connections 256; }
http {
  log_format served "$pid $connection";
  access_log ${file("served.log")} served;
  ${temp}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${file("server.pem")};
    ssl_certificate_key ${file("server.key")};
    ssl_client_certificate ${file("client-ca.pem")};
    ssl_verify_client ${options.verifyClient ?? "on"};
    ssl_verify_depth 3;
    keepalive_requests 100000;
    location / { return 200 "ok\\n"; }
    ${options.locations ?? ""}
  }
}
`,
  );
  const child = spawn(nginx, ["-p", prefix, "-e", "stderr", "-c", file("nginx.conf")], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  let output = "";
  let workersStarted = 0;
  const onStarted: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    const count = output.match(/start worker process \d+/g)?.length ?? 0;
    if (count === workersStarted) return;
    workersStarted = count;
    for (const notify of onStarted.splice(0)) notify();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const workerNumber = async (n: number, what: string) => {
    const started = new Promise<void>((resolve, reject) => {
      const check = () => (workersStarted >= n ? resolve() : onStarted.push(check));
      check();
      void exited.then(([code]) => reject(new Error(`nginx exited (${code}) while waiting for ${what}:\n${output}`)));
    });
    await withDeadline(`nginx ${what}`, started, 10_000);
  };
  await workerNumber(1, "to start");
  let reloads = 0;
  return {
    port,
    writeServerCertificate,
    writeClientCa: (pem) => writeFile(file("client-ca.pem"), pem),
    reload: async () => {
      reloads += 1;
      child.kill("SIGHUP");
      await workerNumber(reloads + 1, `reload ${reloads}`);
    },
    served: async () => {
      const lines = (await readFile(file("served.log"), "utf8").catch(() => "")).split("\n").filter(Boolean);
      const workers = new Set<string>();
      const connections = new Set<string>();
      for (const line of lines) {
        const [pid = "", connection = ""] = line.split(" ");
        workers.add(pid);
        // Connection serial numbers are per nginx master, so pid + serial names one connection.
        connections.add(`${pid}/${connection}`);
      }
      return { requests: lines.length, workers, connections };
    },
  };
}

/** A free loopback port: nginx cannot listen on port 0 and report the port. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
