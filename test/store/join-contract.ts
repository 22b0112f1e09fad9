// The fleet-join contract: the same tests on SQLite and on a real PostgreSQL (a join token works once, expires, names its edge; certificate requests are answered once; the CA's public certificates are published whole).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { JoinTokenNotRevocableError, JoinTokenRefusedError } from "../../src/errors.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/index.ts";
import { validate } from "./store-contract.ts";
import type { EngineUnderTest } from "./store-contract.ts";

const NOW = new Date("2026-06-01T12:00:00.000Z");
const HOUR = 3_600_000;

async function open(t: TestContext, engine: EngineUnderTest): Promise<Store> {
  const store = await openStore({ address: await engine.freshAddress(t), validate });
  t.after(() => store.close());
  return store;
}

function refusedWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof JoinTokenRefusedError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, /Fix: /);
    return true;
  };
}

export function joinContract(engine: EngineUnderTest): void {
  test("join tokens: a token works once, records its edge as joined, and keeps only the secret's SHA-256; a second use is refused and changes nothing", async (t) => {
    const store = await open(t, engine);
    const { secret, token } = await store.joins.createToken({ name: "fra-1", region: "eu-central", expiresAt: new Date(NOW.getTime() + HOUR), createdBy: "api:token/0123456789abcdef", now: NOW });
    assert.match(secret, /^moat_join_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(token.usedAt, null);
    assert.equal(await store.joins.joined("fra-1"), undefined);
    const joined = await store.joins.join(secret, new Date(NOW.getTime() + 1000));
    assert.deepEqual(joined, { name: "fra-1", region: "eu-central", joinedAt: new Date(NOW.getTime() + 1000).toISOString(), tokenId: token.id });
    assert.deepEqual(await store.joins.joined("fra-1"), joined);
    await assert.rejects(store.joins.join(secret, new Date(NOW.getTime() + 2000)), refusedWith("join-token-used"));
    // The second use left the first join as it was.
    assert.deepEqual(await store.joins.joined("fra-1"), joined);
    // The secret is in no row: only its hash is.
    const trail = JSON.stringify(await store.audit.list({ limit: 100 }));
    assert.ok(!trail.includes(joinSecretPart(secret)), "the trail holds no secret");
    assert.deepEqual((await store.audit.list({ limit: 100 })).map((record) => [record.action, record.resource]), [["edge.join-token", "edge/fra-1"], ["edge.join", "edge/fra-1"]]);
  });

  test("join tokens: expired, unknown, malformed and another name's are refused with their codes, and an expired or misnamed one joins nobody", async (t) => {
    const store = await open(t, engine);
    const { secret } = await store.joins.createToken({ name: "iad-1", region: null, expiresAt: new Date(NOW.getTime() + HOUR), createdBy: "cli:alice", now: NOW });
    await assert.rejects(store.joins.join(secret, new Date(NOW.getTime() + HOUR)), refusedWith("join-token-expired"));
    await assert.rejects(store.joins.join("moat_join_0123456789abcdef_" + "A".repeat(43), NOW), refusedWith("join-token-unknown"));
    // The right id with a wrong secret is unknown too: the hash decides.
    await assert.rejects(store.joins.join(secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A"), NOW), refusedWith("join-token-unknown"));
    await assert.rejects(store.joins.join("not-a-token", NOW), refusedWith("join-token-malformed"));
    await assert.rejects(store.joins.join(secret, NOW, { name: "sin-1" }), refusedWith("join-token-other-name"));
    assert.equal(await store.joins.joined("iad-1"), undefined);
    assert.equal(await store.joins.joined("sin-1"), undefined);
    // Still good for its own name, and --region wins over the token's.
    assert.equal((await store.joins.join(secret, NOW, { name: "iad-1", region: "us-east" })).region, "us-east");
  });

  test("join tokens: listed with their state (usable, used, revoked, expired) and never a secret or its hash; an unused one is revoked once, audited, and then joins nobody; a used one is not revoked", async (t) => {
    const store = await open(t, engine);
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    const usable = await store.joins.createToken({ name: "fra-1", region: "eu-central", expiresAt: at(HOUR), createdBy: "cli:alice", now: NOW });
    const used = await store.joins.createToken({ name: "iad-1", region: null, expiresAt: at(HOUR), createdBy: "cli:alice", now: at(1) });
    const toRevoke = await store.joins.createToken({ name: "sin-1", region: "ap-south", expiresAt: at(HOUR), createdBy: "cli:alice", now: at(2) });
    const shortLived = await store.joins.createToken({ name: "gru-1", region: null, expiresAt: at(60_000), createdBy: "cli:alice", now: at(3) });
    await store.joins.join(used.secret, at(10));

    const revoked = await store.joins.revokeToken(toRevoke.token.id, at(20), "api:token/0123456789abcdef");
    assert.deepEqual(revoked, { ...toRevoke.token, revokedAt: at(20).toISOString(), state: "revoked" });
    // Again: no change, its first time kept, no second record.
    assert.deepEqual(await store.joins.revokeToken(toRevoke.token.id, at(30), "cli:bob"), revoked);
    await assert.rejects(store.joins.join(toRevoke.secret, at(40)), refusedWith("join-token-revoked"));
    assert.equal(await store.joins.joined("sin-1"), undefined);
    await assert.rejects(store.joins.revokeToken(used.token.id, at(50), "cli:bob"), (error: unknown) => {
      assert.ok(error instanceof JoinTokenNotRevocableError, String(error));
      assert.equal(error.code, "join-token-used-already");
      assert.equal(error.status, 409);
      assert.match(error.message, /edge iad-1 joined with it/);
      return true;
    });
    assert.equal(await store.joins.revokeToken("0123456789abcdef", at(50), "cli:bob"), undefined);

    const listed = await store.joins.listTokens(at(120_000));
    assert.deepEqual(listed.map((token) => [token.id, token.name, token.state]), [[usable.token.id, "fra-1", "usable"], [used.token.id, "iad-1", "used"], [toRevoke.token.id, "sin-1", "revoked"], [shortLived.token.id, "gru-1", "expired"]]);
    assert.deepEqual(listed[1], { ...used.token, usedAt: at(10).toISOString(), state: "used" });
    const shown = JSON.stringify(listed);
    for (const { secret } of [usable, used, toRevoke, shortLived]) {
      assert.ok(!shown.includes(joinSecretPart(secret)), "no secret in the listing");
      assert.ok(!shown.includes(createHash("sha256").update(secret).digest("hex")), "no hash in the listing");
    }
    const trail = await store.audit.list({ limit: 100 });
    const revocations = trail.filter((record) => record.action === "edge.join-token-revoke");
    assert.deepEqual(revocations.map((record) => [record.actor, record.resource]), [["api:token/0123456789abcdef", "edge/sin-1"]]);
    // The usable one still joins: revoking another touched only that one.
    assert.equal((await store.joins.join(usable.secret, at(60))).name, "fra-1");
  });

  test("join tokens: two joins racing with one token: exactly one joins", async (t) => {
    const store = await open(t, engine);
    const { secret } = await store.joins.createToken({ name: "race-1", region: null, expiresAt: new Date(NOW.getTime() + HOUR), createdBy: "cli:alice", now: NOW });
    const results = await Promise.allSettled([store.joins.join(secret, NOW), store.joins.join(secret, NOW)]);
    assert.deepEqual(results.map((result) => result.status).sort(), ["fulfilled", "rejected"]);
    const refused = results.find((result) => result.status === "rejected") as PromiseRejectedResult;
    assert.equal((refused.reason as JoinTokenRefusedError).code, "join-token-used");
  });

  test("certificate requests: pending until answered, answered once (a second answer does not overwrite), pruned once long answered", async (t) => {
    const store = await open(t, engine);
    const requests = store.certificateRequests;
    const viewer = await requests.submit({ edge: "fra-1", subject: { use: "viewer-server", dnsNames: ["shop.example"], ipAddresses: [] }, validityMs: 86_400_000, csrPem: "CSR-1", now: NOW });
    const client = await requests.submit({ edge: "fra-1", subject: { use: "origin-client", trustDomain: "moat.internal", distributionId: "shop", originId: "app" }, validityMs: HOUR, csrPem: "CSR-2", now: new Date(NOW.getTime() + 1) });
    assert.deepEqual((await requests.pending(10)).map((request) => request.id), [viewer, client]);
    const read = await requests.get(client);
    assert.deepEqual(read?.subject, { use: "origin-client", trustDomain: "moat.internal", distributionId: "shop", originId: "app" });
    assert.equal(read?.validityMs, HOUR);
    assert.equal(read?.state, "pending");
    assert.equal(await requests.decide(viewer, { state: "issued", chainPem: "CHAIN" }, NOW), true);
    assert.equal(await requests.decide(viewer, { state: "refused", reason: "late" }, NOW), false);
    assert.equal(await requests.decide(client, { state: "refused", reason: "not entitled" }, NOW), true);
    assert.deepEqual([(await requests.get(viewer))?.state, (await requests.get(viewer))?.chainPem, (await requests.get(viewer))?.reason], ["issued", "CHAIN", null]);
    assert.deepEqual([(await requests.get(client))?.state, (await requests.get(client))?.reason], ["refused", "not entitled"]);
    assert.deepEqual(await requests.pending(10), []);
    assert.equal(await requests.pruneDecided(NOW), 0);
    assert.equal(await requests.pruneDecided(new Date(NOW.getTime() + 1)), 2);
    assert.equal(await requests.get(viewer), undefined);
  });

  test("the CA's public certificates: none until published; a publication replaces the last one whole", async (t) => {
    const store = await open(t, engine);
    assert.equal(await store.certificateRequests.readCa(), undefined);
    await store.certificateRequests.publishCa({ bundlePem: "ROOT-1", intermediatePem: "INT-1", previousIntermediatePems: [], keyAlgorithm: "ecdsa-p256", crlBaseUrl: null }, NOW);
    await store.certificateRequests.publishCa({ bundlePem: "ROOT-1ROOT-2", intermediatePem: "INT-2", previousIntermediatePems: ["INT-1"], keyAlgorithm: "ecdsa-p256", crlBaseUrl: "http://crl.example/" }, new Date(NOW.getTime() + 1000));
    assert.deepEqual(await store.certificateRequests.readCa(), { bundlePem: "ROOT-1ROOT-2", intermediatePem: "INT-2", previousIntermediatePems: ["INT-1"], keyAlgorithm: "ecdsa-p256", crlBaseUrl: "http://crl.example/", updatedAt: new Date(NOW.getTime() + 1000).toISOString() });
  });

  test("the CA node's revocations: none before the CA is published (nothing written), then published whole beside it, replaced by the next", async (t) => {
    const store = await open(t, engine);
    const requests = store.certificateRequests;
    const first = { revocations: [{ serialHex: "4a0b", reason: "keyCompromise", revokedAt: NOW.toISOString() }], crlBundlePem: "CRL-1" };
    assert.equal(await requests.publishRevocations(first, NOW), false);
    assert.equal(await requests.readRevocations(), undefined);
    await requests.publishCa({ bundlePem: "ROOT-1", intermediatePem: "INT-1", previousIntermediatePems: [], keyAlgorithm: "ecdsa-p256", crlBaseUrl: null }, NOW);
    assert.equal(await requests.readRevocations(), undefined, "a CA published without revocations has none to give");
    assert.equal(await requests.publishRevocations(first, NOW), true);
    assert.deepEqual(await requests.readRevocations(), first);
    const second = { revocations: [...first.revocations, { serialHex: "77ff", reason: "superseded", revokedAt: new Date(NOW.getTime() + 1000).toISOString() }], crlBundlePem: null };
    assert.equal(await requests.publishRevocations(second, new Date(NOW.getTime() + 1000)), true);
    assert.deepEqual(await requests.readRevocations(), second);
    // A new publication of the CA keeps them: they are the CA node's registry, not the CA's certificates.
    await requests.publishCa({ bundlePem: "ROOT-1", intermediatePem: "INT-2", previousIntermediatePems: ["INT-1"], keyAlgorithm: "ecdsa-p256", crlBaseUrl: null }, new Date(NOW.getTime() + 2000));
    assert.deepEqual(await requests.readRevocations(), second);
  });
}

/** The 43 random characters of `moat_join_<id>_<secret>`: base64url, so they may hold "_" themselves (a split on "_" can leave a two-letter fragment that any listing may contain by chance). */
function joinSecretPart(token: string): string {
  const secret = /^moat_join_[0-9a-f]{16}_([A-Za-z0-9_-]{43})$/.exec(token)?.[1];
  assert.ok(secret, `not a join token: ${token.slice(0, 10)}…`);
  return secret;
}
