// An origin shield: two edges behind a shield edge make one origin request for a burst of misses, Cache-Status shows both hops, and the shield refuses another distribution's edge.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Client } from "undici";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest, viewerRequestWithSni } from "../support/viewer-client.ts";
import type { ViewerResponse } from "../support/viewer-client.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import { isRefusal, mtlsRequest, within } from "../support/mtls-viewer.ts";
import { createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

const BURST_PER_EDGE = 6;
const cache = { collapseTimeout: "60s" };

describe("origin shield", { timeout: 120_000 }, () => {
  let ca: CertificateAuthority;
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let shield: TestEdge;
  let edgeA: TestEdge;
  let edgeB: TestEdge;
  const clients: Client[] = [];
  const edges: TestEdge[] = [];

  const clientOf = (edge: TestEdge) => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    clients.push(client);
    return client;
  };
  /** An edge of the fleet (the same CA) whose distribution `id` serves shop.test through the shield. */
  const startEdgeBehindShield = async (id: string) => {
    const edge = await startTestEdge(ca, { cache, distributions: [{ id, aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }], shield: { url: `https://127.0.0.1:${shield.edge.httpsPort}` } }] }, { clock, logLevel: "debug" });
    edges.push(edge);
    return edge;
  };

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock, ca);
    files = await createFileDir();
    // The shield trusts Moat's CA for its viewers (the fleet's edges), and only this distribution's edges among them.
    const fleetBundle = await files.write("fleet-ca.pem", ca.bundlePem);
    shield = await startTestEdge(
      ca,
      {
        cache,
        trustStores: { fleet: { caBundle: fleetBundle } },
        distributions: [{ id: "shop", aliases: ["shop.test"], viewerMtls: { mode: "required", trustStore: "fleet", edgesOnly: true }, origins: [{ id: "api", url: origin.origin.url }] }],
      },
      { clock, logLevel: "debug" },
    );
    edges.push(shield);
    edgeA = await startEdgeBehindShield("shop");
    edgeB = await startEdgeBehindShield("shop");
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    for (const edge of edges.reverse()) await edge.close();
    await origin.close();
    await files.remove();
  });

  /** Resolves once `edge` has logged `n` lines of requests waiting on a fill of `path` (collapsed behind it). */
  const waitForCollapsed = (edge: TestEdge, path: string, n: number) => {
    const isWaiting = (line: Record<string, unknown>) => line.msg === "waiting for the same request already on its way to the origin" && line.path === path;
    return edge.waitForLog((line) => isWaiting(line) && edge.logs.filter(isWaiting).length >= n);
  };

  test("a burst of concurrent misses on two edges makes one origin request; Cache-Status shows the shield's entry, then the edge's", async () => {
    const path = "/burst";
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const seen: IncomingHttpHeaders[] = [];
    origin.script(path, (req, res: ServerResponse) => {
      seen.push(req.headers);
      void released.then(() => {
        res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=600", "content-length": "5" });
        res.end("burst");
      });
    });
    const burst = (edge: TestEdge) => Array.from({ length: BURST_PER_EDGE }, () => viewerRequest(clientOf(edge), { path, host: "shop.test" }));
    const answers = [...burst(edgeA), ...burst(edgeB)];
    // Held until every request is in: each edge has one fill at the shield and the rest collapsed behind it, and the
    // shield has one fill at the origin and the other edge's collapsed behind it.
    await within(origin.waitForCount(path, 1), "the first request reaches the origin", 20_000);
    await within(Promise.all([waitForCollapsed(edgeA, path, BURST_PER_EDGE - 1), waitForCollapsed(edgeB, path, BURST_PER_EDGE - 1), waitForCollapsed(shield, path, 1)]), "every request collapsed", 20_000);
    release();
    const responses: ViewerResponse[] = await within(Promise.all(answers), "the viewers' answers", 20_000);

    assert.equal(origin.count(path), 1, "one origin request for the whole burst");
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(response.body, "burst");
      const entries = String(response.headers["cache-status"]).split(", ");
      assert.equal(entries.length, 2, `two hops in ${response.headers["cache-status"]}`);
      // The shield serves only the fleet's edges (edgesOnly): unnamed, it calls itself moat-shield.
      assert.match(entries[0] as string, /^moat-shield; /, "the shield's entry first");
      assert.match(entries[1] as string, /^moat; /, "then the edge's");
    }
    // Each edge forwarded one request (its fill) and collapsed the rest; the shield forwarded one and collapsed the other edge's.
    const shieldEntries = responses.map((response) => String(response.headers["cache-status"]).split(", ")[0] as string);
    assert.equal(shieldEntries.filter((entry) => entry.includes("fwd=uri-miss") && !entry.includes("collapsed")).length, BURST_PER_EDGE, "one edge's viewers got the shield's own miss");
    assert.equal(shieldEntries.filter((entry) => entry.includes("collapsed")).length, BURST_PER_EDGE, "the other edge's were collapsed at the shield");
    const edgeEntries = responses.map((response) => String(response.headers["cache-status"]).split(", ")[1] as string);
    assert.equal(edgeEntries.filter((entry) => entry.includes("collapsed")).length, 2 * (BURST_PER_EDGE - 1), "all but one per edge collapsed at the edge");

    // The origin sees the viewer's address first in X-Forwarded-For, a Via per hop, and the shield's request for shop.test.
    const originSaw = seen[0] as IncomingHttpHeaders;
    assert.equal(originSaw["x-forwarded-for"], "127.0.0.1, 127.0.0.1");
    assert.equal(originSaw.via, "1.1 moat, 1.1 moat");
    assert.equal(originSaw["x-forwarded-host"], "shop.test");

    // Stored at the edge: a hit there names that edge alone (the shield took no part in it).
    const hit = await viewerRequest(clientOf(edgeA), { path, host: "shop.test" });
    assert.match(String(hit.headers["cache-status"]), /^moat; hit; ttl=\d+$/);
    assert.equal(origin.count(path), 1);
  });

  test("the shield refuses an edge certificate of another distribution, with a log line naming why", async () => {
    const path = "/other";
    origin.script(path, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      res.end("ok");
    });
    // Same CA, same alias, same shield: only the distribution in its certificate differs.
    const rogue = await startEdgeBehindShield("other");
    const response = await viewerRequest(clientOf(rogue), { path, host: "shop.test" });
    assert.equal(response.status, 403);
    assert.equal(response.headers["moat-error"], "edge-identity-not-accepted");
    assert.equal(origin.count(path), 0, "nothing reached the origin");
    const line = await shield.waitForLog((entry) => entry.error === "edge-identity-not-accepted" && entry.level === 40);
    assert.equal(line.distribution, "shop");
    assert.equal(line.expected, "spiffe://moat.internal/distribution/shop/origin/<origin id>");
    assert.deepEqual((line.presented as { uris: string[] }).uris, ["spiffe://moat.internal/distribution/other/origin/api"]);
    assert.match(String(line.reason), /another distribution/);

    // The fleet's own edge still goes through.
    const allowed = await viewerRequest(clientOf(edgeB), { path, host: "shop.test" });
    assert.equal(allowed.status, 200);
    assert.equal(origin.count(path), 1);
  });

  test("each hop names itself in Cache-Status: a named edge as moat-<name>; a cache: off path, a POST and the edge's own error keep the names", async () => {
    origin.script("/named", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=600", "content-length": "5" });
      res.end("named");
    });
    origin.script("/off/page", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store", "content-length": "3" });
      res.end("off");
    });
    origin.script("/form", (_req, res) => {
      res.writeHead(201, { "content-type": "text/plain", "content-length": "7" });
      res.end("created");
    });
    const named = await startTestEdge(
      ca,
      { cache, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }], behaviors: [{ path: "/off/*", target: "api", cache: "off" }, { path: "*", target: "api" }], shield: { url: `https://127.0.0.1:${shield.edge.httpsPort}` } }] },
      { clock, edgeName: "fra 1" },
    );
    edges.push(named);
    const client = clientOf(named);
    // "fra 1" is not a token: the space becomes "-".
    const miss = await viewerRequest(client, { path: "/named", host: "shop.test" });
    assert.equal(miss.status, 200);
    assert.match(String(miss.headers["cache-status"]), /^moat-shield; fwd=uri-miss; fwd-status=200; detail=storing, moat-fra-1; fwd=uri-miss; fwd-status=200; detail=storing$/);
    const hit = await viewerRequest(client, { path: "/named", host: "shop.test" });
    assert.match(String(hit.headers["cache-status"]), /^moat-fra-1; hit; ttl=\d+$/);
    // Not cached at the edge (cache: off): the shield's entry stays, before the edge's.
    const off = await viewerRequest(client, { path: "/off/page", host: "shop.test" });
    assert.equal(off.body, "off");
    assert.equal(off.headers["cache-status"], "moat-shield; fwd=uri-miss; fwd-status=200; detail=no-store, moat-fra-1; fwd=bypass");
    const post = await viewerRequest(client, { path: "/form", host: "shop.test", method: "POST", headers: { "content-type": "text/plain" }, body: "a=1" });
    assert.equal(post.status, 201);
    assert.equal(post.headers["cache-status"], "moat-shield; fwd=method, moat-fra-1; fwd=method");
    // The edge's own errors name it too.
    const missing = await viewerRequestWithSni(named.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test", host: "other.test", path: "/named" });
    assert.equal(missing.status, 421);
    assert.equal(missing.headers["cache-status"], "moat-fra-1; detail=misdirected-request");
  });

  test("the viewer's certificate headers reach the origin through the shield as the edge made them; a viewer cannot forge them, and the shield adds none about the edge", async () => {
    const partners = await createViewerCa("Partner CA");
    const alice = await partners.issue("valid", "alice");
    const caBundle = await files.write("partners.pem", partners.certPem);
    const edge = await startTestEdge(
      ca,
      {
        cache,
        trustStores: { partners: { caBundle } },
        distributions: [{ id: "shop", aliases: ["shop.test"], viewerMtls: { mode: "optional", trustStore: "partners" }, origins: [{ id: "api", url: origin.origin.url }], behaviors: [{ path: "*", target: "api", cache: "off" }], shield: { url: `https://127.0.0.1:${shield.edge.httpsPort}` } }],
      },
      { clock },
    );
    edges.push(edge);
    const seen: IncomingHttpHeaders[] = [];
    origin.script("/whoami", (req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store", "content-length": "2" });
      res.end("ok");
    });
    const forged = { "moat-viewer-cert-subject": "CN=admin", "moat-viewer-cert-verify": "success", "client-cert": ":AAAA:", moat_viewer_cert_serial: "01" };
    const withCert = await mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test", path: "/whoami", cert: alice, headers: forged });
    assert.ok(!isRefusal(withCert), JSON.stringify(withCert));
    assert.equal(withCert.status, 200);
    const saw = seen[0] as IncomingHttpHeaders;
    assert.equal(saw["moat-viewer-cert-present"], "true");
    assert.equal(saw["moat-viewer-cert-verify"], "success");
    assert.equal(saw["moat-viewer-cert-serial"], alice.serialHex);
    assert.match(String(saw["moat-viewer-cert-subject"]), /CN=alice/);
    assert.equal(saw["client-cert"], `:${new X509Certificate(alice.certPem).raw.toString("base64")}:`);
    assert.equal(saw.moat_viewer_cert_serial, undefined);
    // Not the edge's own certificate, which the shield verified.
    assert.doesNotMatch(JSON.stringify(saw), /shop\/api|spiffe:\/\/moat\.internal/);

    const without = await mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test", path: "/whoami", headers: forged });
    assert.ok(!isRefusal(without) && without.status === 200, JSON.stringify(without));
    const sawNone = seen[1] as IncomingHttpHeaders;
    assert.equal(sawNone["moat-viewer-cert-present"], "false");
    assert.equal(sawNone["moat-viewer-cert-verify"], "none");
    assert.equal(sawNone["moat-viewer-cert-subject"], undefined);
    assert.equal(sawNone["client-cert"], undefined);

    // An edge without viewer mTLS sends none, and the shield adds none: the origin is told nothing about certificates.
    const plain = await mtlsRequest({ port: edgeA.edge.httpsPort, caPem: ca.bundlePem, servername: "shop.test", path: "/whoami", headers: forged });
    assert.ok(!isRefusal(plain) && plain.status === 200, JSON.stringify(plain));
    const sawPlain = seen[2] as IncomingHttpHeaders;
    assert.deepEqual(Object.keys(sawPlain).filter((name) => /cert/.test(name)), []);
  });

  test("a shield that cannot be reached is a 502 whose log line names the shield; the edge does not go to the origin", async () => {
    const path = "/down";
    origin.script(path, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      res.end("ok");
    });
    // A port that was listening a moment ago and is closed now: nothing answers there.
    const gone = await startTestEdge(ca, { distributions: [{ id: "spare", aliases: ["spare.test"], origins: [{ id: "api", url: origin.origin.url }] }] });
    const closedPort = gone.edge.httpsPort;
    await gone.close();
    const edge = await startTestEdge(ca, { cache, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }], shield: { url: `https://127.0.0.1:${closedPort}` } }] });
    edges.push(edge);
    const response = await viewerRequest(clientOf(edge), { path, host: "shop.test" });
    assert.equal(response.status, 502);
    assert.equal(response.headers["moat-error"], "origin-connect-refused");
    const line = await edge.waitForLog((entry) => entry.msg === "origin request failed");
    assert.match(String((line.error as { message: string }).message), new RegExp(`https://127\\.0\\.0\\.1:${closedPort}, the origin shield`));
    assert.equal(origin.count(path), 0, "no fallback to the origin");
  });
});
