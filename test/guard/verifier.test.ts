// The verifier: path validation against the trust bundle and CRLs, and the identity check, on certificates Moat's CA really issues.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createEdgeVerifier, createGuardTrust, GUARD_REFUSAL_CODES } from "../../src/guard/index.ts";
import type { AcceptPolicy, GuardTrust } from "../../src/guard/index.ts";
import { GuardTrustInvalidError } from "../../src/errors.ts";
import type { IssuedCertificate } from "../../src/pki/index.ts";
import { createGuardPki, TRUST_DOMAIN } from "./guard-pki.ts";

const shopOnly: AcceptPolicy = { trustDomain: TRUST_DOMAIN, distributions: ["shop"] };

/** DER of each PEM certificate in a chain, leaf first: what a TLS peer sends. */
function der(chainPem: string): Buffer[] {
  return chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((pem) => pem.includes("BEGIN")).map((pem) => new X509Certificate(pem).raw);
}

function verify(trust: GuardTrust, cert: IssuedCertificate, policy = shopOnly, now?: Date) {
  return createEdgeVerifier({ trust, policy, ...(now ? { clock: () => now } : {}) }).verifyChain(der(cert.chainPem));
}

test("accepts the edge of an accepted distribution and names it: SPIFFE ID, distribution, origin, serial", async (t) => {
  const pki = await createGuardPki(t);
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.crlBundle() });
  const edge = await pki.edge("shop", "api");
  const verdict = await verify(trust, edge);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  assert.equal(verdict.identity.spiffeId, "spiffe://moat.internal/distribution/shop/origin/api");
  assert.equal(verdict.identity.distributionId, "shop");
  assert.equal(verdict.identity.originId, "api");
  assert.equal(verdict.identity.serialHex, edge.serialHex);
  assert.equal(verdict.identity.fingerprint256, edge.fingerprint256);
});

test("refuses a valid certificate of another distribution from the same CA, and another origin when origins are restricted", async (t) => {
  const pki = await createGuardPki(t);
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.crlBundle() });
  const blog = await verify(trust, await pki.edge("blog"));
  assert.equal(blog.ok, false);
  assert.ok(!blog.ok && blog.code === "identity-not-accepted" && blog.detail.includes("distribution blog"), JSON.stringify(blog));
  const policy = { ...shopOnly, origins: ["api"] };
  assert.ok((await verify(trust, await pki.edge("shop", "api"), policy)).ok);
  const other = await verify(trust, await pki.edge("shop", "admin"), policy);
  assert.ok(!other.ok && other.code === "identity-not-accepted" && other.detail.includes("origin admin"));
  const otherDomain = await verify(trust, await pki.edge("shop"), { ...shopOnly, trustDomain: "other.internal" });
  assert.ok(!otherDomain.ok && otherDomain.code === "identity-not-accepted" && otherDomain.detail.includes("trust domain"));
});

test("path validation is by signature, not by name: a CA with the very same names is untrusted, even if the peer sends its root", async (t) => {
  const pki = await createGuardPki(t);
  const impostor = await createGuardPki(t); // same CA names ("Moat Root CA", "Moat Intermediate CA"), other keys
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.crlBundle() });
  const forged = await impostor.edge("shop");
  assert.equal(new X509Certificate(forged.certPem).issuer, new X509Certificate((await pki.edge("shop")).certPem).issuer);
  const verdict = await verify(trust, forged);
  assert.ok(!verdict.ok && verdict.code === "untrusted-chain", JSON.stringify(verdict));
  const withRoot = await createEdgeVerifier({ trust, policy: shopOnly }).verifyChain([...der(forged.chainPem), new X509Certificate(impostor.ca.rootPem).raw]);
  assert.ok(!withRoot.ok && withRoot.code === "untrusted-chain");
  // The leaf alone, without the intermediate that links it to the root: no path.
  const leafOnly = await createEdgeVerifier({ trust, policy: shopOnly }).verifyChain(der((await pki.edge("shop")).certPem));
  assert.ok(!leafOnly.ok && leafOnly.code === "untrusted-chain");
  assert.match(leafOnly.ok ? "" : leafOnly.detail, /moat ca bundle --with-intermediate/);
});

test("an intermediate in the bundle completes a leaf-only chain (as Node's server sockets give it) but is never a trust anchor", async (t) => {
  const pki = await createGuardPki(t);
  const impostor = await createGuardPki(t);
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem + pki.ca.intermediatePem, crlPem: await pki.crlBundle() });
  assert.equal(trust.anchors.length, 1);
  assert.equal(trust.intermediates.length, 1);
  const verifier = createEdgeVerifier({ trust, policy: shopOnly });
  assert.ok((await verifier.verifyChain(der((await pki.edge("shop")).certPem))).ok);
  const forged = await verifier.verifyChain(der((await impostor.edge("shop")).chainPem));
  assert.ok(!forged.ok && forged.code === "untrusted-chain");
  assert.throws(() => createGuardTrust({ bundlePem: pki.ca.intermediatePem }), /no root \(self-signed\) CA certificate/);
});

