// Viewer connections that never speak, on a real edge: first-byte, request-head and idle deadlines, caps per listener and per address, and the named handshake failures.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { closedBy, closeOf, isAccepted, tcpFrom, tlsFrom } from "../support/raw-connections.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";

describe("viewer connections that never speak", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let port: number;
  const opened: net.Socket[] = [];

  // Each test connects from its own loopback address (all of 127/8 reaches the edge on 127.0.0.1): the
  // log keeps one line per address and reason per window, and the per-address cap counts each apart.
  const connectTls = async (alpn: string, from: string): Promise<tls.TLSSocket> => {
    const socket = tlsFrom(from, { port, servername: "shop.test", ca: ca.bundlePem, ALPNProtocols: [alpn] });
    opened.push(socket);
    await once(socket, "secureConnect");
    assert.equal(socket.alpnProtocol, alpn);
    return socket;
  };
  const connectTcp = async (from: string): Promise<net.Socket> => {
    const socket = await tcpFrom(from, port);
    opened.push(socket);
    return socket;
  };
  const closedLine = (reason: string, from: string) => edge.waitForLog((line) => line.msg === "connection closed" && line.reason === reason && line.remote === from && line.listener === "viewers");

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
    origin = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
    edge = await startTestEdge(ca, {
      connections: { timeouts: { handshake: "300ms", firstByte: "300ms", requestHead: "300ms", idle: "300ms" }, max: { total: 50, perAddress: 4 } },
      distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }] }],
    });
    port = edge.edge.httpsPort;
  });
  after(async () => {
    for (const socket of opened) socket.destroy();
    await edge.close();
    await origin.close();
  });

  test("HTTP/1.1: a connection that sends nothing after the handshake is closed at the first-byte deadline, without an answer", async () => {
    const socket = await connectTls("http/1.1", "127.0.0.2");
    assert.equal(await closedBy(socket), "");
    assert.equal((await closedLine("first-byte-timeout", "127.0.0.2")).protocol, "http/1.1");
  });

  test("HTTP/1.1: a partial request head is answered 408 and closed at the head deadline", async () => {
    const socket = await connectTls("http/1.1", "127.0.0.3");
    socket.write("GET / HTTP/1.1\r\nHost: shop.test\r\nX-Slow: ");
    const received = await closedBy(socket);
    assert.match(received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(received, /\r\nConnection: close\r\n/i);
    await closedLine("request-head-timeout", "127.0.0.3");
  });

  test("HTTP/1.1: a keep-alive connection is closed at the idle deadline after its response", async () => {
    const socket = await connectTls("http/1.1", "127.0.0.4");
    socket.write("GET /kept HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    const received = await closedBy(socket);
    assert.match(received, /^HTTP\/1\.1 200 /, "the request was served first");
    assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, "and nothing was sent after it");
    await closedLine("idle-timeout", "127.0.0.4");
  });

  test("HTTP/2: a session that opens no stream is closed; one idle after its stream is closed", async () => {
    const silent = await connectTls("h2", "127.0.0.5");
    await closedBy(silent);
    assert.equal((await closedLine("first-byte-timeout", "127.0.0.5")).protocol, "h2");

    const session = http2.connect(`https://shop.test:${port}`, { createConnection: () => tlsFrom("127.0.0.6", { port, servername: "shop.test", ca: ca.bundlePem, ALPNProtocols: ["h2"] }) });
    session.on("error", () => {});
    const stream = session.request({ ":path": "/h2", ":authority": "shop.test" });
    const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
    assert.equal(headers[":status"], 200);
    stream.resume();
    await once(stream, "close");
    // The edge ends the session (GOAWAY) once it has had no stream for the idle deadline.
    await closeOf(session);
    assert.equal((await closedLine("idle-timeout", "127.0.0.6")).protocol, "h2");
  });

  test("HTTP/2: a stream whose HEADERS never complete is closed at the head deadline", async () => {
    const socket = await connectTls("h2", "127.0.0.7");
    // The connection preface, an empty SETTINGS, then a HEADERS frame (stream 1) without END_HEADERS
    // whose CONTINUATION never comes: the request head has begun and never completes.
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const settings = Buffer.from([0, 0, 0, 0x04, 0, 0, 0, 0, 0]);
    const block = Buffer.from([0x82, 0x87, 0x84]); // :method GET, :scheme https, :path / (HPACK static table)
    const headers = Buffer.concat([Buffer.from([0, 0, block.length, 0x01, 0x01 /* END_STREAM, no END_HEADERS */, 0, 0, 0, 1]), block]);
    socket.write(Buffer.concat([preface, settings, headers]));
    await closedBy(socket);
    assert.equal((await closedLine("request-head-timeout", "127.0.0.7")).protocol, "h2");
  });

  test("the plain-HTTP port has the same deadlines and cap: silence closed, a half-sent head 408, a connection over the cap closed at once", async () => {
    const httpPort = edge.edge.httpPort;
    assert.ok(httpPort);
    const redirectLine = (reason: string, from: string) => edge.waitForLog((line) => line.msg === "connection closed" && line.reason === reason && line.remote === from && line.listener === "redirect");
    const silent = await tcpFrom("127.0.0.20", httpPort);
    opened.push(silent);
    assert.equal(await closedBy(silent), "");
    await redirectLine("first-byte-timeout", "127.0.0.20");
    const slow = await tcpFrom("127.0.0.21", httpPort);
    opened.push(slow);
    slow.write("GET / HTTP/1.1\r\nHost: shop.test\r\nX-Slow: ");
    assert.match(await closedBy(slow), /^HTTP\/1\.1 408 /);
    await redirectLine("request-head-timeout", "127.0.0.21");
    const held = await Promise.all([1, 2, 3, 4].map(() => tcpFrom("127.0.0.22", httpPort)));
    opened.push(...held);
    // The held ones reach their own first-byte deadline meanwhile: a reset then is expected.
    for (const socket of held) socket.on("error", () => {});
    const refused = await tcpFrom("127.0.0.22", httpPort);
    refused.on("error", () => {});
    opened.push(refused);
    assert.equal(await closedBy(refused), "", "closed at once, without an answer");
    await redirectLine("address-connection-limit", "127.0.0.22");
    for (const socket of held) socket.destroy();
  });

  test("a connection over the per-address cap is closed at once, and one is accepted again after another closes", async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connectTcp("127.0.0.8")));
    const refused = await connectTcp("127.0.0.8");
    assert.equal(await closedBy(refused), "", "closed before any TLS: no ServerHello, no alert");
    assert.equal((await closedLine("address-connection-limit", "127.0.0.8")).max, 4);
    // Another address is not counted against this one.
    const other = await connectTls("http/1.1", "127.0.0.9");
    other.destroy();
    const first = held[0];
    assert.ok(first);
    first.destroy();
    // The cap counts sockets the edge has seen close: a TLS connection made afterwards is served.
    const okay = await waitForAcceptance();
    okay.destroy();
    for (const socket of held) socket.destroy();

    async function waitForAcceptance(): Promise<tls.TLSSocket> {
      for (let attempt = 0; attempt < 50; attempt++) {
        const socket = tlsFrom("127.0.0.8", { port, servername: "shop.test", ca: ca.bundlePem, ALPNProtocols: ["http/1.1"] });
        opened.push(socket);
        if (await isAccepted(socket)) return socket;
      }
      assert.fail("the edge kept refusing after a connection from this address closed");
    }
  });

  test("named handshake failures: not TLS, closed before the handshake, no ClientHello", async () => {
    const plain = await connectTcp("127.0.0.10");
    plain.write("GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    await closedBy(plain);
    await closedLine("not-tls", "127.0.0.10");

    const leaving = await connectTcp("127.0.0.10");
    leaving.end();
    await closedBy(leaving);
    await closedLine("closed-before-handshake", "127.0.0.10");

    // A TCP connection that never sends a ClientHello is closed by the handshake deadline.
    const silent = await connectTcp("127.0.0.10");
    await closedBy(silent);
    await closedLine("handshake-timeout", "127.0.0.10");
    assert.ok(!edge.logs.some((line) => line.reason === "sni-missing"), "none of them is logged as sni-missing");
  });
});
