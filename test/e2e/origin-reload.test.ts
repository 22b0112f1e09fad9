// A real nginx origin requiring the edge's client certificate, reloaded (with a new server certificate) again and again under steady keep-alive load: not one viewer request fails, and each retry is logged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { withDeadline } from "../support/deadline.ts";
import { startNginxOrigin, nginxOrSkip } from "../support/nginx-origin.ts";
import { startTestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

const viewers = 6;
const reloads = 6;
/** Answers between two reloads, so that the edge holds idle keep-alive connections to the new workers. */
const answersBetweenReloads = 60;

test("nginx reloads and server certificate rotations under load: zero failed requests, each retry logged", async (t) => {
  const nginx = nginxOrSkip(t);
  if (!nginx) return;
  const ca = await createEphemeralCertificateAuthority();
  const serverCertificate = () => ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  const origin = await startNginxOrigin(t, nginx, { certificate: await serverCertificate(), clientCaPem: ca.bundlePem });
  const edge = await startTestEdge(ca, {
    distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: `https://localhost:${origin.port}` }] }],
  });
  t.after(() => edge.close());

  const statuses = new Map<number, number>();
  let answered = 0;
  const progress: Array<() => void> = [];
  let isStopping = false;
  // Every path is new: each request is a cache miss that goes to the origin.
  const viewerLoop = async (_: unknown, viewer: number) => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      for (let i = 0; !isStopping; i++) {
        const res = await viewerRequest(client, { path: `/viewer${viewer}/item/${i}`, host: "shop.test" });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        answered += 1;
        for (const notify of progress.splice(0)) notify();
      }
    } finally {
      await client.close();
    }
  };
  const answeredAtLeast = (count: number) =>
    withDeadline(`${count} answers`, new Promise<void>((resolve) => {
      const check = () => (answered >= count ? resolve() : progress.push(check));
      check();
    }), 10_000);

  const load = Array.from({ length: viewers }, viewerLoop);
  try {
    await answeredAtLeast(answersBetweenReloads);
    for (let i = 0; i < reloads; i++) {
      await origin.writeServerCertificate(await serverCertificate());
      await origin.reload();
      await answeredAtLeast(answered + answersBetweenReloads);
    }
  } finally {
    isStopping = true;
    await Promise.all(load);
  }

  const retries = edge.logs.filter((line) => String(line.msg).startsWith("origin closed a reused keep-alive connection"));
  t.diagnostic(`${answered} requests, ${reloads} reloads, ${retries.length} retries on a new connection`);
  assert.deepEqual(Object.fromEntries(statuses), { 200: answered }, "every viewer request answered 200");
  assert.ok(retries.length > 0, "the load met reused connections that a reload closed (else this test proves nothing)");
  for (const line of retries) {
    assert.equal(line.origin, "api");
    assert.equal(typeof line.requestId, "string");
    assert.equal(typeof line.cause, "string");
    const access = edge.logs.find((l) => l.msg === "request" && l.requestId === line.requestId);
    assert.equal(access?.status, 200, "the retried request was answered");
  }
});
