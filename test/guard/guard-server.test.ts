// `moat guard` in front of a plain HTTP app, on real sockets: who gets in, who is refused and why, and reloads of the CRL and of a bundle that gains a new root.
import assert from "node:assert/strict";
import https from "node:https";
import { test } from "node:test";
import { IDENTITY_HEADERS, REFUSAL_HEADER } from "../../src/guard/index.ts";
import { createGuardPki, requestWith } from "./guard-pki.ts";
import { replaceFile, startGuardFixture, withTimeout } from "./guard-fixture.ts";

test("forwards the edge of its distribution with the identity in headers, and drops identity headers sent from outside", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop", "api");
  const answer = await requestWith({
    port: guard.port,
    caPem: pki.ca.bundlePem,
    client: edge,
    method: "POST",
    path: "/orders?x=1",
    headers: { "moat-edge-identity": "spiffe://moat.internal/distribution/admin/origin/x", "moat-edge-anything": "forged", "x-forwarded-for": "203.0.113.9", connection: "keep-alive, x-hop" , "x-hop": "1" },
    body: "hello",
  });
  assert.ok("status" in answer, JSON.stringify(answer));
  assert.equal(answer.status, 200);
  assert.equal(answer.headers["x-app"], "legacy");
  assert.equal(answer.body, "app saw spiffe://moat.internal/distribution/shop/origin/api 5");
  const seen = app.seen.at(-1);
  assert.ok(seen);
  assert.equal(seen.method, "POST");
  assert.equal(seen.url, "/orders?x=1");
  assert.equal(seen.headers[IDENTITY_HEADERS.spiffeId], "spiffe://moat.internal/distribution/shop/origin/api");
  assert.equal(seen.headers[IDENTITY_HEADERS.distributionId], "shop");
  assert.equal(seen.headers[IDENTITY_HEADERS.originId], "api");
  assert.equal(seen.headers[IDENTITY_HEADERS.serialHex], edge.serialHex);
  assert.equal(seen.headers["moat-edge-anything"], undefined);
  assert.equal(seen.headers["x-hop"], undefined, "a field the Connection header names stays on its hop");
  assert.equal(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
});

test("refuses a direct client without a certificate in the handshake, and a valid certificate of another distribution with 403 and the reason", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app, waitForLog } = await startGuardFixture(t, pki);
  const direct = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem });
  assert.ok("error" in direct);
  const logged = await withTimeout("the refused handshake's log line", waitForLog((l) => l.msg === "refused a handshake"));
  assert.equal(logged.refusal, "no-client-certificate");

  const blog = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await pki.edge("blog") });
  assert.ok("status" in blog);
  assert.equal(blog.status, 403);
  assert.equal(blog.headers[REFUSAL_HEADER], "identity-not-accepted");
  assert.match(blog.body, /distribution\/blog\/origin\/app is not accepted by this origin/);
  assert.doesNotMatch(blog.body, /shop/, "the body does not tell a peer which distributions the origin accepts");
  const refusedLine = await withTimeout("the refused request's log line", waitForLog((l) => l.msg === "refused a request"));
  assert.match(String(refusedLine.detail), /this origin accepts distribution shop only/, "the operator's log does");

  const other = await createGuardPki(t); // another CA, even with Moat's names
  const foreign = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await other.edge("shop") });
  assert.ok("error" in foreign, "a certificate of another CA fails the handshake");
  assert.equal(app.seen.length, 0, "the app saw none of them");
});

