// Adversarial requests to `moat guard` from an accepted edge, on raw TLS sockets: header spellings that apps fold together, request targets and transfer codings the app would read differently from the guard.
import assert from "node:assert/strict";
import { test } from "node:test";
import tls from "node:tls";
import type { IssuedCertificate } from "../../src/pki/index.ts";
import { createGuardPki } from "./guard-pki.ts";
import { startGuardFixture, withTimeout } from "./guard-fixture.ts";

/** Sends `text` as is on a fresh mTLS connection (Connection: close in it) and resolves with everything the guard answered. */
function rawRequest(port: number, caPem: string, client: IssuedCertificate, text: string): Promise<string> {
  return withTimeout(
    "the guard's answer",
    new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: caPem, cert: client.chainPem, key: client.keyPem }, () => socket.write(text));
      let answer = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (answer += chunk));
      socket.on("close", () => resolve(answer));
      socket.on("error", reject);
    }),
  );
}

test("identity headers spelled with underscores (Moat_Edge_Identity) never reach the app: CGI, WSGI, PHP and Rack fold '_' and '-' together", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop", "api");
  const answer = await rawRequest(
    guard.port,
    pki.ca.bundlePem,
    edge,
    "GET /a HTTP/1.1\r\nHost: localhost\r\nMoat_Edge_Distribution: admin\r\nmoat-edge_identity: spiffe://moat.internal/distribution/admin/origin/x\r\nX_Forwarded_For: 10.0.0.1\r\nX_Other: kept\r\nConnection: close\r\n\r\n",
  );
  assert.match(answer, /^HTTP\/1\.1 200 /);
  const seen = app.seen.at(-1);
  assert.ok(seen);
  const names = Object.keys(seen.headers);
  assert.deepEqual(names.filter((name) => /^moat[-_]edge[-_]/.test(name)).sort(), ["moat-edge-certificate-serial", "moat-edge-distribution", "moat-edge-identity", "moat-edge-origin"]);
  assert.equal(seen.headers["moat-edge-distribution"], "shop");
  assert.equal(seen.headers["x_forwarded_for"], undefined, "nor a second spelling of the X-Forwarded-For the guard sets");
  assert.equal(seen.headers["x_other"], "kept", "other underscore headers are the app's business");
});

test("an absolute-form request target goes to the app in origin-form, with Host from the target (RFC 9112 §3.2.2), so guard and app agree on the host", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop", "api");
  const answer = await rawRequest(guard.port, pki.ca.bundlePem, edge, "GET http://shop.example/d?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n");
  assert.match(answer, /^HTTP\/1\.1 200 /);
  const seen = app.seen.at(-1);
  assert.equal(seen?.url, "/d?q=1");
  assert.equal(seen?.headers.host, "shop.example");
});

test("a request the app would read differently is refused, not forwarded: two Host lines (400), a transfer coding other than chunked (501)", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop", "api");
  const twoHosts = await rawRequest(guard.port, pki.ca.bundlePem, edge, "GET /f HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n");
  assert.match(twoHosts, /^HTTP\/1\.1 400 /);
  assert.match(twoHosts, /moat-guard-error: bad-request/i);
  // Node's parser accepts "gzip, chunked" and removes only the chunking: forwarded, the app would get gzip bytes as the plain body.
  const gzip = await rawRequest(guard.port, pki.ca.bundlePem, edge, "POST /e HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  assert.match(gzip, /^HTTP\/1\.1 501 /);
  // Smuggling shapes Node's parser already refuses stay refused (Content-Length with Transfer-Encoding, obs-fold).
  const both = await rawRequest(guard.port, pki.ca.bundlePem, edge, "POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n0\r\n\r\n");
  assert.match(both, /^HTTP\/1\.1 400 /);
  const folded = await rawRequest(guard.port, pki.ca.bundlePem, edge, "GET /b HTTP/1.1\r\nHost: localhost\r\nX-Foo: a\r\n moat-edge-identity: folded\r\nConnection: close\r\n\r\n");
  assert.match(folded, /^HTTP\/1\.1 400 /);
  const chunked = await rawRequest(guard.port, pki.ca.bundlePem, edge, "POST /ok HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  assert.match(chunked, /^HTTP\/1\.1 200 /);
  assert.deepEqual(app.seen.map((seen) => [seen.url, seen.body]), [["/ok", "abc"]], "the app saw the chunked request only");
});
