// nginx checks client certificates after the TLS 1.3 handshake and refuses with its own 400 page: the edge answers viewers 502 origin-rejected-client-cert (never cached, counted, logged), while an application's 400 passes through; HAProxy's refusal inside TLS is the same failure.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Client } from "undici";
import { installEdgeMetrics, loadMetrics } from "../../src/observe/index.ts";
import type { ProcessMetrics } from "../../src/observe/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { withDeadline } from "../support/deadline.ts";
import { nginxOrSkip, startNginxOrigin } from "../support/nginx-origin.ts";
import type { NginxOrigin } from "../support/nginx-origin.ts";
import { parsePrometheusText, sumOf } from "../support/prometheus-text.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { connectH2, createViewerClient, h2Request, viewerRequest } from "../support/viewer-client.ts";
import type { ViewerResponse } from "../support/viewer-client.ts";

const hourMs = 3_600_000;

// What an application behind nginx answers: a 400 page of its own, in HTML, that even uses nginx's words.
const APP_PAGE = "<html><head><title>400 The SSL certificate error</title></head><body>your form's certificate field is empty</body></html>";
const APP_LOCATIONS = `
    location /app-400 { default_type text/html; return 400 "${APP_PAGE}"; }
    location /nginx-400 { return 400; }`;

