// A connection's deadlines on real loopback sockets: first byte, request head, idle after the last request, only the stalled one while a request is open; one lazily armed timer, so the deadline that runs is always the latest one.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { watchDeadlines } from "../../src/connections/index.ts";
import type { ConnectionDeadlines, ConnectionLimits, DeadlineOptions, DeadlineReason } from "../../src/connections/index.ts";

const LIMITS: ConnectionLimits = { handshakeMs: 1_000, firstByteMs: 60, requestHeadMs: 60, idleMs: 60, maxConnections: 10, maxConnectionsPerAddress: 10 };

interface Watched {
  /** The server side's deadlines. */
  deadlines: ConnectionDeadlines;
  /** The client side of the connection. */
  client: Socket;
  /** The watched (server) side. */
  socket: Socket;
  /** When the server side was accepted (Date.now). */
  acceptedAt: number;
  /** The first deadline that ran out, and when. */
  expired: Promise<{ reason: DeadlineReason; at: number }>;
}

/** A loopback connection whose server side is watched with `limits`; everything is closed when the test ends. */
async function watchedConnection(t: { after(fn: () => void): void }, limits: ConnectionLimits, options?: DeadlineOptions): Promise<Watched> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  client.on("error", () => {});
  const socket = await accepted;
  const acceptedAt = Date.now();
  let onExpired!: (value: { reason: DeadlineReason; at: number }) => void;
  const expired = new Promise<{ reason: DeadlineReason; at: number }>((resolve) => (onExpired = resolve));
  const deadlines = watchDeadlines(socket, limits, (reason) => {
    onExpired({ reason, at: Date.now() });
    socket.destroy();
  }, options);
  t.after(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return { deadlines, client, socket, acceptedAt, expired };
}

/** Resolves once the client's bytes are handed to the kernel (the server reads them long before the deadlines below run out). */
function written(client: Socket, data: string): Promise<void> {
  return new Promise((resolve) => client.write(data, () => resolve()));
}

/** Resolves once the watched side has read `bytes` bytes in all: a request head that has arrived. */
async function received(socket: Socket, bytes: number): Promise<void> {
  while (socket.bytesRead < bytes) await new Promise((resolve) => setImmediate(resolve));
}

test("a connection that sends nothing is closed at the first-byte deadline, not before", async (t) => {
  const { acceptedAt, expired } = await watchedConnection(t, LIMITS);
  const { reason, at } = await expired;
  assert.equal(reason, "first-byte-timeout");
  assert.ok(at - acceptedAt >= LIMITS.firstByteMs);
});

test("a connection that began a request head but never completed it is closed with request-head-timeout", async (t) => {
  // A first-byte deadline long enough for the bytes to arrive on a busy machine.
  const { client, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 500 });
  await written(client, "GET / HT");
  assert.equal((await expired).reason, "request-head-timeout");
});

test("after its last request ends, a silent connection is closed at the idle deadline, counted from that end", async (t) => {
  // The first-byte deadline is short and armed first: its timer fires early and must re-arm for the idle one.
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 30, idleMs: 300 });
  client.write("GET / HTTP/1.1\r\n\r\n");
  await received(socket, 18);
  deadlines.requestStarted();
  deadlines.requestEnded();
  const endedAt = Date.now();
  const { reason, at } = await expired;
  assert.equal(reason, "idle-timeout");
  assert.ok(at - endedAt >= 300);
});

test("an idle deadline shorter than the timer already armed still runs out (the timer is brought forward)", async (t) => {
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 60_000, idleMs: 30 });
  client.write("GET / HTTP/1.1\r\n\r\n");
  await received(socket, 18);
  deadlines.requestStarted();
  deadlines.requestEnded();
  assert.equal((await expired).reason, "idle-timeout");
});

test("no deadline runs while a request is open, however long; the idle one starts when the last of several ends", async (t) => {
  const { deadlines, client, socket, expired } = await watchedConnection(t, LIMITS);
  client.write("GET / HTTP/1.1\r\n\r\n");
  await received(socket, 18);
  deadlines.requestStarted();
  deadlines.requestStarted();
  deadlines.requestEnded();
  let hasExpired = false;
  void expired.then(() => (hasExpired = true));
  // Several deadlines' worth of time with one request still open.
  await new Promise((resolve) => setTimeout(resolve, LIMITS.idleMs * 5));
  assert.equal(hasExpired, false);
  deadlines.requestEnded();
  assert.equal((await expired).reason, "idle-timeout");
});

