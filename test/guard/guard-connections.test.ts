// `moat guard` against edges (and strangers) that never speak: deadlines, caps per listener and per address, named handshake failures, on a real guard.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { startGuard } from "../../src/guard/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { closedBy, isAccepted, tcpFrom, tlsFrom } from "../support/raw-connections.ts";
import { createLogCapture } from "../support/test-edge.ts";
import { startUpstreamApp, withTimeout, writeGuardFiles } from "./guard-fixture.ts";
import { createGuardPki, TRUST_DOMAIN } from "./guard-pki.ts";

async function startShortGuard(t: TestContext, max: { total: number; perAddress: number }) {
  const pki = await createGuardPki(t);
  const { files } = await writeGuardFiles(t, pki);
  const app = await startUpstreamApp(t);
  const capture = createLogCapture();
  const guard = await startGuard({
    listen: { host: "127.0.0.1", port: 0 },
    upstream: new URL(app.url),
    files,
    policy: { trustDomain: TRUST_DOMAIN, distributions: ["shop"] },
    log: createLogger({ level: "info", destination: capture.stream }),
    connections: { handshakeMs: 300, firstByteMs: 300, requestHeadMs: 300, idleMs: 300, maxConnections: max.total, maxConnectionsPerAddress: max.perAddress },
  });
  t.after(() => guard.stop());
  const edge = await pki.edge("shop");
  /** An edge's TLS connection (its client certificate), from a loopback address of the test's choosing. */
  const edgeFrom = (from: string) => tlsFrom(from, { port: guard.port, servername: "localhost", ca: pki.ca.bundlePem, cert: edge.chainPem, key: edge.keyPem, ALPNProtocols: ["http/1.1"] });
  const closedLine = (reason: string, from: string) =>
    withTimeout(`${reason} from ${from}`, capture.waitForLog((line) => line.msg === "connection closed" && line.reason === reason && line.remote === from && line.listener === "guard"));
  return { guard, edgeFrom, closedLine, logs: capture.logs };
}

test("the guard closes a silent edge at the first-byte deadline, a half-sent head with 408, an idle keep-alive connection, and a stranger that never says hello", async (t) => {
  const { guard, edgeFrom, closedLine, logs } = await startShortGuard(t, { total: 100, perAddress: 10 });

  const silent = edgeFrom("127.0.0.2");
  assert.ok(await isAccepted(silent));
  assert.equal(await closedBy(silent), "");
  await closedLine("first-byte-timeout", "127.0.0.2");

  const slow = edgeFrom("127.0.0.3");
  assert.ok(await isAccepted(slow));
  slow.write("GET / HTTP/1.1\r\nHost: localhost\r\n");
  assert.match(await closedBy(slow), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  await closedLine("request-head-timeout", "127.0.0.3");

  const kept = edgeFrom("127.0.0.4");
  assert.ok(await isAccepted(kept));
  kept.write("GET /kept HTTP/1.1\r\nHost: localhost\r\n\r\n");
  assert.match(await closedBy(kept), /^HTTP\/1\.1 200 /);
  await closedLine("idle-timeout", "127.0.0.4");

  const noHello = await tcpFrom("127.0.0.5", guard.port);
  await closedBy(noHello);
  await closedLine("handshake-timeout", "127.0.0.5");

  const plain = await tcpFrom("127.0.0.5", guard.port);
  plain.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  await closedBy(plain);
  await closedLine("not-tls", "127.0.0.5");

  const leaving = await tcpFrom("127.0.0.5", guard.port);
  leaving.end();
  await closedBy(leaving);
  await closedLine("closed-before-handshake", "127.0.0.5");
  assert.ok(!logs.some((line) => line.msg === "refused a handshake" && line.remote === "127.0.0.5"), "none of them is a refused certificate");
});

test("the guard refuses connection N+1 from one address and N+1 in all, at once, and accepts again once one closes", async (t) => {
  const { guard, edgeFrom, closedLine } = await startShortGuard(t, { total: 4, perAddress: 2 });
  const fromTwo = [await tcpFrom("127.0.0.2", guard.port), await tcpFrom("127.0.0.2", guard.port)];
  const third = await tcpFrom("127.0.0.2", guard.port);
  assert.equal(await closedBy(third), "");
  assert.equal((await closedLine("address-connection-limit", "127.0.0.2")).max, 2);

  const fromThree = [await tcpFrom("127.0.0.3", guard.port), await tcpFrom("127.0.0.3", guard.port)];
  // Four open: the listener is full, whatever the address.
  const fifth = await tcpFrom("127.0.0.4", guard.port);
  await closedBy(fifth);
  assert.equal((await closedLine("connection-limit", "127.0.0.4")).max, 4);

  fromTwo[0]?.destroy();
  // Accepted again once the guard has seen one close (bounded: a few tries while the close travels).
  let accepted = false;
  for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
    const socket = edgeFrom("127.0.0.2");
    accepted = await isAccepted(socket);
    socket.destroy();
  }
  assert.ok(accepted, "a connection from 127.0.0.2 is accepted after one of its two closed");
  for (const socket of [...fromTwo, ...fromThree]) socket.destroy();
});
