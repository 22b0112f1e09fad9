// Every 502/504 cause produced by the real fault: a bad origin certificate, a refused client certificate, a closed port, a silent origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

const hourMs = 3_600_000;

describe("origin failures become 502/504 with a named cause", () => {
  let ca: CertificateAuthority;
  let edge: TestEdge;
  const closers: Array<() => Promise<void>> = [];
  const origins: Record<string, { url: string; mtls?: Record<string, unknown>; timeouts?: Record<string, string> }> = {};

  async function origin(id: string, start: () => Promise<TestOrigin>, extra: { mtls?: Record<string, unknown>; timeouts?: Record<string, string> } = {}) {
    const o = await start();
    closers.push(() => o.close());
    origins[id] = { url: o.url, ...extra };
  }

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const otherCa = await createEphemeralCertificateAuthority({ name: "Other" });
    const good = () => ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs });
    const past = new Date(Date.now() - 2 * hourMs);
    await origin("untrusted", async () => startTestOrigin({ certificate: await otherCa.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs }), clientCaPem: ca.bundlePem }));
    await origin("expired", async () =>
      startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: hourMs, notBefore: past, notAfter: new Date(past.getTime() + hourMs) }), clientCaPem: ca.bundlePem }),
    );
    await origin("wrongname", async () => startTestOrigin({ certificate: await good(), clientCaPem: ca.bundlePem }), { mtls: { serverName: "api.other.test" } });
    // The origin trusts another CA for clients, so the edge's certificate is refused (TLS 1.3: after the handshake).
    await origin("distrusts13", async () => startTestOrigin({ certificate: await good(), clientCaPem: otherCa.bundlePem }));
    await origin("distrusts12", async () => startTestOrigin({ certificate: await good(), clientCaPem: otherCa.bundlePem, maxVersion: "TLSv1.2" }));
    // TLS settings with nothing in common with the edge's offer: the origin answers the ClientHello with the
    // same handshake_failure alert as a refused certificate, but no certificate was ever exchanged.
    await origin("cbc12", async () => startTestOrigin({ certificate: await good(), clientCaPem: ca.bundlePem, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA" }));
    await origin("group13", async () => startTestOrigin({ certificate: await good(), clientCaPem: ca.bundlePem, ecdhCurve: "P-521" }));
    await origin("nocert", async () => startTestOrigin({ certificate: await good(), clientCaPem: ca.bundlePem }), { mtls: { clientCertificate: "none" } });
    await origin("slow", async () => startTestOrigin({ certificate: await good(), clientCaPem: ca.bundlePem, handler: () => {} }), { timeouts: { connect: "2s", response: "300ms" } });

    // A port nobody listens on: bind, note the port, close.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    origins.refused = { url: `https://127.0.0.1:${closedPort}` };
    // Accepts TCP and never speaks TLS: the handshake cannot complete.
    const silentSockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      silentSockets.add(socket);
      socket.on("close", () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          for (const socket of silentSockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    origins.silent = { url: `https://localhost:${(silent.address() as AddressInfo).port}`, timeouts: { connect: "300ms", response: "5s" } };

    edge = await startTestEdge(ca, {
      distributions: [
        {
          id: "faults",
          aliases: ["faults.test"],
          origins: Object.entries(origins).map(([id, o]) => ({ id, ...o })),
          behaviors: [...Object.keys(origins).map((id) => ({ path: `/${id}/*`, target: id })), { path: "*", target: "untrusted" }],
        },
      ],
    });
  });

  after(async () => {
    await edge.close();
    for (const close of closers) await close();
  });

  const cases: Array<[string, number, string, RegExp]> = [
    ["untrusted", 502, "origin-cert-untrusted", /does not chain to the trusted CA Moat's CA bundle/],
    ["expired", 502, "origin-cert-expired", /has expired/],
    ["wrongname", 502, "origin-name-mismatch", /does not name api\.other\.test/],
    ["distrusts13", 502, "origin-rejected-client-cert", /refused the edge's client certificate spiffe:\/\/moat\.internal\/distribution\/faults\/origin\/distrusts13/],
    ["distrusts12", 502, "origin-rejected-client-cert", /refused the edge's client certificate/],
    ["nocert", 502, "origin-rejected-client-cert", /presented none/],
    ["cbc12", 502, "origin-tls-failed", /refused the edge's TLS offer before any certificate was exchanged/],
    ["group13", 502, "origin-tls-failed", /refused the edge's TLS offer before any certificate was exchanged/],
    ["refused", 502, "origin-connect-refused", /refused the TCP connection/],
    ["silent", 504, "origin-connect-timeout", /within 300 ms/],
    ["slow", 504, "origin-response-timeout", /did not send response headers within 300 ms/],
  ];

  for (const [id, status, code, message] of cases) {
    test(`${code} (${id})`, async () => {
      const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "faults.test" });
      const res = await viewerRequest(client, { path: `/${id}/x`, host: "faults.test" });
      await client.close();
      assert.equal(res.status, status);
      assert.equal(res.headers["moat-error"], code);
      assert.match(res.body, new RegExp(code));
      // The viewer learns the cause, not the internal origin URL.
      assert.doesNotMatch(res.body, /127\.0\.0\.1|localhost:/);
      const requestId = res.headers["moat-request-id"];
      const detail = edge.logs.find((l) => l.requestId === requestId && l.msg === "origin request failed") as { error?: { code: string; message: string } } | undefined;
      assert.ok(detail, "the log line carries the same request id");
      assert.equal(detail.error?.code, code);
      assert.match(detail.error?.message ?? "", message);
      assert.match(detail.error?.message ?? "", /Fix: /);
      const access = edge.logs.find((l) => l.requestId === requestId && l.msg === "request");
      assert.equal(access?.error, code);
      assert.equal(access?.origin, id);
    });
  }
});
