// The cipher policy on the wire: each Moat TLS endpoint refuses a TLS 1.2 client that offers only CBC, keeps refusing it after a reload, refuses renegotiation, and a listener's configured list is the one served.
import assert from "node:assert/strict";
import { once } from "node:events";
import { rename, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { describe, it, test } from "node:test";
import tls from "node:tls";
import { parseConfig } from "../../src/config/index.ts";
import type { IssuedCertificate } from "../../src/pki/index.ts";
import { cipherListProblem, defaultTlsPolicy, TLS12_CIPHERS } from "../../src/tls/index.ts";
import { assertOnlyIssue, minimal } from "../config/fixture.ts";
import { replaceFile, withTimeout } from "../guard/guard-fixture.ts";
import { createGuardPki } from "../guard/guard-pki.ts";
import { startTestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { runMoat } from "../cli/moat-process.ts";
import { startTlsEndpoints, type TlsEndpoint } from "./tls-endpoints.ts";

type Handshake = { ok: true; protocol: string; cipher: string; group: string | undefined } | { ok: false; code: string; message: string };

/** One TLS handshake on loopback, verifying the server against `caPem`; presents `client` if given (the guard wants an edge's certificate). */
function handshake(endpoint: TlsEndpoint, options: { caPem: string; client?: IssuedCertificate; maxVersion?: tls.SecureVersion; ciphers?: string; ecdhCurve?: string }): Promise<Handshake> {
  return withTimeout(`a handshake with the ${endpoint.name}`, new Promise<Handshake>((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port: endpoint.port,
      servername: endpoint.servername,
      ca: options.caPem,
      ...(options.client ? { cert: options.client.chainPem, key: options.client.keyPem } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
      ...(options.ecdhCurve ? { ecdhCurve: options.ecdhCurve } : {}),
    });
    socket.once("secureConnect", () => {
      const key = socket.getEphemeralKeyInfo() as { name?: string } | null;
      resolve({ ok: true, protocol: socket.getProtocol() ?? "", cipher: socket.getCipher().standardName, group: key?.name });
      socket.end();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? "", message: error.message }));
  }));
}

