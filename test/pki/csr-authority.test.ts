// CSRs and the CA a joined edge issues with: keys made where they stay, CSRs verified by their own signature, answers checked against the key and the names asked for.
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { before, describe, test } from "node:test";
import { CertificateRequestInvalidError, JoinedEdgeCannotSignError } from "../../src/errors.ts";
import { createCsrCertificateAuthority, createEphemeralCertificateAuthority, createKeyAndCsr, describeCertificate, KEY_ALGORITHMS, verifiedCsrPublicKey } from "../../src/pki/index.ts";
import type { CertificateAuthority, CertificateSigningChannel, CsrSubject } from "../../src/pki/index.ts";

const HOUR_MS = 3_600_000;

/** A channel to a CA in this process, as the CA node signs: the CSR verified, the names from the subject. */
function channelTo(ca: CertificateAuthority, sent: { subject: CsrSubject; csrPem: string }[] = []): CertificateSigningChannel {
  return {
    async sign({ subject, validityMs, csrPem }) {
      sent.push({ subject, csrPem });
      const publicKeyPem = await verifiedCsrPublicKey(csrPem);
      const signed = subject.use === "viewer-server" ? await ca.signServerCertificate({ ...subject, validityMs, publicKeyPem }) : await ca.signOriginClientCertificate({ ...subject, validityMs, publicKeyPem });
      return signed.chainPem;
    },
  };
}

describe("CSRs", () => {
  for (const algorithm of KEY_ALGORITHMS) {
    test(`${algorithm}: the CSR carries the public key of the key made with it, and verifies`, async () => {
      const { keyPem, csrPem } = await createKeyAndCsr(algorithm, "shop/app");
      assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
      const publicKeyPem = await verifiedCsrPublicKey(csrPem);
      assert.equal(publicKeyPem, createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "pem" }));
      assert.ok(!csrPem.includes(keyPem.split("\n")[1]!), "the CSR holds no private key");
    });
  }

  test("a CSR whose signature does not verify, or that is no CSR, is refused naming why", async () => {
    const { csrPem } = await createKeyAndCsr("ecdsa-p256", "x");
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(verifiedCsrPublicKey(forged), (error: unknown) => error instanceof CertificateRequestInvalidError && /signature does not verify/.test(error.message));
    await assert.rejects(verifiedCsrPublicKey("not a CSR"), (error: unknown) => error instanceof CertificateRequestInvalidError && /does not parse as PKCS#10/.test(error.message));
  });
});

describe("the CA of a joined edge", () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createEphemeralCertificateAuthority();
  });
  const published = () => ({ bundlePem: ca.bundlePem, intermediatePem: ca.intermediatePem, previousIntermediatePems: [], keyAlgorithm: ca.keyAlgorithm, crlBaseUrl: null });

  test("issues through the channel: the key is made here and never sent; the certificate is the CA's, for that key, with the names asked", async () => {
    const sent: { subject: CsrSubject; csrPem: string }[] = [];
    const joined = createCsrCertificateAuthority(published(), channelTo(ca, sent));
    assert.equal(joined.rootPem, ca.rootPem);
    const viewer = await joined.issueServerCertificate({ dnsNames: ["shop.example", "www.shop.example"], validityMs: HOUR_MS });
    const client = await joined.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "shop", originId: "app", validityMs: HOUR_MS });
    for (const issued of [viewer, client]) {
      const leaf = new X509Certificate(issued.certPem);
      assert.ok(leaf.checkPrivateKey(createPrivateKey(issued.keyPem)));
      assert.ok(leaf.checkIssued(new X509Certificate(ca.intermediatePem)));
      assert.equal(issued.chainPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
    }
    assert.deepEqual(viewer.sans, ["DNS:shop.example", "DNS:www.shop.example"]);
    assert.deepEqual(describeCertificate(client.certPem).sans, ["URI:spiffe://moat.internal/distribution/shop/origin/app"]);
    assert.deepEqual(sent.map((request) => request.subject), [
      { use: "viewer-server", dnsNames: ["shop.example", "www.shop.example"], ipAddresses: [] },
      { use: "origin-client", trustDomain: "moat.internal", distributionId: "shop", originId: "app" },
    ]);
    const keyBodies = [viewer, client].map((issued) => issued.keyPem.split("\n").slice(1, -2).join(""));
    for (const request of sent) for (const body of keyBodies) assert.ok(!request.csrPem.replace(/\n/g, "").includes(body), "no key in what was sent");
  });

  test("an answer for another key, or without the names asked, is refused; what needs a CA key is refused", async () => {
    const other = await ca.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: HOUR_MS });
    const wrongKey = createCsrCertificateAuthority(published(), { sign: async () => other.chainPem });
    await assert.rejects(wrongKey.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: HOUR_MS }), (error: unknown) => error instanceof CertificateRequestInvalidError && /for another key/.test(error.message));
    const otherNames = createCsrCertificateAuthority(published(), {
      sign: async ({ validityMs, csrPem }) => (await ca.signServerCertificate({ dnsNames: ["evil.example"], validityMs, publicKeyPem: await verifiedCsrPublicKey(csrPem) })).chainPem,
    });
    await assert.rejects(otherNames.issueServerCertificate({ dnsNames: ["shop.example"], validityMs: HOUR_MS }), (error: unknown) => error instanceof CertificateRequestInvalidError && /does not name DNS:shop\.example/.test(error.message));
    const joined = createCsrCertificateAuthority(published(), channelTo(ca));
    await assert.rejects(joined.signCrl([], { thisUpdate: new Date(), nextUpdate: new Date(Date.now() + HOUR_MS), crlNumber: 1 }), JoinedEdgeCannotSignError);
    await assert.rejects(joined.issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name: "x", validityMs: HOUR_MS }), JoinedEdgeCannotSignError);
  });
});