test("an origin that refuses the edge's certificate with nginx's 400 page", { timeout: 120_000 }, async (t) => {
  const nginx = nginxOrSkip(t);
  if (!nginx) return;
  const nginxes: Record<string, NginxOrigin> = {};
  const ca: CertificateAuthority = await createEphemeralCertificateAuthority();
  const partner = await createEphemeralCertificateAuthority({ name: "Partner" });
  const serverCertificate = () => ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs });
  // Trusts another CA for clients: the edge's certificate fails nginx's check (ssl_verify_client on, and optional).
  nginxes.refusing = await startNginxOrigin(t, nginx, { certificate: await serverCertificate(), clientCaPem: partner.bundlePem });
  nginxes.optional = await startNginxOrigin(t, nginx, { certificate: await serverCertificate(), clientCaPem: partner.bundlePem, verifyClient: "optional" });
  // Trusts Moat's CA: the edge gets in, and the application's answers are its own.
  nginxes.trusting = await startNginxOrigin(t, nginx, { certificate: await serverCertificate(), clientCaPem: ca.bundlePem, locations: APP_LOCATIONS });
  const metrics: ProcessMetrics = (await loadMetrics()).createProcessMetrics();
  installEdgeMetrics(metrics.recorder);
  const url = (id: string) => `https://localhost:${nginxes[id]!.port}`;
  const edge: TestEdge = await startTestEdge(ca, {
    distributions: [
      {
        id: "shop",
        aliases: ["shop.test"],
        origins: [
          { id: "refusing", url: url("refusing") },
          { id: "optional", url: url("optional") },
          { id: "trusting", url: url("trusting") },
          // The trusting nginx, reached without a client certificate: "No required SSL certificate was sent".
          { id: "nocert", url: url("trusting"), mtls: { clientCertificate: "none" } },
        ],
        behaviors: [
          { path: "/refusing/*", target: "refusing" },
          { path: "/optional/*", target: "optional" },
          { path: "/nocert/*", target: "nocert" },
          { path: "/uncached/*", target: "refusing", cache: "off" },
          { path: "*", target: "trusting" },
        ],
      },
    ],
  });
  const client: Client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
  t.after(async () => {
    installEdgeMetrics(undefined);
    await client.close();
    await edge.close();
  });

  /** The refusal as a viewer sees it, and the log lines with its request id. */
  const assertRefused = (res: ViewerResponse, origin: string, message: RegExp) => {
    assert.equal(res.status, 502, res.body);
    assert.equal(res.headers["moat-error"], "origin-rejected-client-cert");
    assert.match(res.body, /origin-rejected-client-cert\nthe origin refused the edge's client certificate\n/);
    assert.doesNotMatch(res.body, /localhost:|SSL certificate error/, "the viewer learns the cause, not the origin's page or address");
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["cache-status"], "moat; detail=origin-rejected-client-cert");
    const requestId = res.headers["moat-request-id"];
    const failed = edge.logs.find((line) => line.requestId === requestId && line.msg === "origin request failed") as { error?: { code: string; message: string } } | undefined;
    assert.equal(failed?.error?.code, "origin-rejected-client-cert");
    assert.match(failed?.error?.message ?? "", message);
    assert.match(failed?.error?.message ?? "", /Fix: /);
    const access = edge.logs.find((line) => line.requestId === requestId && line.msg === "request");
    assert.equal(access?.error, "origin-rejected-client-cert");
    assert.equal(access?.origin, origin);
  };

  await t.test("a certificate nginx does not trust: 502 with Moat-Error, the certificate, nginx's check and the fix in the log; never cached, counted", async () => {
    const failuresBefore = await failureCount(metrics, "refusing");
    const servedBefore = (await nginxes.refusing!.served()).requests;
    for (let round = 0; round < 2; round++) {
      const res = await viewerRequest(client, { path: "/refusing/page", host: "shop.test" });
      assertRefused(res, "refusing", /refused the edge's client certificate spiffe:\/\/moat\.internal\/distribution\/shop\/origin\/refusing .*the origin answered 400 "The SSL certificate error" after the TLS handshake: nginx's ssl_verify_client found the certificate does not verify.*Fix: make the origin trust Moat's CA bundle/);
    }
    // Not cached: the second request went to nginx again, and the metric counts both.
    // nginx writes its access line as it closes the connection, a moment after the answer: read until it is there.
    const served = async () => (await nginxes.refusing!.served()).requests - servedBefore;
    for (let tries = 0; tries < 500 && (await served()) < 2; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await served(), 2, "both requests reached nginx: the refusal was not cached");
    assert.equal((await failureCount(metrics, "refusing")) - failuresBefore, 2);
  });

  await t.test("ssl_verify_client optional refuses the same way", async () => {
    assertRefused(await viewerRequest(client, { path: "/optional/page", host: "shop.test" }), "optional", /answered 400 "The SSL certificate error"/);
  });

  await t.test("no client certificate: nginx's 'No required SSL certificate was sent' is the same failure, naming the missing certificate", async () => {
    assertRefused(await viewerRequest(client, { path: "/nocert/page", host: "shop.test" }), "nocert", /requires a client certificate and the edge presented none .*"No required SSL certificate was sent".*Fix: set origins\[\]\.mtls\.clientCertificate/);
  });

  await t.test("an uncached POST with a body is refused the same way", async () => {
    const res = await viewerRequest(client, { path: "/uncached/form", host: "shop.test", method: "POST", headers: { "content-type": "text/plain" }, body: "a=1" });
    assertRefused(res, "refusing", /answered 400 "The SSL certificate error"/);
  });

  await t.test("over HTTP/2 too", async () => {
    const session = await connectH2(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      const res = await h2Request(session, { ":method": "GET", ":path": "/refusing/h2", ":authority": "shop.test" });
      assertRefused(res, "refusing", /answered 400 "The SSL certificate error"/);
      // An application's 400 over HTTP/2 is the application's.
      const app = await h2Request(session, { ":method": "GET", ":path": "/app-400", ":authority": "shop.test" });
      assert.equal(app.status, 400);
      assert.equal(app.body, APP_PAGE);
      assert.equal(app.headers["moat-error"], undefined);
    } finally {
      session.close();
    }
  });

  await t.test("an application's 400, even one with nginx's words in its title, and nginx's own plain 400 pass through unchanged", async () => {
    const app = await viewerRequest(client, { path: "/app-400", host: "shop.test" });
    assert.equal(app.status, 400);
    assert.equal(app.body, APP_PAGE);
    assert.equal(app.headers["moat-error"], undefined);
    assert.match(String(app.headers["content-type"]), /^text\/html/);
    const plain = await viewerRequest(client, { path: "/nginx-400", host: "shop.test" });
    assert.equal(plain.status, 400);
    assert.match(plain.body, /^<html>\r\n<head><title>400 Bad Request<\/title><\/head>/);
    assert.equal(plain.headers["moat-error"], undefined);
    const ok = await viewerRequest(client, { path: "/", host: "shop.test" });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "ok\n");
  });
});

