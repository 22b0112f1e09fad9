// The verdict on a viewer connection, mode by mode, as a pure function of the handshake's facts: what OpenSSL decided, what is checked on top, and what a resumed session must show.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { judgeConnection, loadTrustStore } from "../../src/tls/index.ts";
import type { ConnectionFacts, LoadedTrustStore } from "../../src/tls/index.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";

describe("connection verdicts", () => {
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let store: LoadedTrustStore;
  let lenient: LoadedTrustStore;
  const peers = {} as Record<"valid" | "expired" | "noEku" | "revoked" | "stranger", X509Certificate>;

  before(async () => {
    files = await createFileDir();
    const [partners, strangers] = await Promise.all([createViewerCa("Partner CA"), createViewerCa("Stranger CA")]);
    const [valid, expired, noEku, revoked, stranger] = await Promise.all([
      partners.issue("valid"), partners.issue("expired"), partners.issue("no-eku"), partners.issue("valid", "revoked"), strangers.issue("valid"),
    ]);
    for (const [name, cert] of Object.entries({ valid, expired, noEku, revoked, stranger })) peers[name as keyof typeof peers] = new X509Certificate(cert.certPem);
    const caBundleFile = await files.write("ca.pem", partners.certPem);
    const crlFiles = [await files.write("ca.crl", await partners.crl([revoked.serialHex]))];
    store = await loadTrustStore({ name: "partners", caBundleFile, crlFiles, allowNoEku: false }, new Date());
    lenient = await loadTrustStore({ name: "legacy", caBundleFile, crlFiles, allowNoEku: true }, new Date());
  });
  after(() => files.remove());

  const facts = (overrides: Partial<ConnectionFacts>): ConnectionFacts => ({
    mode: "required", trustStore: store, peer: peers.valid, sentChain: [], authorizationError: null, isResumed: false, wasVerifiedBefore: false, now: new Date(), ...overrides,
  });

  it("off ignores whatever the connection carries", () => {
    assert.deepEqual(judgeConnection(facts({ mode: "off", trustStore: null, peer: peers.stranger, authorizationError: "CERT_HAS_EXPIRED" })), { ok: true, verification: "none" });
  });

  it("passthrough takes any certificate unverified, and none", () => {
    assert.deepEqual(judgeConnection(facts({ mode: "passthrough", trustStore: null, peer: peers.expired, authorizationError: "CERT_HAS_EXPIRED" })), { ok: true, verification: "unverified" });
    assert.deepEqual(judgeConnection(facts({ mode: "passthrough", trustStore: null, peer: undefined })), { ok: true, verification: "none" });
  });

  it("optional takes no certificate; required does not", () => {
    assert.deepEqual(judgeConnection(facts({ mode: "optional", peer: undefined })), { ok: true, verification: "none" });
    assert.equal(judgeConnection(facts({ peer: undefined })).ok, false);
    assert.deepEqual(pick(judgeConnection(facts({ peer: undefined }))), "client-cert-missing");
  });

  it("a certificate OpenSSL verified is a success", () => {
    assert.deepEqual(judgeConnection(facts({})), { ok: true, verification: "success" });
  });

  it("a certificate OpenSSL refused is refused with the reason found in the chain, not OpenSSL's last error", () => {
    assert.equal(pick(judgeConnection(facts({ peer: peers.stranger, authorizationError: "UNABLE_TO_GET_CRL" }))), "client-cert-untrusted");
    assert.equal(pick(judgeConnection(facts({ peer: peers.expired, authorizationError: "CERT_HAS_EXPIRED" }))), "client-cert-expired");
    assert.equal(pick(judgeConnection(facts({ peer: peers.revoked, authorizationError: "CERT_REVOKED" }))), "client-cert-revoked");
    assert.equal(pick(judgeConnection(facts({ authorizationError: "INVALID_PURPOSE" }))), "client-cert-wrong-usage");
    // Nothing found in the chain: OpenSSL's code says why. A diagnosis never turns a refusal into an acceptance.
    assert.equal(pick(judgeConnection(facts({ authorizationError: "SOMETHING_NEW" }))), "client-cert-invalid");
  });

  it("a certificate with no EKU passes OpenSSL but not the trust store, unless it allows one", () => {
    assert.equal(pick(judgeConnection(facts({ peer: peers.noEku }))), "client-cert-wrong-usage");
    assert.deepEqual(judgeConnection(facts({ peer: peers.noEku, trustStore: lenient })), { ok: true, verification: "success" });
  });

  it("a resumed session counts only if its certificate was verified here, and is checked for revocation and expiry again", () => {
    assert.equal(pick(judgeConnection(facts({ isResumed: true, wasVerifiedBefore: false }))), "client-cert-session-unverified");
    assert.deepEqual(judgeConnection(facts({ isResumed: true, wasVerifiedBefore: true })), { ok: true, verification: "success" });
    assert.equal(pick(judgeConnection(facts({ isResumed: true, wasVerifiedBefore: true, peer: peers.revoked }))), "client-cert-revoked");
    const later = new Date(peers.valid.validToDate.getTime() + 1000);
    assert.equal(pick(judgeConnection(facts({ isResumed: true, wasVerifiedBefore: true, now: later }))), "client-cert-expired");
  });
});

function pick(verdict: ReturnType<typeof judgeConnection>): string {
  return verdict.ok ? "accepted" : verdict.reason;
}
