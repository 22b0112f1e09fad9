// `moat doctor origin` against real TLS origins on loopback, one per fault of the foundation issue's list: each names its actual cause; a healthy origin passes every check.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../src/pki/index.ts";
import { diagnoseOrigin, formatDoctorReport } from "../../src/doctor/index.ts";
import type { DoctorReport } from "../../src/doctor/index.ts";
import { probeOriginClient } from "../../src/origin/index.ts";
import type { OriginClientOptions } from "../../src/origin/index.ts";
import { nginxOrSkip, startNginxOrigin } from "../support/nginx-origin.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";

const hourMs = 3_600_000;
const TIMEOUT_MS = 2_000;

describe("moat doctor origin names the cause of each origin fault", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let clientCert: IssuedCertificate;
  const origins: Record<string, TestOrigin> = {};
  const closers: Array<() => Promise<void>> = [];
  let closedPort = 0;
  let silentPort = 0;
  let oldTlsPort = 0;
  let plainHttpPort = 0;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    otherCa = await createEphemeralCertificateAuthority({ name: "Other" });
    clientCert = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: hourMs });
    const good = () => ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs });
    const past = new Date(Date.now() - 2 * hourMs);
    const start = async (id: string, options: Parameters<typeof startTestOrigin>[0]) => {
      origins[id] = await startTestOrigin(options);
      closers.push(() => origins[id]!.close());
    };
    await start("healthy", { certificate: await good(), clientCaPem: ca.bundlePem });
    // A large page at /: the doctor reads its start only, and still reports the answer.
    await start("large", { certificate: await good(), clientCaPem: ca.bundlePem, handler: (_req, res) => res.end(Buffer.alloc(8 * 1024 * 1024, 0x61)) });
    await start("healthy12", { certificate: await good(), clientCaPem: ca.bundlePem, maxVersion: "TLSv1.2" });
    await start("untrusted", { certificate: await otherCa.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }), clientCaPem: ca.bundlePem });
    await start("expired", { certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs, notBefore: past, notAfter: new Date(past.getTime() + hourMs) }), clientCaPem: ca.bundlePem });
    const future = new Date(Date.now() + 2 * hourMs);
    await start("notyet", { certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs, notBefore: future, notAfter: new Date(future.getTime() + hourMs) }), clientCaPem: ca.bundlePem });
    await start("wrongname", { certificate: await ca.issueServerCertificate({ dnsNames: ["api.other.test"], validityMs: hourMs }), clientCaPem: ca.bundlePem });
    await start("norequest", { certificate: await good() });
    await start("distrusts13", { certificate: await good(), clientCaPem: otherCa.bundlePem });
    await start("distrusts12", { certificate: await good(), clientCaPem: otherCa.bundlePem, maxVersion: "TLSv1.2" });
    await start("cbc12", { certificate: await good(), clientCaPem: ca.bundlePem, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA" });

    // TLS 1.0/1.1 only (OpenSSL 3 needs security level 0 for them): the edge offers 1.2 and 1.3.
    const oldCert = await good();
    const oldTls = https.createServer({ key: oldCert.keyPem, cert: oldCert.chainPem, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }, (_req, res) => res.end("old"));
    await new Promise<void>((resolve) => oldTls.listen(0, "127.0.0.1", resolve));
    oldTlsPort = (oldTls.address() as AddressInfo).port;
    closers.push(() => new Promise((resolve) => oldTls.close(() => resolve())));
    const plain = http.createServer((_req, res) => res.end("plain"));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    plainHttpPort = (plain.address() as AddressInfo).port;
    closers.push(() => new Promise((resolve) => {
      plain.closeAllConnections();
      plain.close(() => resolve());
    }));

    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const silentSockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      silentSockets.add(socket);
      socket.on("close", () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as AddressInfo).port;
    closers.push(() => new Promise((resolve) => {
      for (const socket of silentSockets) socket.destroy();
      silent.close(() => resolve());
    }));
  });

  after(async () => {
    for (const close of closers) await close();
  });

  function optionsFor(url: string, overrides: Partial<OriginClientOptions> = {}): OriginClientOptions {
    const { port } = new URL(url);
    return {
      distributionId: "shop",
      originId: "api",
      url,
      basePath: "",
      hostHeader: `localhost:${port}`,
      serverName: "localhost",
      caPem: ca.bundlePem,
      trustedCaLabel: "Moat's CA bundle (test)",
      clientCertificate: { chainPem: clientCert.chainPem, keyPem: clientCert.keyPem, identity: "spiffe://moat.internal/distribution/shop/origin/api" },
      connectTimeoutMs: 30_000,
      responseTimeoutMs: 30_000,
      ...overrides,
    };
  }

  async function diagnose(id: string, overrides: Partial<OriginClientOptions> = {}): Promise<DoctorReport> {
    return diagnoseOrigin({ options: optionsFor(origins[id]!.url, overrides), subject: id }, { timeoutMs: TIMEOUT_MS });
  }

  function check(report: DoctorReport, id: string) {
    const found = report.checks.find((c) => c.id === id);
    assert.ok(found, `check ${id} in ${formatDoctorReport(report)}`);
    return found;
  }

  function assertFails(report: DoctorReport, id: string, code: string, cause: RegExp) {
    assert.equal(report.ok, false, formatDoctorReport(report));
    const found = check(report, id);
    assert.equal(found.status, "fail", formatDoctorReport(report));
    assert.equal(found.code, code);
    assert.match(found.cause ?? "", cause);
    assert.ok(found.fix, "a failure has a fix");
  }

  for (const id of ["healthy", "healthy12"]) {
    test(`a healthy origin passes every check (${id})`, async () => {
      const report = await diagnose(id);
      assert.equal(report.ok, true, formatDoctorReport(report));
      assert.deepEqual(report.checks.map((c) => c.status), report.checks.map(() => "pass"));
      assert.match(check(report, "tls-handshake").summary, id === "healthy" ? /TLSv1\.3/ : /TLSv1\.2/);
      assert.match(check(report, "http-answer").summary, /answered 200/);
      // The origin lists the CAs it accepts: Moat's root (the bundle it trusts).
      assert.ok(check(report, "client-certificate-request").details?.some((line) => /accepts certificates issued by: CN = Moat Ephemeral Root CA/.test(line)), formatDoctorReport(report));
      assert.equal(origins[id]!.seen.at(-1)?.method, "GET");
      assert.deepEqual(origins[id]!.seen.at(-1)?.clientIdentities, ["spiffe://moat.internal/distribution/shop/origin/api"]);
      assert.match(formatDoctorReport(report), /all checks passed/);
    });
  }

  test("a large answer at / is read only as far as needed", async () => {
    const report = await diagnose("large");
    assert.equal(report.ok, true, formatDoctorReport(report));
    assert.match(check(report, "http-answer").summary, /answered 200/);
  });

  test("origin certificate from an unknown CA: origin-cert-untrusted, naming the root it ends at", async () => {
    const report = await diagnose("untrusted");
    assertFails(report, "origin-certificate", "origin-cert-untrusted", /Other Root CA|not one of the trusted CAs/);
    assert.ok(check(report, "origin-certificate").details?.some((line) => /subject CN=localhost; issuer CN=Other Intermediate CA/.test(line)), formatDoctorReport(report));
  });

  test("expired origin certificate: origin-cert-expired with its not-after", async () => {
    const report = await diagnose("expired");
    assertFails(report, "origin-certificate", "origin-cert-expired", /the certificate expired at/);
  });

  test("origin certificate not valid yet: origin-cert-not-yet-valid with its not-before", async () => {
    const report = await diagnose("notyet");
    assertFails(report, "origin-certificate", "origin-cert-not-yet-valid", /the certificate is not valid before/);
  });

  test("name mismatch: origin-name-mismatch, with the names it has and the one expected", async () => {
    const report = await diagnose("wrongname");
    assertFails(report, "origin-certificate", "origin-name-mismatch", /names DNS:api\.other\.test; the edge expects localhost/);
  });

  test("an origin that does not ask for a client certificate", async () => {
    const report = await diagnose("norequest");
    assertFails(report, "client-certificate-request", "origin-client-cert-not-requested", /sent no CertificateRequest/);
    assert.equal(check(report, "http-answer").status, "pass");
  });

  for (const id of ["distrusts13", "distrusts12"]) {
    test(`an origin that accepts only another CA's client certificates refuses the edge's (${id})`, async () => {
      const report = await diagnose(id);
      assertFails(report, "client-certificate-accepted", "origin-rejected-client-cert", /accepts certificates issued by .*Other .*the edge's certificate is issued by CN=Moat Ephemeral Intermediate CA/);
    });
  }

  test("an origin that requires a client certificate when the edge presents none", async () => {
    const report = await diagnose("healthy", { clientCertificate: null });
    assertFails(report, "client-certificate-accepted", "origin-rejected-client-cert", /requires a client certificate and the edge presented none/);
  });

  test("no TLS version or cipher in common: origin-tls-failed, with what the origin chose", async () => {
    const report = await diagnose("cbc12");
    assertFails(report, "tls-handshake", "origin-tls-failed", /the origin chose TLSv1\.2 with ECDHE-ECDSA-AES128-SHA/);
  });

  test("an origin that speaks only TLS 1.0/1.1: origin-tls-failed, the versions refused", async () => {
    const report = await diagnoseOrigin({ options: optionsFor(`https://localhost:${oldTlsPort}`), subject: "old" }, { timeoutMs: TIMEOUT_MS });
    assertFails(report, "tls-handshake", "origin-tls-failed", /protocol_version alert: it speaks neither TLS 1\.2 nor TLS 1\.3/);
    assert.match(report.checks.find((c) => c.id === "tls-handshake")?.fix ?? "", /enable TLS 1\.2/);
  });

  test("plain HTTP on the origin's port: origin-tls-failed, said to be no TLS at all", async () => {
    const report = await diagnoseOrigin({ options: optionsFor(`https://localhost:${plainHttpPort}`), subject: "plain" }, { timeoutMs: TIMEOUT_MS });
    assertFails(report, "tls-handshake", "origin-tls-failed", /not a TLS record: .*plain HTTP/);
  });

  test("closed port: origin-connect-refused, and nothing else is tried", async () => {
    const report = await diagnoseOrigin({ options: optionsFor(`https://127.0.0.1:${closedPort}`), subject: "closed" }, { timeoutMs: TIMEOUT_MS });
    assertFails(report, "tcp-connect", "origin-connect-refused", /refused the TCP connection/);
    assert.equal(check(report, "tls-handshake").status, "skip");
  });

  test("silent origin: origin-connect-timeout within the doctor's deadline", async () => {
    const report = await diagnoseOrigin({ options: optionsFor(`https://localhost:${silentPort}`), subject: "silent" }, { timeoutMs: 500 });
    assertFails(report, "tls-handshake", "origin-connect-timeout", /within 500 ms/);
  });
});

