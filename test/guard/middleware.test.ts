// The middleware in real servers over real mTLS on loopback: node:https, an Express app and a Fastify app, each requiring the edge of distribution "shop".
import assert from "node:assert/strict";
import { once } from "node:events";
import https from "node:https";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import express from "express";
import Fastify from "fastify";
import {
  createEdgeVerifier,
  createGuardTrust,
  edgeIdentityOf,
  expressEdgeGuard,
  fastifyEdgeGuard,
  guardTlsOptions,
  REFUSAL_HEADER,
  requireEdgeIdentity,
} from "../../src/guard/index.ts";
import type { EdgeVerifier } from "../../src/guard/index.ts";
import type { IssuedCertificate } from "../../src/pki/index.ts";
import { createGuardPki, requestWith, TRUST_DOMAIN, type GuardPki } from "./guard-pki.ts";

interface Setup {
  pki: GuardPki;
  verifier: EdgeVerifier;
  server: IssuedCertificate;
  tls: ReturnType<typeof guardTlsOptions> & { key: string; cert: string };
}

async function setUp(t: TestContext): Promise<Setup> {
  const pki = await createGuardPki(t);
  // With the intermediate: Node's server sockets lose the one the peer sends (nodejs/node#65579).
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem + pki.ca.intermediatePem, crlPem: await pki.crlBundle() });
  const verifier = createEdgeVerifier({ trust, policy: { trustDomain: TRUST_DOMAIN, distributions: ["shop"] } });
  const server = await pki.server();
  return { pki, verifier, server, tls: { key: server.keyPem, cert: server.chainPem, ...guardTlsOptions(trust) } };
}

/** The three outcomes every server must give: the shop edge gets in with its identity, the blog edge gets 403 with a reason, no certificate no handshake. */
async function assertGuards(port: number, { pki }: Setup): Promise<void> {
  const shop = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("shop", "api") });
  assert.ok("status" in shop, JSON.stringify(shop));
  assert.equal(shop.status, 200);
  assert.equal(shop.body, "hello spiffe://moat.internal/distribution/shop/origin/api");

  const blog = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("blog") });
  assert.ok("status" in blog, JSON.stringify(blog));
  assert.equal(blog.status, 403);
  assert.equal(blog.headers[REFUSAL_HEADER], "identity-not-accepted");
  assert.match(blog.body, /^403 Forbidden: identity-not-accepted: spiffe:\/\/moat.internal\/distribution\/blog\/origin\/\S+ is not accepted by this origin/);

  const direct = await requestWith({ port, caPem: pki.ca.bundlePem });
  assert.ok("error" in direct, "a client without a certificate never completes a request");
}

function listenOn(t: TestContext, server: https.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return once(server, "listening").then(() => (server.address() as AddressInfo).port);
}

test("node:https: requireEdgeIdentity runs the handler with the identity, answers 403 with the reason, and OpenSSL refuses a direct client", async (t) => {
  const setup = await setUp(t);
  const server = https.createServer(setup.tls, requireEdgeIdentity(setup.verifier, (_req, res, edge) => res.end(`hello ${edge.spiffeId}`)));
  await assertGuards(await listenOn(t, server), setup);
});

test("Express: app.use(expressEdgeGuard(verifier)); handlers read edgeIdentityOf(req) and res.locals.edgeIdentity", async (t) => {
  const setup = await setUp(t);
  const app = express();
  app.use(expressEdgeGuard(setup.verifier));
  app.get("/", (req, res) => {
    assert.equal(res.locals.edgeIdentity, edgeIdentityOf(req));
    res.send(`hello ${edgeIdentityOf(req)?.spiffeId}`);
  });
  await assertGuards(await listenOn(t, https.createServer(setup.tls, app)), setup);
});