const CBC_ONLY = { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384" } as const;

test("each endpoint (viewer port, moat guard, enrolment) refuses a TLS 1.2 client that offers only CBC ciphers, and serves ECDHE with AES-GCM", { timeout: 60_000 }, async (t) => {
  const { pki, guard, endpoints } = await startTlsEndpoints(t);
  const caPem = pki.ca.bundlePem;
  const edgeCert = await pki.edge("shop");
  for (const endpoint of endpoints) {
    // The guard needs an accepted edge certificate, so that the cipher is the only reason to refuse.
    const client = endpoint.name === "moat guard" ? edgeCert : undefined;
    const cbc = await handshake(endpoint, { caPem, client, ...CBC_ONLY });
    assert.equal(cbc.ok, false, `${endpoint.name} accepted a CBC-only TLS 1.2 client: ${JSON.stringify(cbc)}`);
    assert.match((cbc as { message: string }).message, /handshake failure|no shared cipher/i, endpoint.name);

    const gcm = await handshake(endpoint, { caPem, client, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256" });
    assert.deepEqual(gcm.ok && [gcm.protocol, gcm.cipher], ["TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], `${endpoint.name}: ${JSON.stringify(gcm)}`);
    // The server's order wins: the client's first choice (ChaCha20) is not the server's first (AES-128-GCM).
    const preferred = await handshake(endpoint, { caPem, client, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256" });
    assert.equal(preferred.ok && preferred.cipher, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", endpoint.name);
    // A client with only a group outside the policy (P-521) is refused.
    const p521 = await handshake(endpoint, { caPem, client, ecdhCurve: "P-521" });
    assert.equal(p521.ok, false, `${endpoint.name} accepted key exchange on P-521: ${JSON.stringify(p521)}`);
    const tls13 = await handshake(endpoint, { caPem, client, ecdhCurve: "X25519" });
    assert.deepEqual(tls13.ok && [tls13.protocol, tls13.group], ["TLSv1.3", "X25519"], endpoint.name);
  }

  // A reload swaps the whole secure context: the guard's new one must carry the policy too.
  const renewed = await pki.server();
  await writeFile(`${guard.files.key}.tmp`, renewed.keyPem, { mode: 0o600 });
  await rename(`${guard.files.key}.tmp`, guard.files.key);
  await replaceFile(guard.files.cert, renewed.chainPem);
  // A file watch may have started a reload between the two writes (and refused the mismatched pair): a reload started now sees both.
  for (let attempt = 0; attempt < 3 && guard.guard.material().certPem !== renewed.chainPem; attempt++) await guard.guard.reload();
  assert.equal(guard.guard.material().certPem, renewed.chainPem, "the guard serves the new certificate");
  const guardEndpoint = endpoints.find((endpoint) => endpoint.name === "moat guard")!;
  const afterReload = await handshake(guardEndpoint, { caPem, client: edgeCert, ...CBC_ONLY });
  assert.equal(afterReload.ok, false, `after a reload the guard accepted CBC: ${JSON.stringify(afterReload)}`);
});

test("renegotiation is refused on every endpoint: a connection's peer stays the one its handshake proved", { timeout: 60_000 }, async (t) => {
  const { pki, endpoints } = await startTlsEndpoints(t);
  const edgeCert = await pki.edge("shop");
  for (const endpoint of endpoints) {
    const client = endpoint.name === "moat guard" ? edgeCert : undefined;
    const socket = tls.connect({ host: "127.0.0.1", port: endpoint.port, servername: endpoint.servername, ca: pki.ca.bundlePem, maxVersion: "TLSv1.2", ...(client ? { cert: client.chainPem, key: client.keyPem } : {}) });
    t.after(() => socket.destroy());
    await withTimeout("the handshake", new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject)));
    const outcome = await withTimeout(
      `renegotiation with the ${endpoint.name}`,
      new Promise<string>((resolve) => {
        socket.once("error", (error: Error) => resolve(`error: ${error.message}`));
        socket.once("close", () => resolve("closed"));
        socket.renegotiate({}, (error) => resolve(error ? `error: ${error.message}` : "renegotiated"));
        // Renegotiation happens on the next exchange of records.
        socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
      }),
    );
    assert.notEqual(outcome, "renegotiated", endpoint.name);
  }
});

test("listen.tls sets the viewer port's ciphers and groups: a client outside them is refused, one inside is served", { timeout: 60_000 }, async (t) => {
  const { pki, endpoints } = await startTlsEndpoints(t, { listenTls: { ciphers: ["ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256"], ecdhCurves: ["P-384"] } });
  const viewer = endpoints.find((endpoint) => endpoint.name === "viewer port")!;
  const caPem = pki.ca.bundlePem;
  assert.equal((await handshake(viewer, { caPem, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" })).ok, false, "AES-GCM is no longer offered");
  const chacha12 = await handshake(viewer, { caPem, maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305" });
  assert.deepEqual(chacha12.ok && [chacha12.cipher, chacha12.group], ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "secp384r1"]);
  const chacha13 = await handshake(viewer, { caPem });
  assert.deepEqual(chacha13.ok && [chacha13.protocol, chacha13.cipher], ["TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"]);
  assert.equal((await handshake(viewer, { caPem, ecdhCurve: "X25519" })).ok, false, "X25519 is no longer offered");
});

test("the edge's client offers origins the same policy: an origin that speaks only CBC suites is not reached (502), one with AES-GCM is", { timeout: 60_000 }, async (t) => {
  const pki = await createGuardPki(t);
  const certificate = await pki.server();
  const origins = await Promise.all(
    ["ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"].map(async (ciphers) => {
      const server = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, maxVersion: "TLSv1.2", ciphers }, (_req, res) => res.end("origin"));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      t.after(() => server.close());
      return `https://localhost:${(server.address() as AddressInfo).port}`;
    }),
  );
  const edge = await startTestEdge(pki.ca, {
    distributions: [
      {
        id: "site",
        aliases: ["site.test"],
        origins: [
          { id: "cbc", url: origins[0], mtls: { clientCertificate: "none" } },
          { id: "gcm", url: origins[1], mtls: { clientCertificate: "none" } },
        ],
        behaviors: [{ path: "/cbc", target: "cbc" }, { path: "*", target: "gcm" }],
      },
    ],
  });
  t.after(() => edge.close());
  const client = createViewerClient(edge.edge.httpsPort, { caPem: pki.ca.bundlePem, servername: "site.test" });
  t.after(() => client.close());
  const refused = await viewerRequest(client, { path: "/cbc", host: "site.test" });
  // The handshake_failure alert is classified as it is for a refused client certificate (classify-origin-error.ts); what matters here is that no CBC suite was agreed.
  assert.equal(refused.status, 502);
  assert.match(String(refused.headers["moat-error"]), /^origin-(tls-failed|rejected-client-cert)$/);
  const served = await viewerRequest(client, { path: "/gcm", host: "site.test" });
  assert.deepEqual([served.status, served.body], [200, "origin"]);
});

describe("listen.tls in the config", () => {
  const withTls = (value: unknown) => {
    const document = minimal();
    document.listen = { tls: value };
    return document;
  };
  it("defaults to ECDHE with AES-GCM or ChaCha20-Poly1305 and modern groups, for the viewer port", () => {
    const config = parseConfig(minimal(), { source: "test", baseDir: "/etc/moat", env: {} });
    assert.deepEqual(config.listen.tls, defaultTlsPolicy());
    assert.deepEqual(config.listen.tls.ciphers, [...TLS12_CIPHERS]);
    assert.ok(config.listen.tls.ecdhCurves.includes("X25519") && config.listen.tls.ecdhCurves.includes("P-256"));
    assert.ok(Object.isFrozen(config.listen.tls.ciphers));
  });
  it("refuses a CBC cipher by name and path", () => assertOnlyIssue(withTls({ ciphers: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256"] }), "listen.tls.ciphers[1]", "weak", "CBC"));
  it("refuses static RSA key exchange", () => assertOnlyIssue(withTls({ ciphers: ["AES128-GCM-SHA256"] }), "listen.tls.ciphers[0]", "weak", "forward secrecy"));
  it("refuses DHE", () => assertOnlyIssue(withTls({ ciphers: ["DHE-RSA-AES128-GCM-SHA256"] }), "listen.tls.ciphers[0]", "DHE"));
  it("refuses a TLS 1.3 suite with a truncated tag", () => assertOnlyIssue(withTls({ ciphers: ["TLS_AES_128_CCM_8_SHA256"] }), "listen.tls.ciphers[0]", "truncated"));
  it("refuses an OpenSSL keyword, which is not a cipher name", () => assertOnlyIssue(withTls({ ciphers: ["HIGH"] }), "listen.tls.ciphers[0]", "not a cipher this OpenSSL knows"));
  it("refuses an unknown name", () => assertOnlyIssue(withTls({ ciphers: ["ECDHE-ECDSA-AES128-GCM-SHA257"] }), "listen.tls.ciphers[0]", "not a cipher"));
  it("refuses an empty list", () => assertOnlyIssue(withTls({ ciphers: [] }), "listen.tls.ciphers", "at least 1"));
  it("refuses a group OpenSSL does not know", () => assertOnlyIssue(withTls({ ecdhCurves: ["X25519", "P-257"] }), "listen.tls.ecdhCurves[1]", "OpenSSL does not know"));
  it("refuses an unknown key in the block", () => assertOnlyIssue(withTls({ cipher: ["x"] }), "listen.tls.cipher", "unknown key"));
  it("accepts a TLS 1.3-only list", () => assert.equal(cipherListProblem(["TLS_AES_128_GCM_SHA256"]), null));
});

test("moat guard and moat enrol serve refuse a weak --tls-ciphers before they start, naming the cipher", { timeout: 30_000 }, async () => {
  const guard = await runMoat(["guard", "--upstream", "http://127.0.0.1:1", "--distribution", "shop", "--dir", "/nonexistent", "--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA"], { cwd: "/tmp" });
  assert.equal(guard.code, 2, guard.stderr);
  assert.match(guard.stderr, /guard: --tls-ciphers: AES256-SHA is refused as weak/);
  const enrol = await runMoat(["enrol", "serve", "--dns", "ca.test", "--data-dir", "/nonexistent", "--tls-ecdh-curves", "X25519:nope"], { cwd: "/tmp" });
  assert.equal(enrol.code, 2, enrol.stderr);
  assert.match(enrol.stderr, /enrol serve: --tls-ecdh-curves: OpenSSL does not know/);
});
