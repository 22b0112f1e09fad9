// An origin client's requests keep one keep-alive connection whatever Host they carry: towards a shield the Host is the viewer's, and undici closed the connection at every change of the server name it worked out of it.
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createOriginClient } from "../../src/origin/index.ts";
import type { OriginClient } from "../../src/origin/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";

describe("origin client: one server name for every request", () => {
  let origin: https.Server;
  let shield: OriginClient;
  let handshakes = 0;
  const hostsSeen: string[] = [];

  before(async () => {
    const ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = https.createServer({ key: certificate.keyPem, cert: certificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 }, (req, res) => {
      hostsSeen.push(req.headers.host ?? "");
      res.writeHead(200, { "content-length": "2" });
      res.end("ok");
    });
    origin.on("secureConnection", () => handshakes++);
    await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
    const port = (origin.address() as AddressInfo).port;
    const clientCert = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "shield", validityMs: 3_600_000 });
    shield = createOriginClient({
      distributionId: "shop",
      originId: "shield",
      url: `https://localhost:${port}`,
      basePath: "",
      // As towards an origin shield: each request's Host is the viewer's (its X-Forwarded-Host).
      hostHeader: null,
      serverName: "localhost",
      caPem: ca.bundlePem,
      trustedCaLabel: "test CA",
      clientCertificate: { chainPem: clientCert.chainPem, keyPem: clientCert.keyPem, identity: "shop/shield" },
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 5_000,
      isShield: true,
    });
  });

  after(async () => {
    await shield.destroy();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  });

  test("requests for two aliases, one after the other, go on one connection with their own Host", async () => {
    const aliases = ["shop.example", "www.shop.example:8443", "shop.example", "www.shop.example:8443", "shop.example", "10.0.0.7"];
    for (const alias of aliases) {
      const response = await shield.request({ method: "GET", path: "/", headers: { "x-forwarded-host": alias }, body: null });
      assert.equal(response.statusCode, 200);
      for await (const _chunk of response.body);
      // The exchange is over once undici has handed the connection back, a turn of the event loop later.
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(hostsSeen, aliases);
    assert.equal(handshakes, 1, "every request after the first reused the first connection");
  });
});