test("Fastify: addHook('onRequest', fastifyEdgeGuard(verifier)); handlers read edgeIdentityOf(request)", async (t) => {
  const setup = await setUp(t);
  const app = Fastify({ https: setup.tls });
  app.addHook("onRequest", fastifyEdgeGuard(setup.verifier));
  let handled = 0;
  app.get("/", async (request) => {
    handled += 1;
    return `hello ${edgeIdentityOf(request)?.spiffeId}`;
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  t.after(() => app.close());
  await assertGuards((app.server.address() as AddressInfo).port, setup);
  assert.equal(handled, 1, "the route ran for the accepted edge only");
});

test("a keep-alive connection is judged again when the trust changes: a certificate revoked mid-connection gets 403 revoked", async (t) => {
  const setup = await setUp(t);
  const server = https.createServer(setup.tls, requireEdgeIdentity(setup.verifier, (_req, res, edge) => res.end(`hello ${edge.spiffeId}`)));
  const port = await listenOn(t, server);
  const edge = await setup.pki.edge("shop");
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  let connections = 0;
  server.on("secureConnection", () => (connections += 1));
  const first = await requestWith({ port, caPem: setup.pki.ca.bundlePem, client: edge, agent });
  assert.ok("status" in first && first.status === 200);
  setup.verifier.setTrust(createGuardTrust({ bundlePem: setup.verifier.trust().bundlePem, crlPem: await setup.pki.revoke(edge) }));
  const second = await requestWith({ port, caPem: setup.pki.ca.bundlePem, client: edge, agent });
  assert.ok("status" in second, JSON.stringify(second));
  assert.equal(second.status, 403);
  assert.equal(second.headers[REFUSAL_HEADER], "revoked");
  assert.equal(connections, 1, "the same connection");
});

test("guardTlsOptions refuses TLS renegotiation: a connection's verified peer certificate can never be swapped", { timeout: 20_000 }, async (t) => {
  const setup = await setUp(t);
  const server = https.createServer(setup.tls, requireEdgeIdentity(setup.verifier, (_req, res) => res.end("ok")));
  const port = await listenOn(t, server);
  const edge = await setup.pki.edge("shop", "api");
  const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: setup.pki.ca.bundlePem, cert: edge.chainPem, key: edge.keyPem, maxVersion: "TLSv1.2" });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  const outcome = await new Promise<string>((resolve) => {
    socket.once("close", () => resolve("closed"));
    socket.once("error", (error) => resolve(`error: ${error.message}`));
    const started = socket.renegotiate({ rejectUnauthorized: true }, (error) => resolve(error ? `error: ${error.message}` : "renegotiated"));
    if (!started) resolve("not started");
  });
  assert.notEqual(outcome, "renegotiated");
  assert.equal(guardTlsOptions(createGuardTrust({ bundlePem: setup.pki.ca.bundlePem })).handshakeTimeout, 10_000);
});

test("guardTlsOptions carries Moat's TLS policy: a TLS 1.2 edge that offers only a CBC suite is refused; an AEAD one is served", { timeout: 20_000 }, async (t) => {
  const setup = await setUp(t);
  const server = https.createServer(setup.tls, requireEdgeIdentity(setup.verifier, (_req, res) => res.end("ok")));
  const port = await listenOn(t, server);
  const edge = await setup.pki.edge("shop", "api");
  const handshake = (ciphers: string) =>
    new Promise<string>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: setup.pki.ca.bundlePem, cert: edge.chainPem, key: edge.keyPem, maxVersion: "TLSv1.2", ciphers });
      socket.once("secureConnect", () => {
        resolve(socket.getCipher().name);
        socket.destroy();
      });
      socket.once("error", (error) => resolve(`refused: ${error.message}`));
    });
  assert.match(await handshake("ECDHE-ECDSA-AES128-SHA256"), /^refused: .*handshake failure|^refused: .*no shared cipher|^refused:/);
  assert.equal(await handshake("ECDHE-ECDSA-AES128-GCM-SHA256"), "ECDHE-ECDSA-AES128-GCM-SHA256");
});
