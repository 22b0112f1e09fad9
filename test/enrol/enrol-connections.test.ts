// The enrolment endpoint against clients that never speak: deadlines, a per-address cap, named handshake failures, on a real endpoint.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createEnrolmentService, startEnrolmentServer } from "../../src/enrol/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createGuardPki } from "../guard/guard-pki.ts";
import { withTimeout } from "../guard/guard-fixture.ts";
import { closedBy, isAccepted, tcpFrom, tlsFrom } from "../support/raw-connections.ts";
import { createLogCapture } from "../support/test-edge.ts";

test("the enrolment endpoint closes silent, half-sent and idle connections, caps one address, and names handshakes that never began", async (t) => {
  const pki = await createGuardPki(t);
  const capture = createLogCapture();
  const server = await startEnrolmentServer({
    service: createEnrolmentService({ ca: pki.ca, dataDir: pki.dataDir, masterKey: pki.masterKey }),
    certificate: await pki.server(),
    listen: { host: "127.0.0.1", port: 0 },
    log: createLogger({ level: "info", destination: capture.stream }),
    connections: { handshakeMs: 300, firstByteMs: 300, requestHeadMs: 300, idleMs: 300, maxConnections: 100, maxConnectionsPerAddress: 2 },
  });
  t.after(() => server.stop());
  const connect = (from: string) => tlsFrom(from, { port: server.port, servername: "localhost", ca: pki.ca.bundlePem, ALPNProtocols: ["http/1.1"] });
  const closedLine = (reason: string, from: string) =>
    withTimeout(`${reason} from ${from}`, capture.waitForLog((line) => line.msg === "connection closed" && line.reason === reason && line.remote === from && line.listener === "enrol"));

  const silent = connect("127.0.0.2");
  assert.ok(await isAccepted(silent));
  assert.equal(await closedBy(silent), "");
  await closedLine("first-byte-timeout", "127.0.0.2");

  const slow = connect("127.0.0.3");
  assert.ok(await isAccepted(slow));
  slow.write("POST /v1/enrol HTTP/1.1\r\nHost: localhost\r\nContent-Le");
  assert.match(await closedBy(slow), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  await closedLine("request-head-timeout", "127.0.0.3");

  const kept = connect("127.0.0.4");
  assert.ok(await isAccepted(kept));
  kept.write("GET /v1/trust HTTP/1.1\r\nHost: localhost\r\n\r\n");
  assert.match(await closedBy(kept), /^HTTP\/1\.1 200 /);
  await closedLine("idle-timeout", "127.0.0.4");

  const held = [await tcpFrom("127.0.0.5", server.port), await tcpFrom("127.0.0.5", server.port)];
  const third = await tcpFrom("127.0.0.5", server.port);
  assert.equal(await closedBy(third), "");
  await closedLine("address-connection-limit", "127.0.0.5");
  // The two held ones never send a ClientHello: the handshake deadline closes them, and the address is free again.
  await Promise.all(held.map((socket) => closedBy(socket)));
  await closedLine("handshake-timeout", "127.0.0.5");
  let accepted = false;
  for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
    const socket = connect("127.0.0.5");
    accepted = await isAccepted(socket);
    socket.destroy();
  }
  assert.ok(accepted, "accepted again once the held connections closed");

  const plain = await tcpFrom("127.0.0.6", server.port);
  plain.write("GET /v1/trust HTTP/1.1\r\nHost: localhost\r\n\r\n");
  await closedBy(plain);
  await closedLine("not-tls", "127.0.0.6");
});
