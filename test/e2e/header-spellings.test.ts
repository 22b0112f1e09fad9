// Header names an app behind CGI, PHP, WSGI or Rack reads as one: a viewer cannot pose as verified, or as the edge, by spelling a trusted header with "_", over HTTP/1.1 or HTTP/2; other "_" names are dropped unless the distribution forwards them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { foldedHeaderName } from "../../src/guard/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { SeenRequest, TestOrigin } from "../support/test-origin.ts";
import { connectH2, createViewerClient, h2Request, viewerRequest } from "../support/viewer-client.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";

// What a viewer without a certificate sends to pass for a verified one, or for the edge.
const FORGED = {
  Moat_Viewer_Cert_Verify: "success",
  MOAT_VIEWER_CERT_PRESENT: "true",
  "moat_viewer_cert-subject": "CN=alice",
  Client_Cert: ":AAAA:",
  client_cert_chain: ":AAAA:",
  X_Forwarded_Client_Cert: "Hash=00",
  Moat_Edge_Identity: "spiffe://moat.internal/distribution/shop/origin/app",
  "moat-edge-distribution": "shop",
  X_Forwarded_For: "10.0.0.1",
  X_Forwarded_Proto: "http",
  X_Forwarded_Host: "evil.test",
};

describe("header spellings", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let port: number;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    files = await createFileDir();
    const caBundle = await files.write("partners.pem", partners.certPem);
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        // A shared answer that varies on a "_" header: the cache must choose it by what the origin saw.
        const caching = req.url?.startsWith("/cached/") || req.url?.startsWith("/cgi/") ? { "cache-control": "public, max-age=300", vary: "X_Tenant" } : {};
        res.writeHead(200, { "content-type": "text/plain", ...caching });
        // Under /cgi/, the origin reads HTTP_X_TENANT as CGI does: X-Tenant and X_Tenant are one field there.
        const tenant = req.url?.startsWith("/cgi/") ? (req.headers.x_tenant ?? req.headers["x-tenant"]) : req.headers.x_tenant;
        res.end(`tenant ${String(tenant ?? "none")}`);
      },
    });
    const distribution = (id: string, extra: Record<string, unknown>) => ({
      id,
      aliases: [`${id}.test`],
      viewerMtls: { mode: "optional", trustStore: "partners" },
      origins: [{ id: "app", url: origin.url }],
      ...extra,
    });
    edge = await startTestEdge(
      ca,
      { trustStores: { partners: { caBundle } }, distributions: [distribution("shop", {}), distribution("legacy", { underscoreHeaders: "forward" })] },
      { logLevel: "debug" },
    );
    port = edge.edge.httpsPort;
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  function assertNothingForged(seen: SeenRequest | undefined): void {
    assert.ok(seen);
    const trusted = Object.keys(seen.headers).filter((name) => /^(moat-|client-cert|x-forwarded-client-cert)/.test(foldedHeaderName(name)));
    assert.deepEqual(trusted.sort(), ["moat-viewer-cert-present", "moat-viewer-cert-verify"], "only the edge's own certificate fields");
    assert.equal(seen.headers["moat-viewer-cert-verify"], "none");
    assert.equal(seen.headers["moat-viewer-cert-present"], "false");
    const forwarding = Object.keys(seen.headers).filter((name) => foldedHeaderName(name).startsWith("x-forwarded-"));
    assert.deepEqual(forwarding.sort(), ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"], "each forwarding field once, in the edge's spelling");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
  }

  test("HTTP/1.1: trusted names in any spelling are dropped, other '_' names too by default, and a debug line names them", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const res = await viewerRequest(client, { path: "/a", host: "shop.test", headers: { ...FORGED, "x-forwarded-for": "198.51.100.7", X_Api_Key: "k", "x-plain": "1" } });
    await client.close();
    assert.equal(res.status, 200);
    const seen = origin.seen.at(-1);
    assertNothingForged(seen);
    assert.equal(seen?.headers["x-forwarded-for"], "198.51.100.7, 127.0.0.1", "the viewer's X-Forwarded-For is appended to, its '_' spelling gone");
    assert.equal(seen?.headers["x_api_key"], undefined, "underscoreHeaders: drop (the default)");
    assert.equal(seen?.headers["x-plain"], "1");
    const line = await edge.waitForLog((l) => l.msg === "viewer headers dropped" && l.distribution === "shop");
    assert.equal(line.level, 20, "debug");
    assert.ok((line.dropped as string[]).includes("x_api_key") && (line.dropped as string[]).includes("moat_viewer_cert_verify"));
  });

  test("HTTP/2: the same", async () => {
    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const lower = Object.fromEntries(Object.entries(FORGED).map(([name, value]) => [name.toLowerCase(), value]));
    const res = await h2Request(session, { ":path": "/a", ":authority": "shop.test", ...lower, x_api_key: "k" });
    session.close();
    assert.equal(res.status, 200);
    const seen = origin.seen.at(-1);
    assertNothingForged(seen);
    assert.equal(seen?.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen?.headers["x_api_key"], undefined);
  });

  test("underscoreHeaders: forward lets other '_' names through, never a trusted one", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "legacy.test" });
    const res = await viewerRequest(client, { path: "/a", host: "legacy.test", headers: { ...FORGED, X_Api_Key: "k" } });
    await client.close();
    assert.equal(res.status, 200);
    const seen = origin.seen.at(-1);
    assertNothingForged(seen);
    assert.equal(seen?.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen?.headers["x_api_key"], "k");
  });

  test("the cache chooses a variant by the headers the origin saw: a dropped '_' header picks none", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const before = origin.seen.length;
    const first = await viewerRequest(client, { path: "/cached/x", host: "shop.test", headers: { X_Tenant: "a" } });
    const second = await viewerRequest(client, { path: "/cached/x", host: "shop.test", headers: { X_Tenant: "b" } });
    await client.close();
    assert.equal(first.body, "tenant none");
    assert.equal(second.body, "tenant none");
    assert.match(String(second.headers["x-cache"]), /Hit/, "same request as the origin sees it, same variant");
    assert.equal(origin.seen.length, before + 1);
  });

  test("a Vary that names the '_' spelling of a field is matched on its '-' spelling, as a CGI origin reads it: no viewer gets another's variant", async () => {
    const client = createViewerClient(port, { caPem: ca.bundlePem, servername: "shop.test" });
    const a = await viewerRequest(client, { path: "/cgi/x", host: "shop.test", headers: { "x-tenant": "a" } });
    const b = await viewerRequest(client, { path: "/cgi/x", host: "shop.test", headers: { "x-tenant": "b" } });
    const again = await viewerRequest(client, { path: "/cgi/x", host: "shop.test", headers: { "x-tenant": "a" } });
    await client.close();
    assert.equal(a.body, "tenant a");
    assert.equal(b.body, "tenant b");
    assert.equal(again.body, "tenant a");
    assert.match(String(again.headers["x-cache"]), /Hit/);
  });
});
