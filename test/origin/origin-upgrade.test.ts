// An origin client's WebSocket upgrade, on real mTLS sockets: the same identity and verification as its requests, a refusal as a response, and no upgraded socket outliving a destroyed (revoked) client.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { OriginFailureError } from "../../src/errors.ts";
import { createOriginClient } from "../../src/origin/index.ts";
import type { OriginClient, OriginClientOptions } from "../../src/origin/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startWebSocketOrigin } from "../support/websocket-origin.ts";
import type { WebSocketOrigin } from "../support/websocket-origin.ts";

const HANDSHAKE = { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

describe("origin client: WebSocket upgrade", { timeout: 30_000 }, () => {
  let ca: CertificateAuthority;
  let origin: WebSocketOrigin;
  let options: OriginClientOptions;
  const clients: OriginClient[] = [];

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startWebSocketOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
    const certificate = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3_600_000 });
    options = {
      distributionId: "shop",
      originId: "api",
      url: origin.url.replace("localhost", "127.0.0.1"),
      basePath: "/base",
      hostHeader: new URL(origin.url).host,
      serverName: "localhost",
      caPem: ca.bundlePem,
      trustedCaLabel: "test CA",
      clientCertificate: { chainPem: certificate.chainPem, keyPem: certificate.keyPem, identity: "spiffe://moat.internal/distribution/shop/origin/api" },
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 5_000,
    };
  });

  after(async () => {
    await Promise.allSettled(clients.map((client) => client.destroy()));
    await origin?.close();
  });

  function client(overrides: Partial<OriginClientOptions> = {}): OriginClient {
    const made = createOriginClient({ ...options, ...overrides });
    clients.push(made);
    return made;
  }

  test("101: the socket is the origin's WebSocket, opened with the origin's client certificate and base path", async () => {
    const answer = await client().upgrade({ path: "/chat", headers: HANDSHAKE });
    assert.equal(answer.kind, "upgraded");
    // RFC 6455 §1.3's own example key and accept.
    assert.equal(answer.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    answer.socket.destroy();
    const seen = origin.seen.at(-1);
    assert.equal(seen?.url, "/base/chat");
    assert.deepEqual(seen?.clientIdentities, ["spiffe://moat.internal/distribution/shop/origin/api"]);
  });

  test("another status is an ordinary response, body and all", async () => {
    const answer = await client().upgrade({ path: "/refuse", headers: HANDSHAKE });
    assert.equal(answer.kind, "response");
    assert.equal(answer.response.statusCode, 409);
    answer.response.body.resume();
    await once(answer.response.body, "end");
  });

  test("the origin's certificate is verified as for a request: another CA is origin-cert-untrusted", async () => {
    const stranger = await createEphemeralCertificateAuthority();
    await assert.rejects(client({ caPem: stranger.bundlePem }).upgrade({ path: "/chat", headers: HANDSHAKE }), (error: unknown) => error instanceof OriginFailureError && error.code === "origin-cert-untrusted");
  });

  test("destroy() (a revoked client certificate) cuts upgraded sockets too", { timeout: 10_000 }, async () => {
    const made = client();
    const answer = await made.upgrade({ path: "/chat", headers: HANDSHAKE });
    assert.equal(answer.kind, "upgraded");
    const closed = once(answer.socket, "close");
    await made.destroy();
    await closed;
  });
});
