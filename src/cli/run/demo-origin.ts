// The demo's origin: an HTTPS server that answers only the demo distribution's edge certificate.
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { IssuedCertificate } from "../../pki/index.ts";

export interface DemoOriginOptions {
  certificate: IssuedCertificate;
  /** PEM of the CA(s) whose client certificates the TLS layer accepts. */
  trustedClientCaPem: string;
  /** The one client identity the origin serves, e.g. spiffe://moat.internal/distribution/demo/origin/app. */
  acceptedIdentity: string;
}

/**
 * @example
 * createDemoOrigin({ certificate, trustedClientCaPem: ca.bundlePem, acceptedIdentity }).listen(9443, "127.0.0.1");
 */
export function createDemoOrigin(options: DemoOriginOptions): https.Server {
  return https.createServer(
    {
      key: options.certificate.keyPem,
      cert: options.certificate.chainPem,
      ca: options.trustedClientCaPem,
      // No client certificate from this CA, no TLS session: a direct visitor never reaches the handler.
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      const identities = (peer?.subjectAltName ?? "").split(", ").filter((san) => san.startsWith("URI:")).map((san) => san.slice(4));
      if (!identities.includes(options.acceptedIdentity)) {
        res.writeHead(403, { "content-type": "text/plain; charset=utf-8" });
        res.end(`403: this origin serves ${options.acceptedIdentity} only; you presented ${identities.join(", ") || "no SPIFFE identity"}\n`);
        return;
      }
      let bytes = 0;
      req.on("data", (chunk: Buffer) => (bytes += chunk.length));
      req.on("end", () => {
        const body = {
          message: "Hello from the demo origin. You reached it through the Moat edge, which authenticated itself with mutual TLS.",
          edgeIdentity: identities[0],
          edgeCertificateSerial: peer?.serialNumber.toLowerCase(),
          method: req.method,
          path: req.url,
          requestBodyBytes: bytes,
          forwardedFor: req.headers["x-forwarded-for"],
          via: req.headers.via,
        };
        res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=10" });
        res.end(`${JSON.stringify(body, null, 2)}\n`);
      });
    },
  );
}
