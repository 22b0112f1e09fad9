// A reused keep-alive connection that the origin closes before answering: an idempotent request with a replayable body is retried once on a new connection, and nothing else is.
import assert from "node:assert/strict";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { OriginFailureError } from "../../src/errors.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createOriginClient, requestTarget } from "../../src/origin/index.ts";
import type { OriginClient, OriginRequest } from "../../src/origin/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { createLogCapture } from "../support/test-edge.ts";

/** What the origin does with a request that is not the first on its connection; the first is always answered. */
type ReusedMode = "answer" | "close" | "close-after-head-bytes";
/** What the origin does with the first request on a connection. */
type FreshMode = "answer" | "close";

describe("origin client: retry after a reused connection closed before answering", () => {
  let ca: CertificateAuthority;
  let origin: https.Server;
  let port: number;
  let reusedMode: ReusedMode = "answer";
  let freshMode: FreshMode = "answer";
  const requestsOn = new WeakMap<Socket, number>();
  /** Every request that reached the origin: method, path, whether it was its connection's first, body bytes. */
  const seen: Array<{ method: string; path: string; isFirstOnConnection: boolean; bodyBytes: number }> = [];

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const count = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, count);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", isFirstOnConnection: count === 1, bodyBytes: Buffer.concat(chunks).length });
      const mode = count === 1 ? freshMode : reusedMode;
      if (mode === "close") return void req.socket.destroy();
      if (mode === "close-after-head-bytes") {
        req.socket.write("HTTP/1.1 200 OK\r\ncontent-le");
        return void setImmediate(() => req.socket.destroy());
      }
      res.end(`${req.method} ${req.url} ${count}`);
    });
  }

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 }, handle);
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    port = (origin.address() as AddressInfo).port;
  });

  after(async () => {
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  });

  beforeEach(() => {
    reusedMode = "answer";
    freshMode = "answer";
    seen.length = 0;
  });

  async function newClient(originId = "api"): Promise<{ client: OriginClient; retries: () => Record<string, unknown>[] }> {
    const capture = createLogCapture();
    const clientCert = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3_600_000 });
    const client = createOriginClient(
      {
        distributionId: "shop",
        originId,
        url: `https://localhost:${port}`,
        basePath: "",
        hostHeader: `localhost:${port}`,
        serverName: "localhost",
        caPem: ca.bundlePem,
        trustedCaLabel: "test CA",
        clientCertificate: { chainPem: clientCert.chainPem, keyPem: clientCert.keyPem, identity: "shop/api" },
        connectTimeoutMs: 5_000,
        responseTimeoutMs: 5_000,
        keepAliveTimeoutMs: 60_000,
      },
      createLogger({ destination: capture.stream }),
    );
    const retries = () => capture.logs.filter((line) => String(line.msg).startsWith("origin closed a reused keep-alive connection"));
    return { client, retries };
  }

  async function text(client: OriginClient, request: OriginRequest): Promise<{ status: number; body: string }> {
    const res = await client.request(request);
    return { status: res.statusCode, body: await new Response(Readable.toWeb(res.body) as ReadableStream).text() };
  }

  /** Opens `count` pooled connections, each having answered one request, then idle. */
  async function warm(client: OriginClient, count: number): Promise<void> {
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => text(client, { method: "GET", path: `/warm${i}`, headers: {}, body: null })));
    assert.deepEqual(answers.map((a) => a.status), Array(count).fill(200));
    // undici marks a connection free a turn after its response body ended; until then the pool opens new ones.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** The requests to `path` the origin saw: on a reused connection (dead in these tests), then on a new one. */
  function arrivals(path: string): boolean[] {
    return seen.filter((s) => s.path === path).map((s) => s.isFirstOnConnection);
  }

  async function failure(promise: Promise<unknown>): Promise<OriginFailureError> {
    const error = await promise.then(
      () => assert.fail("the request should have failed"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof OriginFailureError, String(error));
    return error;
  }

  test("every idle connection dead at once (an origin reload): each GET is retried once, on a new connection, and answered", async () => {
    const { client, retries } = await newClient();
    await warm(client, 4);
    reusedMode = "close";
    const answers = await Promise.all(["GET", "HEAD", "DELETE", "OPTIONS"].map((method, i) => client.request({ method, path: `/after${i}`, headers: {}, body: null, requestId: `req-${i}` })));
    await client.close();
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200]);
    // A request the pool put on a new connection is answered at once; one put on a dead one is
    // retried on a connection whose first request it is, never on another stale pooled one.
    const hitDead = [0, 1, 2, 3].filter((i) => arrivals(`/after${i}`)[0] === false);
    assert.ok(hitDead.length >= 3, `the pool reused its idle connections: ${JSON.stringify(seen)}`);
    for (const i of hitDead) assert.deepEqual(arrivals(`/after${i}`), [false, true], `/after${i}: once on its dead connection, once on a new one`);
    const lines = retries();
    assert.deepEqual(lines.map((l) => l.requestId).sort(), hitDead.map((i) => `req-${i}`));
    for (const line of lines) {
      assert.equal(line.origin, "api");
      assert.equal(line.distribution, "shop");
      assert.equal(typeof line.cause, "string");
    }
  });

  test("a PUT whose body is in memory is retried with the same body", async () => {
    const { client, retries } = await newClient();
    await warm(client, 1);
    reusedMode = "close";
    const answer = await text(client, { method: "PUT", path: "/put", headers: { "content-length": "5" }, body: Buffer.from("hello") });
    await client.close();
    assert.equal(answer.status, 200);
    assert.deepEqual(arrivals("/put"), [false, true]);
    assert.deepEqual(seen.filter((s) => s.path === "/put").map((s) => s.bodyBytes), [5, 5]);
    assert.equal(retries().length, 1);
  });

  test("a POST is never retried (not idempotent, RFC 9110 §9.2.2)", async () => {
    const { client, retries } = await newClient();
    await warm(client, 1);
    reusedMode = "close";
    const error = await failure(client.request({ method: "POST", path: "/post", headers: {}, body: null }));
    await client.destroy();
    assert.equal(error.code, "origin-connection-reset");
    assert.deepEqual(arrivals("/post"), [false], "sent once, on the reused connection");
    assert.equal(retries().length, 0);
  });

  test("a PUT whose body streamed to the dead connection is not retried: uploads are not buffered to be replayed", async () => {
    const { client, retries } = await newClient();
    await warm(client, 1);
    reusedMode = "close";
    const body = Readable.from([Buffer.from("streamed")], { objectMode: false });
    const error = await failure(client.request({ method: "PUT", path: "/stream", headers: { "content-length": "8" }, body }));
    await client.destroy();
    assert.equal(error.code, "origin-connection-reset");
    assert.deepEqual(arrivals("/stream"), [false], "sent once, on the reused connection");
    assert.equal(retries().length, 0);
  });

  test("a new connection closed before answering is not retried: that is the origin refusing, not a stale connection", async () => {
    const { client, retries } = await newClient();
    freshMode = "close";
    await failure(client.request({ method: "GET", path: "/fresh", headers: {}, body: null }));
    await client.destroy();
    assert.deepEqual(arrivals("/fresh"), [true]);
    assert.equal(retries().length, 0);
  });

  test("a reused connection closed after the origin started answering is not retried", async () => {
    const { client, retries } = await newClient();
    await warm(client, 1);
    reusedMode = "close-after-head-bytes";
    const error = await failure(client.request({ method: "GET", path: "/partial", headers: {}, body: null }));
    await client.destroy();
    assert.equal(error.code, "origin-connection-reset");
    assert.deepEqual(arrivals("/partial"), [false], "sent once, on the reused connection");
    assert.equal(retries().length, 0);
  });

  test("in an origin group the retry comes first: the primary answers on a new connection, no failover", async () => {
    const primary = await newClient("primary");
    const secondary = await newClient("secondary");
    await warm(primary.client, 1);
    reusedMode = "close";
    const answer = await requestTarget(
      { kind: "group", id: "ha", primary: primary.client, secondary: secondary.client, failoverOn: new Set([502]) },
      { method: "GET", path: "/group", headers: {}, body: null, requestId: "req-group" },
    );
    answer.response.body.resume();
    await Promise.all([primary.client.close(), secondary.client.close()]);
    assert.equal(answer.client.originId, "primary");
    assert.equal(answer.failedOverBecause, null);
    assert.deepEqual(arrivals("/group"), [false, true]);
    assert.deepEqual(primary.retries().map((l) => l.origin), ["primary"]);
  });
});