test("refuses a revoked certificate once the CRL file changes: new handshakes fail, and a kept-alive connection gets 403 revoked", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, files, app, waitForLog, logs } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop");
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: edge, agent });
  assert.ok("status" in first && first.status === 200);

  const reloads = logs.filter((l) => l.msg === "guard reloaded").length;
  await replaceFile(files.crl as string, await pki.revoke(edge));
  await withTimeout("the guard to reload the CRL", waitForLog((l) => l.msg === "guard reloaded" && logs.filter((x) => x.msg === "guard reloaded").length > reloads));

  const kept = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: edge, agent });
  assert.ok("status" in kept, JSON.stringify(kept));
  assert.equal(kept.status, 403);
  assert.equal(kept.headers[REFUSAL_HEADER], "revoked");

  const fresh = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: edge });
  assert.ok("error" in fresh, "OpenSSL refuses the revoked certificate in the handshake");
  const logged = await withTimeout("the refused handshake", waitForLog((l) => l.msg === "refused a handshake" && l.refusal === "revoked"));
  assert.equal(logged.openssl, "CERT_REVOKED");
  const another = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await pki.edge("shop", "api") });
  assert.ok("status" in another && another.status === 200, "other certificates still get in");
  assert.equal(app.seen.length, 2);
});

test("root rollover: a bundle that gains a new root (and its CRLs) is reloaded; certificates of the new root and of the old one are accepted", async (t) => {
  const oldPki = await createGuardPki(t);
  const newPki = await createGuardPki(t); // the same CA names, a new key: as a rolled-over root
  const { guard, files, waitForLog } = await startGuardFixture(t, oldPki);
  const underNew = await newPki.edge("shop");
  const before = await requestWith({ port: guard.port, caPem: oldPki.ca.bundlePem, client: underNew });
  assert.ok("error" in before, "not trusted before the bundle has the new root");

  // CRLs first, then the bundle: each file lands whole (rename), and the guard reloads on each.
  await replaceFile(files.crl as string, (await oldPki.crlBundle()) + (await newPki.crlBundle()));
  await replaceFile(files.caBundle, oldPki.ca.bundlePem + newPki.ca.bundlePem + oldPki.ca.intermediatePem + newPki.ca.intermediatePem);
  await withTimeout("the reload with two roots", waitForLog((l) => l.msg === "guard reloaded" && Array.isArray(l.roots) && l.roots.length === 2 && l.crls === 4));

  const viaNew = await requestWith({ port: guard.port, caPem: oldPki.ca.bundlePem, client: underNew });
  assert.ok("status" in viaNew && viaNew.status === 200, JSON.stringify(viaNew));
  const viaOld = await requestWith({ port: guard.port, caPem: oldPki.ca.bundlePem, client: await oldPki.edge("shop") });
  assert.ok("status" in viaOld && viaOld.status === 200, JSON.stringify(viaOld));
});

test("a broken file is refused with its path and the guard keeps serving with what it had", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, files, waitForLog } = await startGuardFixture(t, pki);
  await replaceFile(files.caBundle, "not a bundle\n");
  const refused = await withTimeout("the refused reload", waitForLog((l) => l.msg?.toString().startsWith("reload refused") === true));
  assert.equal(refused.error, "guard-trust-invalid");
  assert.match(String(refused.detail), new RegExp(`${files.caBundle}: it holds no certificate`));
  const answer = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await pki.edge("shop") });
  assert.ok("status" in answer && answer.status === 200);
});

test("an app that is down gives 502 with the cause, not a hang", async (t) => {
  const pki = await createGuardPki(t);
  const fixture = await startGuardFixture(t, pki);
  await fixture.guard.stop();
  const { startGuard } = await import("../../src/guard/index.ts");
  const { createLogger } = await import("../../src/observe/index.ts");
  const guard = await startGuard({
    listen: { host: "127.0.0.1", port: 0 },
    upstream: new URL("http://127.0.0.1:1"),
    files: fixture.files,
    policy: { trustDomain: "moat.internal", distributions: ["shop"] },
    log: createLogger({ level: "silent" }),
  });
  t.after(() => guard.stop());
  const answer = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: await pki.edge("shop") });
  assert.ok("status" in answer);
  assert.equal(answer.status, 502);
  assert.equal(answer.headers["moat-guard-error"], "upstream-unreachable");
});
