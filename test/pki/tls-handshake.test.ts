// Certificates from Moat's CA in real TLS handshakes: mutual TLS succeeds, and each kind of wrong certificate is refused.
import assert from "node:assert/strict";
import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { Agent, request } from "undici";
import { createEphemeralCertificateAuthority, type CertificateAuthority, type IssuedCertificate } from "../../src/pki/index.ts";
import { handshake } from "./handshake.ts";

const HOUR_MS = 3_600_000;
const identity = { trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: HOUR_MS };

describe("mutual TLS with ECDSA P-256 certificates", () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let server: IssuedCertificate;
  let client: IssuedCertificate;

  before(async () => {
    [ca, otherCa] = await Promise.all([createEphemeralCertificateAuthority(), createEphemeralCertificateAuthority()]);
    server = await ca.issueServerCertificate({ dnsNames: ["api.internal"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
    client = await ca.issueOriginClientCertificate(identity);
  });

  const serverOptions = () => ({ key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem });

  test("a server certificate and an origin client certificate complete a handshake, by name", async () => {
    const result = await handshake(serverOptions(), {
      ca: ca.bundlePem,
      cert: client.chainPem,
      key: client.keyPem,
      servername: "api.internal",
    });
    assert.equal(result.isAccepted, true, String(result.serverError ?? result.clientError));
    assert.equal(result.clientSans, "URI:spiffe://moat.internal/distribution/shop/origin/api");
  });

  test("the server certificate verifies by its IP SAN when the client connects to 127.0.0.1", async () => {
    const result = await handshake(serverOptions(), { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem });
    assert.equal(result.isAccepted, true, String(result.serverError ?? result.clientError));
  });

  test("a client certificate from another CA is refused", async () => {
    const stranger = await otherCa.issueOriginClientCertificate(identity);
    const result = await handshake(serverOptions(), {
      ca: ca.bundlePem,
      cert: stranger.chainPem,
      key: stranger.keyPem,
      servername: "api.internal",
    });
    assert.equal(result.isAccepted, false);
    assert.equal(result.serverAuthorizationError, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
  });

  test("a server certificate presented as a client certificate is refused (EKU serverAuth only)", async () => {
    const result = await handshake(serverOptions(), {
      ca: ca.bundlePem,
      cert: server.chainPem,
      key: server.keyPem,
      servername: "api.internal",
    });
    assert.equal(result.isAccepted, false);
    assert.equal(result.serverAuthorizationError, "INVALID_PURPOSE");
  });

  test("an origin client certificate cannot serve as a server certificate (EKU clientAuth only)", async () => {
    const result = await handshake(
      { key: client.keyPem, cert: client.chainPem, ca: ca.bundlePem },
      { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem, servername: "api.internal" },
    );
    assert.equal(result.isAccepted, false);
    assert.equal((result.clientError as NodeJS.ErrnoException).code, "INVALID_PURPOSE");
  });

  test("an expired client certificate is refused", async () => {
    const now = Date.now();
    const expired = await ca.issueOriginClientCertificate({
      ...identity,
      notBefore: new Date(now - 2 * HOUR_MS),
      notAfter: new Date(now - HOUR_MS),
    });
    const result = await handshake(serverOptions(), { ca: ca.bundlePem, cert: expired.chainPem, key: expired.keyPem, servername: "api.internal" });
    assert.equal(result.isAccepted, false);
    assert.equal(result.serverAuthorizationError, "CERT_HAS_EXPIRED");
  });

  test("a not-yet-valid server certificate is refused by the client", async () => {
    const now = Date.now();
    const early = await ca.issueServerCertificate({
      dnsNames: ["api.internal"],
      validityMs: HOUR_MS,
      notBefore: new Date(now + HOUR_MS),
      notAfter: new Date(now + 2 * HOUR_MS),
    });
    const result = await handshake(
      { key: early.keyPem, cert: early.chainPem, ca: ca.bundlePem },
      { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem, servername: "api.internal" },
    );
    assert.equal(result.isAccepted, false);
    assert.equal((result.clientError as NodeJS.ErrnoException).code, "CERT_NOT_YET_VALID");
  });

  test("undici presents the client certificate to an https server that requires one", async (t) => {
    const origin = https.createServer(
      { key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true },
      (req, res) => res.end((req.socket as TLSSocket).getPeerX509Certificate()?.subjectAltName ?? ""),
    );
    origin.listen(0, "127.0.0.1");
    await once(origin, "listening");
    t.after(() => origin.close());
    const dispatcher = new Agent({ connect: { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem, servername: "api.internal" } });
    t.after(() => dispatcher.close());
    const { port } = origin.address() as AddressInfo;
    const response = await request(`https://127.0.0.1:${port}/`, { dispatcher });
    assert.equal(response.statusCode, 200);
    assert.equal(await response.body.text(), "URI:spiffe://moat.internal/distribution/shop/origin/api");
  });

  test("a client without a certificate is refused", async () => {
    const result = await handshake(serverOptions(), { ca: ca.bundlePem, servername: "api.internal" });
    assert.equal(result.isAccepted, false);
    assert.equal((result.serverError as NodeJS.ErrnoException).code, "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE");
  });

  test("a client that trusts only another CA refuses the server", async () => {
    const result = await handshake(serverOptions(), {
      ca: otherCa.bundlePem,
      cert: client.chainPem,
      key: client.keyPem,
      servername: "api.internal",
    });
    assert.equal(result.isAccepted, false);
    assert.ok(result.clientError);
    assert.equal((result.clientError as NodeJS.ErrnoException).code, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
  });

  test("a server certificate for another name is refused by the client", async () => {
    const result = await handshake(serverOptions(), {
      ca: ca.bundlePem,
      cert: client.chainPem,
      key: client.keyPem,
      servername: "other.internal",
    });
    assert.equal(result.isAccepted, false);
    assert.equal((result.clientError as NodeJS.ErrnoException).code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });
});

// RSA key generation is slow: this is the one RSA test.
test("mutual TLS works with an RSA-2048 CA and RSA-2048 leaves", async () => {
  const ca = await createEphemeralCertificateAuthority({ keyAlgorithm: "rsa-2048" });
  const [server, client] = await Promise.all([
    ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS }),
    ca.issueOriginClientCertificate(identity),
  ]);
  assert.match(client.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  const result = await handshake(
    { key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem },
    { ca: ca.bundlePem, cert: client.chainPem, key: client.keyPem, servername: "localhost" },
  );
  assert.equal(result.isAccepted, true, String(result.serverError ?? result.clientError));
});