test("refuses expired and not-yet-valid certificates, and certificates without clientAuth", async (t) => {
  const pki = await createGuardPki(t);
  const trust = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.crlBundle() });
  const now = Date.now();
  const expired = await verify(trust, await pki.edge("shop", "app", { notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 3_600_000) }));
  assert.ok(!expired.ok && expired.code === "expired", JSON.stringify(expired));
  const early = await verify(trust, await pki.edge("shop", "app", { notBefore: new Date(now + 3_600_000), notAfter: new Date(now + 7_200_000) }));
  assert.ok(!early.ok && early.code === "not-yet-valid", JSON.stringify(early));
  const serverCert = await verify(trust, await pki.server());
  assert.ok(!serverCert.ok && serverCert.code === "missing-client-auth", JSON.stringify(serverCert));
  const none = await createEdgeVerifier({ trust, policy: shopOnly }).verifyChain([]);
  assert.ok(!none.ok && none.code === "no-client-certificate");
  const garbage = await createEdgeVerifier({ trust, policy: shopOnly }).verifyChain([Buffer.from("not a certificate")]);
  assert.ok(!garbage.ok && garbage.code === "malformed-certificate");
});

test("revocation: refused once the CRL lists it; a CRL for every CA of the chain is required; an expired CRL refuses everyone", async (t) => {
  const pki = await createGuardPki(t);
  const edge = await pki.edge("shop");
  const kept = await pki.edge("shop", "other");
  const before = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.crlBundle() });
  assert.ok((await verify(before, edge)).ok);
  const after = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await pki.revoke(edge) });
  const revoked = await verify(after, edge);
  assert.ok(!revoked.ok && revoked.code === "revoked" && revoked.detail.includes(edge.serialHex), JSON.stringify(revoked));
  assert.ok((await verify(after, kept)).ok, "another certificate of the same CA is still accepted");
  // The intermediate's CRL alone (crl.pem) says nothing about the intermediate itself: the root's CRL is needed too.
  const intermediateOnly = createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: await readFile(join(pki.dataDir, "ca", "crl.pem"), "utf8") });
  const missing = await verify(intermediateOnly, kept);
  assert.ok(!missing.ok && missing.code === "crl-unavailable", JSON.stringify(missing));
  const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
  const stale = await verify(after, await pki.edge("shop", "app", { notAfter: new Date(Date.now() + 7 * 86_400_000) }), shopOnly, inTwoDays);
  assert.ok(!stale.ok && stale.code === "crl-expired", JSON.stringify(stale));
  // Without any CRL, nothing is checked for revocation: the snapshot says so.
  const unchecked = createGuardTrust({ bundlePem: pki.ca.bundlePem });
  assert.equal(unchecked.isRevocationChecked, false);
  assert.ok((await verify(unchecked, edge)).ok);
});

test("a bundle with two roots (a rollover's overlap) accepts certificates of either, with each root's CRLs", async (t) => {
  const oldCa = await createGuardPki(t);
  const newCa = await createGuardPki(t);
  const trust = createGuardTrust({ bundlePem: oldCa.ca.bundlePem + newCa.ca.bundlePem, crlPem: (await oldCa.crlBundle()) + (await newCa.crlBundle()) });
  assert.equal(trust.anchors.length, 2);
  assert.ok((await verify(trust, await oldCa.edge("shop"))).ok);
  assert.ok((await verify(trust, await newCa.edge("shop"))).ok);
  const revokedNew = await newCa.edge("shop");
  const afterRevocation = createGuardTrust({ bundlePem: trust.bundlePem, crlPem: (await oldCa.crlBundle()) + (await newCa.revoke(revokedNew)) });
  const refused = await verify(afterRevocation, revokedNew);
  assert.ok(!refused.ok && refused.code === "revoked");
});

test("bad trust material is refused with the file and the problem", async (t) => {
  const pki = await createGuardPki(t);
  const edge = await pki.edge("shop");
  assert.throws(() => createGuardTrust({ bundlePem: "", source: { bundle: "/etc/moat/ca.pem" } }), (error: unknown) => error instanceof GuardTrustInvalidError && error.message.startsWith("/etc/moat/ca.pem: it holds no certificate"));
  assert.throws(() => createGuardTrust({ bundlePem: edge.certPem }), /is not a CA certificate/);
  assert.throws(() => createGuardTrust({ bundlePem: pki.ca.bundlePem, crlPem: pki.ca.bundlePem, source: { crl: "crl.pem" } }), /crl.pem: it holds no CRL/);
  assert.equal(GUARD_REFUSAL_CODES.length, new Set(GUARD_REFUSAL_CODES).size);
});
