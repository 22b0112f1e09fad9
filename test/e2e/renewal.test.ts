// Issued certificates renew in the running edge: a new client certificate reaches the origin, with no restart and no failed request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

describe("renewal of issued certificates", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    // Three-second certificates: renewal is due two seconds in.
    edge = await startTestEdge(ca, {
      pki: { clientCertValidity: "3s", serverCertValidity: "3s" },
      distributions: [{ id: "short", aliases: ["short.test"], origins: [{ id: "api", url: origin.url }] }],
    });
  });

  after(async () => {
    await edge.close();
    await origin.close();
  });

  test("the edge swaps in fresh viewer and origin client certificates and keeps serving", async () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "short.test" });
    assert.equal((await viewerRequest(client, { path: "/before", host: "short.test" })).status, 200);
    const firstSerial = origin.seen.at(-1)?.clientSerial;
    const firstViewerSerial = edge.edge.current().distributions[0]?.viewerCertificateSerial;

    // Traffic keeps flowing on the old connection while the renewal happens.
    const failures: number[] = [];
    let isRenewed = false;
    const renewed = edge.waitForLog((l) => l.msg === "snapshot applied").then(() => (isRenewed = true));
    while (!isRenewed) {
      const res = await viewerRequest(client, { path: "/during", host: "short.test" });
      if (res.status !== 200) failures.push(res.status);
    }
    await renewed;
    await client.close();

    const fresh = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "short.test" });
    assert.equal((await viewerRequest(fresh, { path: "/after", host: "short.test" })).status, 200);
    await fresh.close();
    assert.deepEqual(failures, []);
    assert.notEqual(origin.seen.at(-1)?.clientSerial, firstSerial, "the origin sees the new client certificate");
    assert.notEqual(edge.edge.current().distributions[0]?.viewerCertificateSerial, firstViewerSerial, "the viewer certificate was renewed too");
  });
});
