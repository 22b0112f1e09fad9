// What the SDK does on the wire: the API's certificate verified against the CA given (never bypassed), admin certificates, the deadline, answers that are not problems.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { TLSSocket } from "node:tls";
import { before, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { ApiAnswerUnexpectedError, ApiClientDeadlineError, ApiUnreachableError, createMoatClient } from "../../src/sdk/index.ts";
import { useAdminApi } from "../control/admin-api-harness.ts";
import { sqliteEngine } from "./sqlite-engine.ts";
import { problemOf } from "./sdk-contract.ts";

const suite = useAdminApi(sqliteEngine);
let otherCa: CertificateAuthority;
before(async () => {
  otherCa = await createEphemeralCertificateAuthority();
});

async function rejection(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  assert.fail("the call succeeded");
}

test("a CA bundle that did not issue the API's certificate fails verification, and nothing is sent", async (t) => {
  const api = await suite.setUp(t);
  for (const ca of [otherCa.bundlePem, undefined]) {
    const moat = createMoatClient({ url: api.url, ...(ca ? { ca } : {}), token: api.tokens.admin });
    t.after(() => moat.close());
    const error = await rejection(moat.GET("/distributions"));
    assert.ok(error instanceof ApiUnreachableError, String(error));
    assert.equal(error.code, "api-unreachable");
    assert.match(error.message, /its TLS certificate does not verify against the CA bundle given/);
    assert.match(error.message, /--api-ca or MOAT_API_CA/);
  }
  assert.ok(!api.logs.some((line) => line.includes("admin API request")), "no request reached the API");
});

test("a server whose certificate, from the right CA, does not name the address asked is refused", async (t) => {
  const certificate = await suite.ca().issueServerCertificate({ dnsNames: ["elsewhere.example"], validityMs: 3_600_000 });
  const server = createHttpsServer({ key: certificate.keyPem, cert: certificate.chainPem }, (_request, response) => response.end("{}"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const moat = createMoatClient({ url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca: suite.ca().bundlePem, token: "moat_0123456789abcdef_x" });
  t.after(() => moat.close());
  const error = await rejection(moat.GET("/distributions"));
  assert.ok(error instanceof ApiUnreachableError, String(error));
  assert.equal(error.reason, "ERR_TLS_CERT_ALTNAME_INVALID");
});

test("an admin client certificate authenticates; a certificate of another CA is refused by the API", async (t) => {
  const api = await suite.setUp(t);
  const admin = await suite.ca().issueAdminClientCertificate({ trustDomain: "moat.internal", role: "operator", name: "alice", validityMs: 3_600_000 });
  const moat = createMoatClient({ url: api.url, ca: suite.ca().bundlePem, cert: admin.chainPem, key: admin.keyPem });
  t.after(() => moat.close());
  await moat.POST("/distributions", { body: { id: "shop", aliases: ["shop.example"], origins: [{ id: "app", url: "https://app.internal" }] } });
  assert.deepEqual((await api.store.revisions(1)).map((record) => record.actor), ["api:certificate/alice"]);
  assert.equal((await problemOf(moat.GET("/tokens"))).status, 403, "an operator may not list tokens");

  const stranger = await otherCa.issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "mallory", validityMs: 3_600_000 });
  const refused = createMoatClient({ url: api.url, ca: suite.ca().bundlePem, cert: stranger.chainPem, key: stranger.keyPem });
  t.after(() => refused.close());
  assert.equal((await problemOf(refused.GET("/tokens"))).status, 401);
});

test("a server that never answers ends in ApiClientDeadlineError at the deadline", async (t) => {
  const certificate = await suite.ca().issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
  const held: TLSSocket[] = [];
  // Completes the handshake, reads the request, and answers nothing.
  const silent = createTlsServer({ key: certificate.keyPem, cert: certificate.chainPem }, (socket) => {
    held.push(socket);
    socket.resume();
  });
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  t.after(() => {
    for (const socket of held) socket.destroy();
    silent.close();
  });
  const moat = createMoatClient({ url: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`, ca: suite.ca().bundlePem, token: "moat_0123456789abcdef_x", deadlineMs: 300 });
  t.after(() => moat.close());
  const error = await rejection(moat.GET("/revisions"));
  assert.ok(error instanceof ApiClientDeadlineError, String(error));
  assert.match(error.message, /did not answer GET \/revisions within 300 ms/);
  assert.ok(held.length >= 1, "the request reached the server");
});

test("an error that is not problem details (something else at that address) is ApiAnswerUnexpectedError", async (t) => {
  const certificate = await suite.ca().issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
  const other = createHttpsServer({ key: certificate.keyPem, cert: certificate.chainPem }, (_request, response) => {
    response.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad gateway</h1>");
  });
  other.listen(0, "127.0.0.1");
  await once(other, "listening");
  t.after(() => other.close());
  const moat = createMoatClient({ url: `https://127.0.0.1:${(other.address() as AddressInfo).port}`, ca: suite.ca().bundlePem, token: "moat_0123456789abcdef_x" });
  t.after(() => moat.close());
  const error = await rejection(moat.GET("/distributions"));
  assert.ok(error instanceof ApiAnswerUnexpectedError, String(error));
  assert.match(error.message, /answered GET \/distributions with 502 and "text\/html", not problem details/);
  assert.ok(!error.message.includes("moat_0123456789abcdef_x"), "never the token");
});
