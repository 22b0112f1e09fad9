// WebSocket through `moat guard`: a real edge → guard (mTLS, identity check) → a `ws` app; identity headers set and forged ones dropped; direct peers without an accepted certificate refused.
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import type { ClientOptions } from "ws";
import { IDENTITY_HEADERS, REFUSAL_HEADER, startGuard } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createLogCapture, startTestEdge } from "../support/test-edge.ts";
import { TRUST_DOMAIN, createGuardPki } from "./guard-pki.ts";
import type { GuardPki } from "./guard-pki.ts";
import { writeGuardFiles } from "./guard-fixture.ts";

/** A plain HTTP app with a `ws` echo server; records each handshake's headers. */
async function startWebSocketApp(t: TestContext): Promise<{ url: string; handshakes: IncomingMessage["headers"][] }> {
  const handshakes: IncomingMessage["headers"][] = [];
  const server = http.createServer((_req, res) => res.end("not a websocket"));
  const wss = new WebSocketServer({ server, verifyClient: (info, done) => done(info.req.url !== "/refuse", 409, "Conflict") });
  wss.on("connection", (ws, req) => {
    handshakes.push(req.headers);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handshakes };
}

async function startWebSocketGuard(t: TestContext, pki: GuardPki, connections?: Parameters<typeof startGuard>[0]["connections"]) {
  const { files } = await writeGuardFiles(t, pki);
  const app = await startWebSocketApp(t);
  const capture = createLogCapture();
  const guard = await startGuard({ listen: { host: "127.0.0.1", port: 0 }, upstream: new URL(app.url), files, policy: { trustDomain: TRUST_DOMAIN, distributions: ["shop"] }, log: createLogger({ level: "info", destination: capture.stream }), ...(connections ? { connections } : {}) });
  t.after(() => guard.stop());
  return { guard, app, logs: capture.logs };
}

function socketTo(port: number, options: ClientOptions & { servername?: string }): WebSocket {
  return new WebSocket(`wss://127.0.0.1:${port}/live`, options);
}

test("a viewer's WebSocket reaches the app through the edge and the guard, with the edge's identity; forged identity headers are dropped", { timeout: 30_000 }, async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startWebSocketGuard(t, pki);
  const edge = await startTestEdge(
    pki.ca,
    { distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "app", url: `https://localhost:${guard.port}` }], behaviors: [{ path: "*", target: "app", websocket: true }] }] },
    { dataDir: pki.dataDir, masterKey: pki.masterKey },
  );
  t.after(() => edge.edge.stop());
  const ws = socketTo(edge.edge.httpsPort, {
    ca: pki.ca.bundlePem,
    servername: "shop.test",
    headers: { host: "shop.test", "moat-edge-identity": "spiffe://moat.internal/distribution/admin/origin/x", moat_edge_distribution: "admin" },
  });
  await once(ws, "open");
  ws.send("through two hops");
  const [echo] = (await once(ws, "message")) as [Buffer];
  assert.equal(echo.toString("utf8"), "through two hops");
  ws.close(1000);
  await once(ws, "close");
  const seen = app.handshakes.at(-1);
  assert.ok(seen);
  assert.equal(seen[IDENTITY_HEADERS.spiffeId], "spiffe://moat.internal/distribution/shop/origin/app");
  assert.equal(seen[IDENTITY_HEADERS.distributionId], "shop");
  assert.equal(seen.moat_edge_distribution, undefined);
  assert.equal(seen.upgrade, "websocket");

  // The app refuses a handshake: its answer comes back through the guard and the edge as it is.
  const refused = new WebSocket(`wss://127.0.0.1:${edge.edge.httpsPort}/refuse`, { ca: pki.ca.bundlePem, servername: "shop.test", headers: { host: "shop.test" } } as ClientOptions);
  refused.on("error", () => {});
  const [, res] = (await once(refused, "unexpected-response")) as [unknown, IncomingMessage];
  res.resume();
  assert.equal(res.statusCode, 409);
  refused.terminate();
});

test("a direct WebSocket to the guard fails without an edge certificate, and an edge of another distribution gets 403", { timeout: 30_000 }, async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startWebSocketGuard(t, pki);

  const anonymous = socketTo(guard.port, { ca: pki.ca.bundlePem, servername: "localhost" });
  const opened = new Promise<void>((resolve) => anonymous.once("open", resolve));
  const [error] = (await Promise.race([once(anonymous, "error"), opened.then(() => [new Error("opened")])])) as [Error & { code?: string }];
  assert.notEqual(error.message, "opened");

  const blog = await pki.edge("blog", "app");
  const other = socketTo(guard.port, { ca: pki.ca.bundlePem, servername: "localhost", cert: blog.chainPem, key: blog.keyPem });
  const [, res] = (await once(other, "unexpected-response")) as [unknown, IncomingMessage];
  res.resume();
  assert.equal(res.statusCode, 403);
  assert.equal(res.headers[REFUSAL_HEADER], "identity-not-accepted");
  other.on("error", () => {}); // terminating before open reports an error of its own
  other.terminate();
  assert.equal(app.handshakes.length, 0);
});

test("an open WebSocket through the guard outlives its connection deadlines: the upgrade is the connection's exchange", { timeout: 30_000 }, async (t) => {
  const pki = await createGuardPki(t);
  const short = { handshakeMs: 10_000, firstByteMs: 300, requestHeadMs: 300, idleMs: 300, maxConnections: 100, maxConnectionsPerAddress: 100 };
  const { guard, logs } = await startWebSocketGuard(t, pki, short);
  const shop = await pki.edge("shop", "app");
  const ws = socketTo(guard.port, { ca: pki.ca.bundlePem, servername: "localhost", cert: shop.chainPem, key: shop.keyPem });
  await once(ws, "open");
  // Silence for longer than first-byte + request-head + idle together.
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  assert.equal(ws.readyState, WebSocket.OPEN, "the tunnel is still open");
  ws.send("after the deadlines");
  const [echo] = (await once(ws, "message")) as [Buffer];
  assert.equal(echo.toString("utf8"), "after the deadlines");
  assert.ok(!logs.some((l) => l.msg === "connection closed"), "no connection deadline acted on the tunnel");
  ws.close(1000);
  await once(ws, "close");
});
