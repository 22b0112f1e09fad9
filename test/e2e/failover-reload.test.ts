// Origin groups fail over on statuses and connection errors; reloads under traffic drop nothing; a bad reload changes nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

describe("origin groups and reloads", () => {
  let ca: CertificateAuthority;
  let failing: TestOrigin;
  let healthy: TestOrigin;
  let other: TestOrigin;
  let closedPortUrl: string;
  let edge: TestEdge;

  const distribution = (overrides: Record<string, unknown> = {}) => ({
    id: "ha",
    aliases: ["ha.test"],
    origins: [
      { id: "failing", url: failing.url },
      { id: "healthy", url: healthy.url },
      { id: "down", url: closedPortUrl },
      { id: "other", url: other.url },
    ],
    originGroups: [
      { id: "by-status", members: ["failing", "healthy"], failoverOn: [503] },
      { id: "by-connection", members: ["down", "healthy"] },
      { id: "healthy-first", members: ["healthy", "failing"] },
    ],
    behaviors: [
      { path: "/status/*", target: "by-status" },
      { path: "/connection/*", target: "by-connection" },
      { path: "/healthy/*", target: "healthy-first" },
      { path: "*", target: "healthy" },
    ],
    ...overrides,
  });

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    failing = await startTestOrigin({
      certificate,
      clientCaPem: ca.bundlePem,
      handler: (req, res) => {
        req.resume();
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("primary is down for maintenance");
      },
    });
    healthy = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
    other = await startTestOrigin({
      certificate,
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.end("other");
      },
    });
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    closedPortUrl = `https://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    edge = await startTestEdge(ca, { distributions: [distribution()] });
  });

  after(async () => {
    await edge.close();
    await Promise.all([failing.close(), healthy.close(), other.close()]);
  });

  const get = async (path: string, method: "GET" | "POST" = "GET") => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "ha.test" });
    try {
      return await viewerRequest(client, { path, method, host: "ha.test", ...(method === "POST" ? { body: "b" } : {}) });
    } finally {
      await client.close();
    }
  };

  test("a failoverOn status from the primary sends the request to the secondary", async () => {
    const before = failing.seen.length;
    const res = await get("/status/a");
    assert.equal(res.status, 200);
    assert.equal(res.body, "GET /status/a 0");
    assert.equal(failing.seen.length, before + 1, "the primary was tried first");
    const line = edge.logs.findLast((l) => l.msg === "request" && l.path === "/status/a");
    assert.equal(line?.origin, "healthy");
    assert.match(String(line?.failover), /origin failing: status 503/);
  });

  test("a connection failure of the primary fails over", async () => {
    const res = await get("/connection/b");
    assert.equal(res.status, 200);
    const line = edge.logs.findLast((l) => l.msg === "request" && l.path === "/connection/b");
    assert.match(String(line?.failover), /origin-connect-refused/);
  });

  test("a healthy primary answers by itself", async () => {
    const before = failing.seen.length;
    const res = await get("/healthy/c");
    assert.equal(res.status, 200);
    assert.equal(failing.seen.length, before);
  });

  test("a request with a body is not replayed on the secondary", async () => {
    const res = await get("/status/post", "POST");
    assert.equal(res.status, 503);
    assert.equal(res.body, "primary is down for maintenance");
  });

  test("reloads under traffic drop no request, and new requests see the new config", async () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "ha.test" });
    const total = 300;
    let sent = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (sent < total) {
        sent++;
        const res = await viewerRequest(client, { path: "/any", host: "ha.test" });
        if (res.status !== 200) failures.push(`${res.status} ${res.headers["moat-error"]}`);
      }
    };
    const traffic = Promise.all(Array.from({ length: 6 }, worker));
    for (let i = 0; i < 6; i++) {
      // Alternate the default target and the timeouts, so pools are replaced, not just reused.
      const target = i % 2 === 0 ? "other" : "healthy";
      await edge.reload({ distributions: [distribution({ behaviors: [{ path: "*", target }] })] });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await traffic;
    await client.close();
    assert.deepEqual(failures, []);
    assert.equal(sent, total);
    const res = await get("/any");
    assert.equal(res.body, "GET /any 0", "the last reload (target healthy) is in force");
  });

  test("a reload that fails (an unreadable trustedCa file) keeps the running snapshot", async () => {
    const generation = edge.edge.current().generation;
    await assert.rejects(
      edge.reload({ distributions: [distribution({ origins: [{ id: "healthy", url: healthy.url, mtls: { trustedCa: "/nonexistent/ca.pem" } }], originGroups: [], behaviors: [{ path: "*", target: "healthy" }] })] }),
      /trustedCa: \/nonexistent\/ca\.pem: cannot be read \(ENOENT\)/,
    );
    assert.equal(edge.edge.current().generation, generation);
    const res = await get("/still");
    assert.equal(res.status, 200);
  });
});
