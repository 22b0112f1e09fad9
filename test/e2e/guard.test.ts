// The whole path: a real Moat edge → `moat guard` (mTLS, checks the distribution) → a plain HTTP app; the edge of another distribution is refused by the same guard.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createGuardPki } from "../guard/guard-pki.ts";
import { startGuardFixture } from "../guard/guard-fixture.ts";
import { startTestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

test("the edge of distribution shop reaches the app through the guard; the edge of distribution blog, same CA, gets the guard's 403", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, app } = await startGuardFixture(t, pki, ["shop"]);
  const origin = (id: string) => ({ id, aliases: [`${id}.test`], origins: [{ id: "app", url: `https://localhost:${guard.port}` }] });
  const edge = await startTestEdge(pki.ca, { distributions: [origin("shop"), origin("blog")] }, { dataDir: pki.dataDir, masterKey: pki.masterKey });
  t.after(() => edge.edge.stop());

  const shop = createViewerClient(edge.edge.httpsPort, { caPem: pki.ca.bundlePem, servername: "shop.test" });
  t.after(() => shop.close());
  const answer = await viewerRequest(shop, { path: "/hello", host: "shop.test", headers: { "moat-edge-identity": "forged by a viewer" } });
  assert.equal(answer.status, 200);
  assert.equal(answer.body, "app saw spiffe://moat.internal/distribution/shop/origin/app 0");
  assert.equal(app.seen.at(-1)?.headers["moat-edge-distribution"], "shop");

  const blog = createViewerClient(edge.edge.httpsPort, { caPem: pki.ca.bundlePem, servername: "blog.test" });
  t.after(() => blog.close());
  const refused = await viewerRequest(blog, { path: "/hello", host: "blog.test" });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers["moat-guard-refusal"], "identity-not-accepted");
  assert.equal(app.seen.length, 1);
});
