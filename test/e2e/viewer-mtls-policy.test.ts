// Viewer mTLS, no way around it: per-path requirements, spoofed certificate headers, SNI/Host switches, HTTP/2 reuse across distributions, renegotiation; and the exact headers an origin receives.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import http2 from "node:http2";
import tls from "node:tls";
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
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCert } from "../support/viewer-pki.ts";

const SPOOFED = {
  "moat-viewer-cert-present": "true",
  "moat-viewer-cert-verify": "success",
  "moat-viewer-cert-subject": "CN=admin",
  "moat-viewer-cert-sha256": "00".repeat(32),
  "Client-Cert": ":AAAA:",
  "client-cert-chain": ":AAAA:",
  "X-Forwarded-Client-Cert": 'Hash=00;Subject="CN=admin"',
};

describe("viewer mTLS: no way around it", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let alice: ViewerCert;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    alice = await partners.issue("valid", "alice");
    files = await createFileDir();
    const caBundle = await files.write("partners.pem", partners.certPem);
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const app = [{ id: "app", url: origin.url }];
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle } },
      distributions: [
        { id: "public", aliases: ["public.test"], origins: app },
        {
          id: "shop",
          aliases: ["shop.test"],
          viewerMtls: { mode: "optional", trustStore: "partners", forward: { xfcc: true } },
          origins: app,
          behaviors: [
            { path: "/admin/*", target: "app", viewerMtls: "required" },
            { path: "*", target: "app" },
          ],
        },
        { id: "vault", aliases: ["vault.test"], viewerMtls: { mode: "required", trustStore: "partners" }, origins: app },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  async function answered(request: Omit<MtlsRequest, "port" | "caPem">): Promise<MtlsAnswer> {
    const answer = await mtlsRequest({ port, caPem: ca.bundlePem, ...request });
    assert.ok(!isRefusal(answer), `expected an answer, got ${isRefusal(answer) ? answer.error.message : ""}`);
    return answer;
  }

  test("a path that requires a certificate answers 403 client-cert-missing without one, and reaches the origin with one", async () => {
    const hits = origin.seen.length;
    const without = await answered({ servername: "shop.test", path: "/admin/users" });
    assert.equal(without.status, 403);
    assert.equal(without.headers["moat-error"], "client-cert-missing");
    assert.match(without.body, /requires a client certificate/);
    assert.equal(origin.seen.length, hits, "the origin never sees the refused request");
    const elsewhere = await answered({ servername: "shop.test", path: "/catalog" });
    assert.equal(elsewhere.status, 200, "the rest of an optional distribution needs no certificate");
    const withCert = await answered({ servername: "shop.test", path: "/admin/users", cert: alice });
    assert.equal(withCert.status, 200);
    assert.equal(origin.seen.at(-1)?.url, "/admin/users");
  });

  test("the origin learns the certificate: Moat's fields, RFC 9440 Client-Cert and Client-Cert-Chain, and XFCC", async () => {
    await answered({ servername: "shop.test", path: "/who", cert: alice });
    const headers = origin.seen.at(-1)?.headers ?? {};
    const leaf = new X509Certificate(alice.certPem);
    assert.equal(headers["moat-viewer-cert-present"], "true");
    assert.equal(headers["moat-viewer-cert-verify"], "success");
    // RFC 2253: most specific RDN first.
    assert.equal(headers["moat-viewer-cert-subject"], "CN=alice,O=Partner,C=FR");
    assert.equal(headers["moat-viewer-cert-issuer"], "CN=Partner CA,O=Moat Tests");
    assert.equal(headers["moat-viewer-cert-serial"], alice.serialHex);
    assert.equal(headers["moat-viewer-cert-sha256"], leaf.fingerprint256.replaceAll(":", "").toLowerCase());
    assert.equal(headers["moat-viewer-cert-not-before"], leaf.validFromDate.toISOString());
    assert.equal(headers["moat-viewer-cert-not-after"], leaf.validToDate.toISOString());
    assert.equal(headers["moat-viewer-cert-sans"], "DNS:alice.partner.test, URI:spiffe://partner.test/alice");
    assert.equal(decodeURIComponent(String(headers["moat-viewer-cert-pem"])).trim(), alice.certPem.trim());
    // RFC 9440 §2: Structured Field Byte Sequences of the DER.
    assert.equal(headers["client-cert"], `:${leaf.raw.toString("base64")}:`);
    assert.match(String(headers["client-cert-chain"]), /^:[A-Za-z0-9+/=]+:(, :[A-Za-z0-9+/=]+:)*$/);
    const firstOfChain = String(headers["client-cert-chain"]).split(", ")[0]?.slice(1, -1) ?? "";
    assert.equal(new X509Certificate(Buffer.from(firstOfChain, "base64")).subject, "O=Moat Tests\nCN=Partner CA");
    const xfcc = String(headers["x-forwarded-client-cert"]);
    assert.ok(xfcc.startsWith(`Hash=${headers["moat-viewer-cert-sha256"]};Cert="`), xfcc);
    assert.ok(xfcc.includes(';Subject="CN=alice,O=Partner,C=FR";URI="spiffe://partner.test/alice";DNS="alice.partner.test"'), xfcc);
  });

  test("spoofed certificate headers from a viewer never reach the origin (HTTP/1.1, every mode)", async () => {
    await answered({ servername: "public.test", path: "/spoof-off", headers: SPOOFED });
    const off = origin.seen.at(-1)?.headers ?? {};
    for (const name of Object.keys(SPOOFED)) assert.equal(off[name.toLowerCase()], undefined, `${name} reached an off distribution's origin`);
    await answered({ servername: "shop.test", path: "/spoof-anonymous", headers: SPOOFED });
    const anonymous = origin.seen.at(-1)?.headers ?? {};
    assert.equal(anonymous["moat-viewer-cert-present"], "false");
    assert.equal(anonymous["moat-viewer-cert-verify"], "none");
    assert.equal(anonymous["moat-viewer-cert-subject"], undefined);
    assert.equal(anonymous["client-cert"], undefined);
    assert.equal(anonymous["x-forwarded-client-cert"], undefined);
    await answered({ servername: "shop.test", path: "/spoof-alice", cert: alice, headers: SPOOFED });
    const verified = origin.seen.at(-1)?.headers ?? {};
    assert.equal(verified["moat-viewer-cert-subject"], "CN=alice,O=Partner,C=FR");
    assert.notEqual(verified["client-cert"], ":AAAA:");
  });

  test("spoofed certificate headers are stripped over HTTP/2 too, and a path's requirement holds", async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: "shop.test" });
    try {
      const res = await h2Request(session, { ":path": "/h2-spoof", ":authority": "shop.test", ...Object.fromEntries(Object.entries(SPOOFED).map(([k, v]) => [k.toLowerCase(), v])) });
      assert.equal(res.status, 200);
      const seen = origin.seen.at(-1)?.headers ?? {};
      assert.equal(seen["moat-viewer-cert-present"], "false");
      assert.equal(seen["moat-viewer-cert-subject"], undefined);
      assert.equal(seen["client-cert"], undefined);
      const admin = await h2Request(session, { ":path": "/admin/x", ":authority": "shop.test" });
      assert.equal(admin.status, 403);
      assert.equal(admin.headers["moat-error"], "client-cert-missing");
    } finally {
      session.close();
    }
  });

  test("SNI of a distribution without mTLS, Host of one that requires it: 421, and the origin is not reached", async () => {
    const hits = origin.seen.length;
    const switched = await answered({ servername: "public.test", host: "vault.test", path: "/secrets" });
    assert.equal(switched.status, 421);
    assert.equal(switched.headers["moat-error"], "misdirected-request");
    // A certificate verified for one distribution does not carry over to another with other rules either.
    const withCert = await answered({ servername: "shop.test", host: "vault.test", path: "/secrets", cert: alice });
    assert.equal(withCert.status, 421);
    assert.equal(origin.seen.length, hits);
  });

  test("an HTTP/2 connection is never reused across distributions: 421, and its ORIGIN frame names only its own", async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: "public.test" });
    const origins = new Promise<string[]>((resolve) => session.once("origin", resolve));
    try {
      assert.deepEqual(await within(origins, "the ORIGIN frame"), [`https://public.test:${port}`]);
      const own = await h2Request(session, { ":path": "/h2-own", ":authority": "public.test" });
      assert.equal(own.status, 200);
      const hits = origin.seen.length;
      for (const authority of ["vault.test", "shop.test"]) {
        const reused = await h2Request(session, { ":path": "/h2-reuse", ":authority": authority });
        assert.equal(reused.status, 421, `a request for ${authority} on public.test's connection`);
      }
      assert.equal(origin.seen.length, hits);
    } finally {
      session.close();
    }
  });

  test("a required distribution refuses an HTTP/2 viewer without a certificate with a TLS alert", async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.bundlePem, servername: "vault.test" });
    session.on("error", () => {});
    try {
      const request = session.request({ ":path": "/", ":authority": "vault.test" });
      request.on("response", () => assert.fail("a viewer without a certificate got a response"));
      const error = await within(new Promise<Error>((resolve) => request.once("error", resolve)), "the request's error");
      assert.match(error.message, /alert certificate required|ECONNRESET/);
    } finally {
      session.destroy();
    }
    await within(edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.reason === "client-cert-missing" && l.distribution === "vault"), "the connection record");
  });

  test("TLS renegotiation is refused", async () => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "shop.test", ca: ca.bundlePem, cert: alice.chainPem, key: alice.keyPem, maxVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"] });
    try {
      await within(new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject)), "the TLS 1.2 handshake");
      const outcome = await within(
        new Promise<string>((resolve) => {
          socket.once("close", () => resolve("closed"));
          socket.once("error", (error) => resolve(`error: ${error.message}`));
          const started = socket.renegotiate({ rejectUnauthorized: true }, (error) => resolve(error ? `error: ${error.message}` : "renegotiated"));
          if (!started) resolve("not started");
        }),
        "the renegotiation's outcome",
      );
      assert.notEqual(outcome, "renegotiated");
      assert.match(outcome, /error|closed/);
    } finally {
      socket.destroy();
    }
  });
});
