// With the CA's CRL publication set, the certificate each TLS endpoint presents (viewer port, moat guard, enrolment) names a CRL that the edge's plain-HTTP port serves: what testssl's cert_revocation looks for.
import assert from "node:assert/strict";
import http from "node:http";
import tls from "node:tls";
import { test } from "node:test";
import { x509 } from "../../src/pki/x509-lib.ts";
import { startTlsEndpoints, type TlsEndpoint } from "./tls-endpoints.ts";

function peerCertificate(endpoint: TlsEndpoint, caPem: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: endpoint.port, servername: endpoint.servername, ca: caPem, timeout: 10_000 }, () => {
      resolve(socket.getPeerCertificate().raw);
      socket.end();
    });
    socket.on("timeout", () => socket.destroy(new Error(`${endpoint.name}: no handshake within 10 s`)));
    socket.on("error", reject);
  });
}

function fetchDer(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
    req.on("error", reject);
  });
}

test("every TLS endpoint's certificate names its issuer's CRL, and the edge serves it there", async (t) => {
  const { pki, edge, endpoints } = await startTlsEndpoints(t, { publishCrls: true });
  const intermediate = new x509.X509Certificate(pki.ca.intermediatePem);
  for (const endpoint of endpoints) {
    const leaf = new x509.X509Certificate(await peerCertificate(endpoint, pki.ca.bundlePem));
    const url = leaf.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier;
    assert.equal(url, `http://127.0.0.1:${edge.edge.httpPort}/.well-known/moat/crl/${intermediate.serialNumber.toLowerCase()}.der`, endpoint.name);
    const answer = await fetchDer(url);
    assert.equal(answer.status, 200, `${endpoint.name}: GET ${url}`);
    assert.equal(answer.type, "application/pkix-crl");
    assert.ok(await new x509.X509Crl(answer.body).verify({ publicKey: intermediate }), `${endpoint.name}: the CRL is the issuer's`);
  }
});