test("a peer that sends bytes after its last request but no new head gets the request-head deadline after the idle one", async (t) => {
  const { deadlines, client, expired } = await watchedConnection(t, { ...LIMITS, idleMs: 500 });
  deadlines.requestStarted();
  deadlines.requestEnded();
  await written(client, "GET /next HT");
  assert.equal((await expired).reason, "request-head-timeout");
});

test("a closed connection's deadline never runs", async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  const socket = await accepted;
  let calls = 0;
  watchDeadlines(socket, { ...LIMITS, firstByteMs: 30 }, () => calls++);
  const closed = new Promise((resolve) => socket.once("close", resolve));
  client.destroy();
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(calls, 0);
});

test("while a request is open, a connection silent both ways is closed with stalled-timeout, after the stalled deadline and within twice it", async (t) => {
  // Every other deadline far away: only the stalled look can end this connection.
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 60_000, idleMs: 60_000 }, { stalledMs: 150 });
  const head = "POST /upload HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten b";
  await written(client, head);
  await received(socket, head.length);
  deadlines.requestStarted();
  const lastByteAt = Date.now();
  const { reason, at } = await Promise.race([expired, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("still open 5 s after its last byte")), 5_000).unref())]);
  assert.equal(reason, "stalled-timeout");
  assert.ok(at - lastByteAt >= 150, `closed after ${at - lastByteAt} ms`);
  // Within twice the deadline, with room for a busy machine's late timer.
  assert.ok(at - lastByteAt < 2 * 150 + 250, `closed after ${at - lastByteAt} ms`);
});

test("bytes moving either way keep an open request from stalling, however long it lasts; its end starts the idle deadline", async (t) => {
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 60_000, idleMs: 100 }, { stalledMs: 60 });
  client.resume();
  const head = "GET /slow HTTP/1.1\r\n\r\n";
  await written(client, head);
  await received(socket, head.length);
  deadlines.requestStarted();
  let hasExpired = false;
  void expired.then(() => (hasExpired = true));
  // Ten stalled deadlines' worth: the edge writes a byte every 20 ms for the first half, the peer sends one for the second.
  for (let index = 0; index < 30; index++) {
    if (index < 15) socket.write("x");
    else client.write("y");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(hasExpired, false);
  deadlines.requestEnded();
  assert.equal((await expired).reason, "idle-timeout");
});

test("an upgraded connection (a WebSocket) gets no deadline, however silent", async (t) => {
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, idleMs: 30 }, { stalledMs: 30 });
  const head = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  await written(client, head);
  await received(socket, head.length);
  deadlines.upgraded();
  let hasExpired = false;
  void expired.then(() => (hasExpired = true));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(hasExpired, false);
  assert.equal(socket.destroyed, false);
});

test("a held tunnel keeps a silent connection from counting as stalled; once released, the stalled deadline runs again", async (t) => {
  const { deadlines, client, socket, expired } = await watchedConnection(t, { ...LIMITS, firstByteMs: 60_000, idleMs: 60_000 }, { stalledMs: 50 });
  const head = "CONNECT /tunnel HTTP/1.1\r\n\r\n";
  await written(client, head);
  await received(socket, head.length);
  deadlines.requestStarted();
  const release = deadlines.holdForTunnel();
  let hasExpired = false;
  void expired.then(() => (hasExpired = true));
  // Six stalled deadlines of silence with the tunnel held.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(hasExpired, false);
  release();
  release();
  const releasedAt = Date.now();
  const { reason, at } = await Promise.race([expired, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("not closed 5 s after the tunnel's release")), 5_000).unref())]);
  assert.equal(reason, "stalled-timeout");
  assert.ok(at - releasedAt < 2 * 50 + 250, `closed ${at - releasedAt} ms after the release`);
});
