// The access line's fields for a hit, a miss and an origin failure over HTTP/1.1 and HTTP/2; traceparent to origins; refused handshakes as rate-limited records.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { validTraceId } from "../../src/observe/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { isRefusal, mtlsRequest, within } from "../support/mtls-viewer.ts";
import type { MtlsAnswer, MtlsRequest } from "../support/mtls-viewer.ts";
import { connectH2, h2Request } from "../support/viewer-client.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCert } from "../support/viewer-pki.ts";

const BODY = "x".repeat(1024);
type Line = Record<string, unknown>;

describe("access log fields and trace context", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let alice: ViewerCert;
  let stranger: ViewerCert;
  let originFingerprint: string;
  let port: number;
  let isClosed = false;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    alice = await partners.issue("valid", "alice");
    stranger = await (await createViewerCa("Stranger CA")).issue("valid", "mallory");
    files = await createFileDir();
    const caBundle = await files.write("partners.pem", partners.certPem);
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    originFingerprint = new X509Certificate(certificate.certPem).fingerprint256;
    origin = await startTestOrigin({
      certificate,
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          const headers: Record<string, string> = { "content-type": "text/plain" };
          if (req.url?.startsWith("/cached")) headers["cache-control"] = "max-age=600";
          else headers["cache-control"] = "no-store";
          // The origin ends its connection: the next request needs a new one, which resumes the TLS session.
          if (req.url?.startsWith("/close")) headers.connection = "close";
          res.writeHead(200, headers);
          res.end(req.method === "POST" ? `got ${Buffer.concat(chunks).length}` : BODY);
        });
      },
    });
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle } },
      distributions: [
        { id: "shop", aliases: ["shop.test"], viewerMtls: { mode: "optional", trustStore: "partners" }, origins: [{ id: "api", url: origin.url }] },
        { id: "vault", aliases: ["vault.test"], viewerMtls: { mode: "required", trustStore: "partners" }, origins: [{ id: "api", url: origin.url }] },
        { id: "broken", aliases: ["broken.test"], origins: [{ id: "gone", url: `https://localhost:${await closedPort()}` }] },
      ],
    });
    port = edge.edge.httpsPort;
  });

  after(async () => {
    if (!isClosed) await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  const request = async (fields: Partial<MtlsRequest> & { path: string }): Promise<MtlsAnswer> => {
    const answer = await mtlsRequest({ port, caPem: ca.bundlePem, servername: "shop.test", cert: alice, ...fields });
    if (isRefusal(answer)) throw answer.error;
    return answer;
  };
  const lineFor = (path: string): Promise<Line> => within(edge.waitForLog((line) => line.msg === "request" && line.path === path), `the access line of ${path}`);
  const seenAt = (path: string) => origin.seen.find((seen) => seen.url === path);

  test("HTTP/1.1 miss then hit: viewer, TLS, certificate, bytes, timings, and the origin connection's fields", async () => {
    const miss = await request({ path: "/cached/a" });
    assert.equal(miss.status, 200);
    const hit = await request({ path: "/cached/a" });
    assert.equal(hit.body, BODY);
    const [missLine, hitLine] = await Promise.all([lineFor("/cached/a"), within(edge.waitForLog((line) => line.path === "/cached/a" && line.cache === "hit"), "the hit's line")]);
    for (const line of [missLine, hitLine]) {
      assert.deepEqual([line.method, line.http, line.status, line.client, line.distribution, line.behavior], ["GET", "1.1", 200, "127.0.0.1", "shop", "*"]);
      assert.equal(typeof line.time, "string");
      assert.equal(line.tlsVersion, "TLSv1.3");
      assert.match(String(line.cipher), /^TLS_AES_|^TLS_CHACHA20_/);
      const cert = line.clientCert as Record<string, unknown>;
      assert.deepEqual([cert.verify, cert.serial, cert.fingerprint256], ["success", alice.serialHex, new X509Certificate(alice.certPem).fingerprint256]);
      assert.match(String(cert.subject), /CN=alice/);
      assert.equal(line.bytesIn, 0);
      assert.equal(line.bytesOut, BODY.length);
      assert.equal(typeof line.ttfbMs, "number");
      assert.ok((line.ttfbMs as number) <= (line.ms as number), "the first byte went before the request ended");
      assert.match(String(line.traceId), /^[0-9a-f]{32}$/);
    }
    assert.equal(missLine.cache, "miss-stored");
    assert.equal(missLine.origin, "api");
    // The edge's first request to this origin: a full handshake.
    assert.equal(missLine.originConnection, "new");
    assert.equal(missLine.originClientSerial, stripZeros(seenAt("/cached/a")?.clientSerial ?? ""));
    assert.equal(missLine.originCertFingerprint256, originFingerprint);
    assert.equal(typeof missLine.originMs, "number");
    // The origin saw the trace the line names.
    assert.equal(String(seenAt("/cached/a")?.headers.traceparent).slice(3, 35), missLine.traceId);
    assert.equal(hitLine.cache, "hit");
    for (const name of ["origin", "originConnection", "originClientSerial", "originCertFingerprint256", "originMs"]) assert.equal(hitLine[name], undefined, name);
  });

  test("origin connections: a keep-alive one is reused, one made after the origin closed its own resumes the TLS session", async () => {
    await request({ path: "/reuse/1" });
    assert.equal((await lineFor("/reuse/1")).originConnection, "reused");
    await request({ path: "/close/1" });
    assert.equal((await lineFor("/close/1")).originConnection, "reused");
    await request({ path: "/after-close" });
    const resumed = await lineFor("/after-close");
    assert.equal(resumed.originConnection, "resumed");
    // Node has no peer certificate on a resumed connection: the one its session was made with.
    assert.equal(resumed.originCertFingerprint256, originFingerprint);
  });

  test("HTTP/2: a GET over the raw stream and a POST through Node's compatibility layer carry the same fields", async () => {
    const session = await connectH2(port, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      assert.equal((await h2Request(session, { ":path": "/h2/get", ":authority": "shop.test" })).body, BODY);
      assert.equal((await h2Request(session, { ":method": "POST", ":path": "/h2/post", ":authority": "shop.test" }, "four")).body, "got 4");
    } finally {
      session.close();
    }
    const [get, post] = await Promise.all([lineFor("/h2/get"), lineFor("/h2/post")]);
    for (const line of [get, post]) {
      assert.deepEqual([line.http, line.status, line.tlsVersion, line.origin, line.originClientSerial], ["2", 200, "TLSv1.3", "api", stripZeros(seenAt("/h2/get")?.clientSerial ?? "")]);
      assert.match(String(line.cipher), /^TLS_/);
      assert.deepEqual(line.clientCert, { verify: "none" }, "no certificate on this connection");
      assert.equal(line.originCertFingerprint256, originFingerprint);
      assert.match(String(line.originConnection), /^(new|reused|resumed)$/);
      assert.equal(typeof line.ttfbMs, "number");
      assert.equal(typeof line.originMs, "number");
      assert.match(String(line.traceId), /^[0-9a-f]{32}$/);
    }
    assert.deepEqual([get.bytesIn, get.bytesOut], [0, BODY.length]);
    assert.deepEqual([post.bytesIn, post.bytesOut], [4, "got 4".length]);
  });

  test("an origin failure: the error cause, the trace, no origin connection fields", async () => {
    const answer = await request({ servername: "broken.test", path: "/down", cert: undefined });
    assert.equal(answer.status, 502);
    const line = await lineFor("/down");
    assert.deepEqual([line.status, line.error, line.origin, line.distribution, line.tlsVersion], [502, "origin-connect-refused", "gone", "broken", "TLSv1.3"]);
    assert.equal(line.originConnection, undefined);
    assert.equal(line.clientCert, undefined, "no viewer mTLS on this distribution");
    assert.ok((line.bytesOut as number) > 0, "the error body was counted");
    assert.match(String(line.traceId), /^[0-9a-f]{32}$/);
  });

  test("traceparent: a valid one goes to the origin unchanged with its tracestate; an invalid one is replaced; an absent one is made", async () => {
    const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await request({ path: "/trace/valid", headers: { traceparent: valid, tracestate: "congo=t61rcWkgMzE" } });
    assert.equal(seenAt("/trace/valid")?.headers.traceparent, valid);
    assert.equal(seenAt("/trace/valid")?.headers.tracestate, "congo=t61rcWkgMzE");
    assert.equal((await lineFor("/trace/valid")).traceId, "4bf92f3577b34da6a3ce929d0e0e4736");

    const invalid = [
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent id
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // version 00 with more
    ];
    for (const [index, value] of invalid.entries()) {
      const path = `/trace/invalid-${index}`;
      await request({ path, headers: { traceparent: value, tracestate: "congo=t61rcWkgMzE" } });
      const sent = String(seenAt(path)?.headers.traceparent);
      assert.notEqual(sent, value, value);
      assert.notEqual(validTraceId(sent), null, `${sent} is valid`);
      assert.equal(seenAt(path)?.headers.tracestate, undefined, "a tracestate without a valid traceparent is dropped");
      assert.equal((await lineFor(path)).traceId, sent.slice(3, 35));
    }

    await request({ path: "/trace/absent-1" });
    await request({ path: "/trace/absent-2" });
    const [first, second] = [String(seenAt("/trace/absent-1")?.headers.traceparent), String(seenAt("/trace/absent-2")?.headers.traceparent)];
    for (const made of [first, second]) assert.match(made, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(first.slice(3, 35), second.slice(3, 35), "each request its own trace");
    assert.equal((await lineFor("/trace/absent-1")).traceId, first.slice(3, 35));
  });

  test("a refused handshake is a connection record with reason, SNI, TLS version and the certificate sent", async () => {
    const untrusted = await mtlsRequest({ port, caPem: ca.bundlePem, servername: "shop.test", cert: stranger, path: "/refused" });
    assert.ok(isRefusal(untrusted));
    const record = await within(edge.waitForLog((line) => line.msg === "viewer handshake refused" && line.reason === "client-cert-untrusted"), "the untrusted certificate's record");
    assert.deepEqual([record.sni, record.tlsVersion, record.distribution, record.remote, record.listener], ["shop.test", "TLSv1.3", "shop", "127.0.0.1", "viewers"]);
    assert.equal((record.clientCert as Record<string, unknown>).serial, stranger.serialHex);

    const missing = await mtlsRequest({ port, caPem: ca.bundlePem, servername: "vault.test", path: "/refused" });
    assert.ok(isRefusal(missing));
    const noCert = await within(edge.waitForLog((line) => line.msg === "viewer handshake refused" && line.reason === "client-cert-missing"), "the missing certificate's record");
    assert.deepEqual([noCert.sni, noCert.distribution], ["vault.test", "vault"]);
    assert.equal(noCert.tlsVersion, "TLSv1.3");
  });

  test("a burst of refusals from one address writes one record, then the count of those suppressed", async () => {
    for (let attempt = 0; attempt < 4; attempt++) assert.ok(isRefusal(await mtlsRequest({ port, caPem: ca.bundlePem, servername: "shop.test", cert: stranger, path: "/burst" })));
    // The untrusted certificate's record of the test before is this window's one; the stop writes the count.
    isClosed = true;
    await edge.close();
    const records = edge.logs.filter((line) => line.msg === "viewer handshake refused" && line.reason === "client-cert-untrusted");
    assert.equal(records.length, 1);
    const suppressed = edge.logs.find((line) => line.msg === "connection log lines suppressed" && line.reason === "client-cert-untrusted");
    assert.equal(suppressed?.suppressed, 4);
    assert.equal(suppressed?.remote, "127.0.0.1");
  });
});

function stripZeros(serial: string): string {
  return serial.replace(/^(00)+(?=[0-9a-f])/, "");
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
