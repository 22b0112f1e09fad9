// The verifier against certificates a CA in the trust bundle signed but Moat's CA never would: it must refuse what OpenSSL refuses in the handshake, for callers that verify a chain without one (verifyChain).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createEdgeVerifier, createGuardTrust, parseEdgeSpiffeId } from "../../src/guard/index.ts";
import { x509 } from "../../src/guard/x509-lib.ts";
import { createCraftedCa } from "./crafted-pki.ts";

const SHOP = "spiffe://moat.internal/distribution/shop/origin/api";
const policy = { trustDomain: "moat.internal", distributions: ["shop"] };

async function setUp(options?: Parameters<typeof createCraftedCa>[0]) {
  const ca = await createCraftedCa(options);
  const verifier = createEdgeVerifier({ trust: createGuardTrust({ bundlePem: ca.bundlePem, crlPem: ca.crlPem }), policy });
  return { ca, verifier };
}

test("the crafted CA's ordinary edge certificate is accepted (the baseline the other cases vary)", async () => {
  const { ca, verifier } = await setUp();
  const verdict = await verifier.verifyChain([(await ca.leaf({ uris: [SHOP] })).der, ca.intermediate.der]);
  assert.ok(verdict.ok, JSON.stringify(verdict));
});

test("an edge certificate cannot sign another: a leaf issued by a leaf's key (not a CA) is untrusted", async () => {
  const { ca, verifier } = await setUp();
  const blog = await ca.leaf({ uris: ["spiffe://moat.internal/distribution/blog/origin/api"] });
  const forged = await ca.leaf({ uris: [SHOP], issuer: blog });
  const verdict = await verifier.verifyChain([forged.der, blog.der, ca.intermediate.der]);
  assert.ok(!verdict.ok && verdict.code === "untrusted-chain", JSON.stringify(verdict));
});

test("exactly one URI SAN: a second one, even of an accepted distribution, makes it no edge certificate", async () => {
  const { ca, verifier } = await setUp();
  for (const uris of [[SHOP, "spiffe://moat.internal/distribution/blog/origin/api"], ["spiffe://moat.internal/distribution/blog/origin/api", SHOP], [SHOP, SHOP], []]) {
    const verdict = await verifier.verifyChain([(await ca.leaf({ uris })).der, ca.intermediate.der]);
    assert.ok(!verdict.ok && verdict.code === "not-an-edge-identity", `${JSON.stringify(uris)}: ${JSON.stringify(verdict)}`);
  }
});

test("SPIFFE IDs are parsed strictly: no case, prefix, suffix, percent-encoding, port, user info, query or fragment tricks", () => {
  assert.ok(parseEdgeSpiffeId(SHOP));
  for (const uri of [
    "SPIFFE://moat.internal/distribution/shop/origin/api",
    "spiffe://MOAT.internal/distribution/shop/origin/api",
    "spiffe://moat.internal/Distribution/shop/origin/api",
    "spiffe://moat.internal/distribution/shop/origin/api/",
    "spiffe://moat.internal/distribution/shop/origin/api/x",
    "spiffe://moat.internal/distribution/shop%2Fblog/origin/api",
    "spiffe://moat.internal/distribution/sh%6Fp/origin/api",
    "spiffe://moat.internal:443/distribution/shop/origin/api",
    "spiffe://user@moat.internal/distribution/shop/origin/api",
    "spiffe://moat.internal/distribution/shop/origin/api?x=1",
    "spiffe://moat.internal/distribution/shop/origin/api#x",
    "spiffe://moat.internal/distribution/../origin/api",
    "spiffe://moat.internal//distribution/shop/origin/api",
    "spiffe://moat.internal/distribution/shop/origin/api\n",
    " spiffe://moat.internal/distribution/shop/origin/api",
    "xspiffe://moat.internal/distribution/shop/origin/api",
  ]) {
    assert.equal(parseEdgeSpiffeId(uri), undefined, uri);
  }
});

test("a critical extension the verifier does not process refuses the certificate (RFC 5280 §4.2), as OpenSSL does in the handshake", async () => {
  const { ca, verifier } = await setUp();
  const unknown = new x509.Extension("1.3.6.1.4.1.99999.1", true, new Uint8Array([0x05, 0x00]).buffer);
  const verdict = await verifier.verifyChain([(await ca.leaf({ uris: [SHOP], extensions: [unknown] })).der, ca.intermediate.der]);
  assert.ok(!verdict.ok && verdict.code === "untrusted-chain" && /critical extension 1\.3\.6\.1\.4\.1\.99999\.1/.test(verdict.detail), JSON.stringify(verdict));
  // The same extension, not critical, may be ignored.
  const ignorable = new x509.Extension("1.3.6.1.4.1.99999.1", false, new Uint8Array([0x05, 0x00]).buffer);
  assert.ok((await verifier.verifyChain([(await ca.leaf({ uris: [SHOP], extensions: [ignorable] })).der, ca.intermediate.der])).ok);
  // Also on the intermediate (a name constraint the verifier would not enforce).
  const constrained = await setUp({ intermediateExtensions: [new x509.Extension("2.5.29.30", true, new Uint8Array([0x30, 0x00]).buffer)] });
  const below = await constrained.verifier.verifyChain([(await constrained.ca.leaf({ uris: [SHOP] })).der, constrained.ca.intermediate.der]);
  assert.ok(!below.ok && below.code === "untrusted-chain", JSON.stringify(below));
});

test("key usages OpenSSL checks for a TLS client: the leaf's keyUsage allows signing, and a CA's extendedKeyUsage (if any) allows clientAuth", async () => {
  const { ca, verifier } = await setUp();
  const encipherOnly = await ca.leaf({ uris: [SHOP], keyUsage: x509.KeyUsageFlags.keyEncipherment });
  const verdict = await verifier.verifyChain([encipherOnly.der, ca.intermediate.der]);
  assert.ok(!verdict.ok && verdict.code === "missing-client-auth" && /keyUsage/.test(verdict.detail), JSON.stringify(verdict));
  const serverOnlyCa = await setUp({ intermediateExtensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false)] });
  const below = await serverOnlyCa.verifier.verifyChain([(await serverOnlyCa.ca.leaf({ uris: [SHOP] })).der, serverOnlyCa.ca.intermediate.der]);
  assert.ok(!below.ok && below.code === "missing-client-auth", JSON.stringify(below));
  const clientCa = await setUp({ intermediateExtensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false)] });
  assert.ok((await clientCa.verifier.verifyChain([(await clientCa.ca.leaf({ uris: [SHOP] })).der, clientCa.ca.intermediate.der])).ok);
});
