// The access log per distribution: off where the config says so, one line per request elsewhere, each with its own request id.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { connectH2, createViewerClient, h2Request, viewerRequest } from "../support/viewer-client.ts";

let edge: TestEdge;
let origin: TestOrigin;
let caPem: string;

before(async () => {
  const ca = await createEphemeralCertificateAuthority();
  caPem = ca.bundlePem;
  const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
  origin = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
  edge = await startTestEdge(ca, {
    log: { accessLog: "off" },
    distributions: [
      { id: "quiet", aliases: ["quiet.test"], origins: [{ id: "api", url: origin.url }] },
      { id: "loud", aliases: ["loud.test"], accessLog: "on", origins: [{ id: "api", url: origin.url }] },
    ],
  });
});

after(async () => {
  await edge.close();
  await origin.close();
});

async function get(host: string, path: string): Promise<number> {
  const client = createViewerClient(edge.edge.httpsPort, { caPem, servername: host });
  const res = await viewerRequest(client, { path, host });
  await client.close();
  return res.status;
}

test("a distribution with accessLog off writes no request line; one with it on writes one per request", async () => {
  assert.equal(await get("quiet.test", "/quiet"), 200);
  assert.equal(await get("loud.test", "/loud-1"), 200);
  assert.equal(await get("loud.test", "/loud-2"), 200);
  // The quiet request's line, had there been one, is written as its response ends: before the loud requests arrive.
  const second = await edge.waitForLog((line) => line.msg === "request" && line.path === "/loud-2");
  const first = await edge.waitForLog((line) => line.msg === "request" && line.path === "/loud-1");
  assert.equal(edge.logs.filter((line) => line.msg === "request" && line.distribution === "quiet").length, 0);
  assert.equal(origin.seen.filter((seen) => seen.url === "/quiet").length, 1, "the quiet request was served all the same");
  assert.equal(first.distribution, "loud");
  // Written by the access logger (no redaction pass) with the edge logger's bindings, at level info.
  assert.deepEqual([first.service, first.part, first.level], ["moat", "edge", 30]);
  assert.equal(typeof first.time, "string");
  assert.equal(typeof first.requestId, "string");
  assert.notEqual(first.requestId, second.requestId);
});

test("HTTP/2 requests write the same line: a GET (served over the raw stream) and a POST (through Node's compatibility layer)", async () => {
  const session = await connectH2(edge.edge.httpsPort, { caPem, servername: "loud.test" });
  try {
    assert.equal((await h2Request(session, { ":path": "/h2-get?x=1", ":authority": "loud.test" })).status, 200);
    assert.equal((await h2Request(session, { ":method": "POST", ":path": "/h2-post", ":authority": "loud.test" }, "body")).status, 200);
  } finally {
    session.close();
  }
  const get = await edge.waitForLog((line) => line.msg === "request" && line.path === "/h2-get?x=1");
  const post = await edge.waitForLog((line) => line.msg === "request" && line.path === "/h2-post");
  for (const [line, method] of [[get, "GET"], [post, "POST"]] as const) {
    assert.deepEqual([line.method, line.http, line.status, line.client, line.distribution, line.behavior, line.origin], [method, "2", 200, "127.0.0.1", "loud", "*", "api"]);
    assert.equal(typeof line.requestId, "string");
    assert.equal(typeof line.ms, "number");
  }
  // The cache's part: what it did with the GET; a POST bypasses it.
  assert.equal(get.cache, "miss");
  assert.equal(post.cache, undefined);
  assert.notEqual(get.requestId, post.requestId);
});