async function failureCount(metrics: ProcessMetrics, origin: string): Promise<number> {
  const families = parsePrometheusText(await metrics.registry.metrics());
  return sumOf(families, "moat_origin_failures_total", { distribution: "shop", origin, cause: "origin-rejected-client-cert" });
}

// HAProxy (`verify required`) refuses inside TLS: with TLS 1.3 it closes the connection right after the handshake, with
// TLS 1.2 it sends an alert. Neither is an HTTP answer, and both are origin-rejected-client-cert.
test("HAProxy refusing the edge's certificate (TLS 1.3 and 1.2) is origin-rejected-client-cert too", { timeout: 120_000 }, async (t) => {
  const haproxy = haproxyOrSkip(t);
  if (!haproxy) return;
  const ca = await createEphemeralCertificateAuthority();
  const partner = await createEphemeralCertificateAuthority({ name: "Partner" });
  const server = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs });
  const dir = await mkdtemp(join(tmpdir(), "moat-haproxy-origin-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "server.pem"), server.chainPem + server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, "partner.pem"), partner.bundlePem);
  const [tls13, tls12] = [await freePort(), await freePort()];
  const bind = (port: number, extra: string) => `bind 127.0.0.1:${port} ssl crt ${join(dir, "server.pem")} ca-file ${join(dir, "partner.pem")} verify required ${extra}`;
  await writeFile(
    join(dir, "haproxy.cfg"),
    `global
    pidfile ${join(dir, "haproxy.pid")}
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend tls13
    ${bind(tls13, "ssl-min-ver TLSv1.3")}
    http-request return status 200 content-type text/plain string ok
frontend tls12
    ${bind(tls12, "ssl-max-ver TLSv1.2")}
    http-request return status 200 content-type text/plain string ok
`,
  );
  const child = spawn(haproxy, ["-W", "-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  let output = "";
  await withDeadline(
    "haproxy to start",
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString("utf8");
        if (/Loading success|New worker/.test(output)) resolve();
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      void exited.then(([code]) => reject(new Error(`haproxy exited (${code}) before it was ready:\n${output}`)));
    }),
    15_000,
  );
  const edge = await startTestEdge(ca, {
    distributions: [
      {
        id: "shop",
        aliases: ["shop.test"],
        origins: [
          { id: "tls13", url: `https://localhost:${tls13}` },
          { id: "tls12", url: `https://localhost:${tls12}` },
        ],
        behaviors: [
          { path: "/tls12/*", target: "tls12" },
          { path: "*", target: "tls13" },
        ],
      },
    ],
  });
  const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
  t.after(async () => {
    await client.close();
    await edge.close();
  });
  for (const [path, origin] of [["/tls13/x", "tls13"], ["/tls12/x", "tls12"]] as const) {
    const res = await viewerRequest(client, { path, host: "shop.test" });
    assert.equal(res.status, 502, `${origin}: ${res.body}`);
    assert.equal(res.headers["moat-error"], "origin-rejected-client-cert", origin);
    const failed = edge.logs.find((line) => line.requestId === res.headers["moat-request-id"] && line.msg === "origin request failed") as { error?: { message: string } } | undefined;
    assert.match(failed?.error?.message ?? "", /refused the edge's client certificate spiffe:\/\/moat\.internal\/distribution\/shop\/origin\//, origin);
  }
});

function haproxyOrSkip(t: TestContext): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"]) {
    try {
      accessSync(join(dir, "haproxy"), constants.X_OK);
      return join(dir, "haproxy");
    } catch {
      // not here
    }
  }
  if (process.env.MOAT_REQUIRE_NGINX === "1") assert.fail("haproxy is not installed, and MOAT_REQUIRE_NGINX=1 says it must be (.ci/run installs it with apt-get install -y nginx haproxy)");
  t.skip("haproxy is not installed here; `apt-get install -y haproxy` to run this test (CI installs it)");
  return undefined;
}

/** A free loopback port: HAProxy cannot listen on port 0 and report the port. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
