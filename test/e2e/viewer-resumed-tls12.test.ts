// Resumed TLS 1.2 sessions, which name no server on the edge (OpenSSL skips the SNI callback): each connection is bound to the distribution of its first request's Host and judged for it as SNI would be.
import assert from "node:assert/strict";
import http2 from "node:http2";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { isRefusal, mtlsRequest, within } from "../support/mtls-viewer.ts";
import type { MtlsAnswer, MtlsRequest } from "../support/mtls-viewer.ts";
import { h2Request } from "../support/viewer-client.ts";
import type { ViewerResponse } from "../support/viewer-client.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCert } from "../support/viewer-pki.ts";

describe("resumed TLS 1.2 sessions: bound to the first request's Host", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let alice: ViewerCert;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const [partners, strangers] = await Promise.all([createViewerCa("Partner CA"), createViewerCa("Stranger CA")]);
    alice = await partners.issue("valid", "alice");
    files = await createFileDir();
    const [partnersPem, strangersPem] = await Promise.all([files.write("partners.pem", partners.certPem), files.write("strangers.pem", strangers.certPem)]);
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const distribution = (id: string, extra: Record<string, unknown>) => ({ id, aliases: [`${id}.test`], origins: [{ id: "app", url: origin.url }], ...extra });
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle: partnersPem }, strangers: { caBundle: strangersPem } },
      distributions: [
        distribution("open", {}),
        distribution("modern", { tls: { minVersion: "TLSv1.3" } }),
        // Same trust store: alice would pass a full handshake on either, but a session verified for one is not verified for the other.
        distribution("vault", { viewerMtls: { mode: "required", trustStore: "partners" } }),
        distribution("annex", { viewerMtls: { mode: "required", trustStore: "partners" } }),
        distribution("strangers", { viewerMtls: { mode: "required", trustStore: "strangers" } }),
      ],
    });
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  const tls12 = (request: Omit<MtlsRequest, "port" | "caPem" | "maxVersion">) => mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, maxVersion: "TLSv1.2", ...request });

  async function answered(request: Omit<MtlsRequest, "port" | "caPem" | "maxVersion">): Promise<MtlsAnswer> {
    const answer = await tls12(request);
    assert.ok(!isRefusal(answer), `expected an answer, got ${isRefusal(answer) ? answer.error.message : ""}`);
    return answer;
  }

  /** A full TLS 1.2 handshake, and the session it gave. */
  async function sessionOf(servername: string, cert?: ViewerCert): Promise<Buffer> {
    const full = await answered({ servername, path: `/full/${servername}`, cert });
    assert.equal(full.status, 200, full.body);
    assert.equal(full.isResumed, false);
    assert.ok(full.session, "the edge issues a TLS 1.2 session ticket");
    return full.session;
  }

  /** A resumed request refused with 421: the reason, the reconnect advice, no origin hit. */
  async function assertRefusedResumed(request: Omit<MtlsRequest, "port" | "caPem" | "maxVersion">, code: string): Promise<void> {
    const originHits = origin.seen.length;
    const answer = await answered(request);
    assert.equal(answer.isResumed, true, "the session resumed");
    assert.equal(answer.status, 421, answer.body);
    assert.equal(answer.headers["moat-error"], code);
    assert.match(answer.body, /open a new connection/);
    assert.equal(answer.headers.connection, "close", "a connection that can serve nothing is closed");
    assert.equal(origin.seen.length, originHits, "the origin is not reached");
  }

  test("an mTLS-off distribution: resumed connections are served (was 421 on every one)", async () => {
    const session = await sessionOf("open.test");
    for (const path of ["/resumed/1", "/resumed/2"]) {
      const resumed = await answered({ servername: "open.test", path, session });
      assert.equal(resumed.isResumed, true, "the session resumed");
      assert.equal(resumed.status, 200, resumed.body);
      assert.equal(origin.seen.at(-1)?.url, path);
    }
  });

  test("a session of an mTLS-off distribution, resumed with the Host of a required one, is refused", async () => {
    const session = await sessionOf("open.test");
    await assertRefusedResumed({ servername: "open.test", host: "vault.test", path: "/bypass", session }, "client-cert-missing");
    const record = await within(edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.distribution === "vault" && l.resumed === true), "the refusal's connection record");
    assert.equal(record.reason, "client-cert-missing");
  });

  test("a required distribution: its own session resumes with its certificate; another distribution's Host needs a full handshake there first", async () => {
    const session = await sessionOf("vault.test", alice);
    const resumed = await answered({ servername: "vault.test", path: "/vault-resumed", session, cert: alice });
    assert.equal(resumed.isResumed, true, "the session resumed");
    assert.equal(resumed.status, 200, resumed.body);
    const seen = origin.seen.at(-1);
    assert.equal(seen?.url, "/vault-resumed");
    assert.equal(seen?.headers["moat-viewer-cert-verify"], "success");
    assert.equal(seen?.headers["moat-viewer-cert-serial"], alice.serialHex, "the resumed connection is alice's");

    // Another CA set, and the same one: alice's certificate was verified for vault only.
    await assertRefusedResumed({ servername: "vault.test", host: "strangers.test", path: "/to-strangers", session, cert: alice }, "client-cert-session-unverified");
    await assertRefusedResumed({ servername: "vault.test", host: "annex.test", path: "/to-annex", session, cert: alice }, "client-cert-session-unverified");
    await within(
      edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.distribution === "annex" && l.reason === "client-cert-session-unverified" && (l.clientCert as { serial?: string } | undefined)?.serial === alice.serialHex),
      "the refusal's connection record, naming alice's certificate",
    );

    // Once a full handshake verified alice for annex, vault's session may be used there too (as with SNI).
    await sessionOf("annex.test", alice);
    const onAnnex = await answered({ servername: "vault.test", host: "annex.test", path: "/annex-resumed", session, cert: alice });
    assert.equal(onAnnex.isResumed, true, "the session resumed");
    assert.equal(onAnnex.status, 200, onAnnex.body);
    assert.equal(origin.seen.at(-1)?.headers["moat-viewer-cert-serial"], alice.serialHex);
  });

  test("a TLSv1.3-minimum distribution refuses a resumed TLS 1.2 connection that names it", async () => {
    const session = await sessionOf("open.test");
    await assertRefusedResumed({ servername: "open.test", host: "modern.test", path: "/to-modern", session }, "tls-version-too-old");
    await within(edge.waitForLog((l) => l.msg === "viewer connection refused" && l.reason === "tls-version-too-old" && l.distribution === "modern" && l.resumed === true), "the refusal's connection record");
  });

  test("HTTP/1.1: a later request on the bound connection for another distribution gets 421", async () => {
    const session = await sessionOf("open.test");
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ask = (host: string, path: string) =>
        new Promise<ViewerResponse & { socket: TLSSocket }>((resolve, reject) => {
          // The agent hands `session` to tls.connect for the one connection it makes.
          const options: https.RequestOptions = { host: "127.0.0.1", port: edge.edge.httpsPort, servername: "open.test", ca: ca.bundlePem, maxVersion: "TLSv1.2", agent, path, headers: { host } };
          const req = https.get({ ...options, session } as https.RequestOptions, (res) => {
            const socket = res.socket as TLSSocket;
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), socket }));
          });
          req.on("error", reject);
        });
      const first = await ask("open.test", "/bound-1");
      assert.equal(first.socket.isSessionReused(), true, "the session resumed");
      assert.equal(first.status, 200, first.body);
      const originHits = origin.seen.length;
      const second = await ask("vault.test", "/bound-2");
      assert.equal(second.socket, first.socket, "the same connection");
      assert.equal(second.status, 421, second.body);
      assert.equal(second.headers["moat-error"], "misdirected-request");
      assert.equal(origin.seen.length, originHits, "the origin is not reached");
      const third = await ask("open.test", "/bound-3");
      assert.equal(third.socket, first.socket, "the same connection");
      assert.equal(third.status, 200, "the connection still serves the distribution it is bound to");
    } finally {
      agent.destroy();
    }
  });

  test("HTTP/2: the binding is per connection, not per stream", async () => {
    const session = await sessionOf("open.test");
    const h2 = http2.connect(`https://127.0.0.1:${edge.edge.httpsPort}`, { ca: ca.bundlePem, servername: "open.test", maxVersion: "TLSv1.2", session });
    h2.on("error", () => {});
    try {
      await within(new Promise((resolve) => h2.once("connect", resolve)), "the HTTP/2 connection");
      assert.equal((h2.socket as TLSSocket).isSessionReused(), true, "the session resumed");
      const originHits = origin.seen.length;
      // Both streams are sent at once: the first one the edge sees binds the connection.
      const [first, second] = await Promise.all([h2Request(h2, { ":path": "/h2-first", ":authority": "open.test" }), h2Request(h2, { ":path": "/h2-second", ":authority": "vault.test" })]);
      assert.equal(first.status, 200, first.body);
      assert.equal(second.status, 421, second.body);
      assert.equal(second.headers["moat-error"], "misdirected-request");
      assert.equal(origin.seen.length, originHits + 1, "only the first stream reached the origin");
    } finally {
      h2.close();
    }
  });
});