// nginx completes the handshake and refuses a certificate from an unknown CA with a 400 page: the edge would pass
// that 400 on as an answer, the doctor names it for what it is.
test("nginx refusing the edge's certificate with its 400 page is origin-rejected-client-cert, for moat doctor and the edge's renewal probe", { timeout: 60_000 }, async (t) => {
  const nginx = nginxOrSkip(t);
  if (!nginx) return;
  const ca = await createEphemeralCertificateAuthority();
  const partner = await createEphemeralCertificateAuthority({ name: "Partner" });
  const client = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: hourMs });
  const origin = await startNginxOrigin(t, nginx, { certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }), clientCaPem: partner.bundlePem });
  const url = `https://localhost:${origin.port}`;
  const options: OriginClientOptions = {
    distributionId: "shop", originId: "api", url, basePath: "", hostHeader: `localhost:${origin.port}`, serverName: "localhost", caPem: ca.bundlePem, trustedCaLabel: "Moat's CA bundle (test)",
    clientCertificate: { chainPem: client.chainPem, keyPem: client.keyPem, identity: "spiffe://moat.internal/distribution/shop/origin/api" }, connectTimeoutMs: 30_000, responseTimeoutMs: 30_000,
  };
  const report = await diagnoseOrigin({ options, subject: "nginx" }, { timeoutMs: TIMEOUT_MS });
  assert.equal(report.ok, false, formatDoctorReport(report));
  const accepted = report.checks.find((c) => c.id === "client-certificate-accepted");
  assert.equal(accepted?.status, "fail", formatDoctorReport(report));
  assert.equal(accepted?.code, "origin-rejected-client-cert");
  assert.match(accepted?.cause ?? "", /answered 400 "The SSL certificate error".*accepts certificates issued by CN = Partner Root CA/);
  assert.equal(report.checks.find((c) => c.id === "tls-handshake")?.status, "pass");
  // The edge's own renewal probe reads the same page: a certificate nginx refuses never goes live.
  const probed = await probeOriginClient(options);
  assert.equal(probed?.code, "origin-rejected-client-cert");
  assert.match(probed?.message ?? "", /answered 400 "The SSL certificate error"/);
  const trusted = await startNginxOrigin(t, nginx, { certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }), clientCaPem: ca.bundlePem });
  assert.equal(await probeOriginClient({ ...options, url: `https://localhost:${trusted.port}`, hostHeader: `localhost:${trusted.port}` }), null);
});
