// requestClientCertificate leans on a Node internal (TLSSocket._handle.setVerifyMode): real handshakes prove, on the Node running the tests, that a CertificateRequest goes out per distribution, and say loudly which Node broke it.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { ViewerMtlsMode } from "../../src/config/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { assertVerifyModeSupported, requestClientCertificate } from "../../src/tls/index.ts";

const supported = "Moat supports Node.js >=24 <25 (package.json engines; 24.21.0 pinned)";
const onThisNode = `on Node.js ${process.version}; ${supported}. TLSSocket._handle.setVerifyMode (src/tls/verify-mode.ts) no longer behaves as Moat relies on`;

/** What the server saw of one handshake: whether the client sent a certificate (it does only if asked), or the handshake failed. */
type Outcome = { hasClientCert: boolean } | { error: string };

test(`the CertificateRequest is sent per distribution, chosen at SNI time (${process.version})`, async (t) => {
  assert.doesNotThrow(() => assertVerifyModeSupported(), onThisNode);
  const ca = await createEphemeralCertificateAuthority();
  const server = await ca.issueServerCertificate({ dnsNames: ["off.test", "optional.test", "required.test"], validityMs: 3_600_000 });
  const client = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "api", validityMs: 3_600_000 });
  const context = tls.createSecureContext({ key: server.keyPem, cert: server.chainPem, ca: ca.bundlePem });
  const modes: Record<string, ViewerMtlsMode> = { "off.test": "off", "optional.test": "optional", "required.test": "required" };
  const seen = new Map<string, boolean>();
  // As the viewer listener: requestCert false for the server, the mode per name from the SNI callback.
  const listener = tls.createServer({
    requestCert: false,
    // A server option, as on the viewer listener: finish the handshake and let the test read what the
    // client presented; no client in this test turns verification off (it trusts the test CA).
    rejectUnauthorized: false,
    SNICallback(this: TLSSocket, servername, callback) {
      requestClientCertificate(this, modes[servername] ?? "off");
      callback(null, context);
    },
  } as tls.TlsOptions);
  listener.on("secureConnection", (socket: TLSSocket) => {
    seen.set(String(socket.servername), socket.getPeerX509Certificate() !== undefined);
    socket.end("ok");
  });
  listener.on("tlsClientError", () => undefined);
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  t.after(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  const port = (listener.address() as AddressInfo).port;

  const handshake = (servername: string, withCert: boolean, maxVersion: tls.SecureVersion): Promise<Outcome> =>
    new Promise((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: ca.bundlePem, maxVersion, ...(withCert ? { key: client.keyPem, cert: client.chainPem } : {}) });
      const timer = setTimeout(() => (socket.destroy(), resolve({ error: "no answer within 5 s" })), 5_000);
      const done = (outcome: Outcome) => (clearTimeout(timer), socket.destroy(), resolve(outcome));
      // TLS 1.3 reports a server's refusal after the client's handshake: read until the server speaks or closes.
      socket.once("data", () => done({ hasClientCert: seen.get(servername) ?? false }));
      socket.once("error", (error: Error & { code?: string }) => done({ error: error.code ?? error.message }));
      socket.once("end", () => done({ error: "closed before answering" }));
    });

  for (const version of ["TLSv1.3", "TLSv1.2"] as const) {
    // A client sends its certificate only when the server sent a CertificateRequest.
    assert.deepEqual(await handshake("off.test", true, version), { hasClientCert: false }, `${version} off: no CertificateRequest, ${onThisNode}`);
    assert.deepEqual(await handshake("optional.test", true, version), { hasClientCert: true }, `${version} optional: a CertificateRequest, ${onThisNode}`);
    assert.deepEqual(await handshake("optional.test", false, version), { hasClientCert: false }, `${version} optional: none sent, handshake completes, ${onThisNode}`);
    assert.deepEqual(await handshake("required.test", true, version), { hasClientCert: true }, `${version} required: a CertificateRequest, ${onThisNode}`);
    const refused = await handshake("required.test", false, version);
    assert.ok("error" in refused, `${version} required: a handshake without a certificate is aborted (got ${JSON.stringify(refused)}), ${onThisNode}`);
  }
});
