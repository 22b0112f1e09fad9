// Header policy: RFC 9110 §7.6.1 hop-by-hop removal, X-Forwarded-*, Via.
import { test } from "node:test";
import assert from "node:assert/strict";
import { originRequestHeaders, toViewerResponseHeaders, viewerResponseHeaders } from "../../../src/edge/pipeline/forwarded-headers.ts";

test("hop-by-hop fields, fields named by Connection and h2 pseudo-headers are not forwarded", () => {
  const out = originRequestHeaders(
    {
      ":path": "/",
      connection: "keep-alive, X-Secret",
      "x-secret": "1",
      "keep-alive": "timeout=5",
      te: "trailers",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      "proxy-authorization": "Basic x",
      expect: "100-continue",
      accept: "text/html",
      "set-cookie": ["a=1", "b=2"],
    },
    { clientAddress: "203.0.113.9", viewerHost: "shop.test", httpVersion: "1.1" },
  );
  assert.deepEqual(Object.keys(out).sort(), ["accept", "set-cookie", "traceparent", "via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]);
  assert.equal(out["x-forwarded-for"], "203.0.113.9");
  assert.equal(out.via, "1.1 moat");
});

test("X-Forwarded-For and Via are appended to, not replaced", () => {
  const out = originRequestHeaders({ "x-forwarded-for": "198.51.100.1", via: "1.1 corp-proxy" }, { clientAddress: "203.0.113.9", viewerHost: "shop.test", httpVersion: "2" });
  assert.equal(out["x-forwarded-for"], "198.51.100.1, 203.0.113.9");
  assert.equal(out.via, "1.1 corp-proxy, 2 moat");
});

test("a field the viewer lists in Connection is removed, X-Forwarded-For and Via included: the edge's values stand alone", () => {
  const out = originRequestHeaders(
    { connection: "X-Forwarded-For, via", "x-forwarded-for": "10.0.0.1", via: "1.1 spoof" },
    { clientAddress: "203.0.113.9", viewerHost: "shop.test", httpVersion: "1.1" },
  );
  assert.equal(out["x-forwarded-for"], "203.0.113.9");
  assert.equal(out.via, "1.1 moat");
});

test("names the edge sets or an origin trusts never pass, in any spelling", () => {
  const out = originRequestHeaders(
    { "x_forwarded_for": "10.0.0.1", "moat-edge-identity": "spiffe://x", moat_viewer_cert_verify: "success", client_cert: ":AA:", accept: "*/*" },
    { clientAddress: "203.0.113.9", viewerHost: "shop.test", httpVersion: "1.1" },
  );
  assert.deepEqual(Object.keys(out).sort(), ["accept", "traceparent", "via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]);
  assert.equal(out["x-forwarded-for"], "203.0.113.9");
});

test("response hop-by-hop fields are dropped and Via added", () => {
  const out = viewerResponseHeaders({ connection: "close, x-internal", "x-internal": "1", "keep-alive": "timeout=4", "content-type": "text/plain", "transfer-encoding": "chunked" }, "2");
  assert.deepEqual(out, { "content-type": "text/plain", via: "2 moat" });
});

test("the in-place response policy gives what the copying one gives, in the same object", () => {
  const given = () => ({ connection: "close, x-internal", "x-internal": "1", "keep-alive": "timeout=4", "content-type": "text/plain", "transfer-encoding": "chunked", "moat-cdn-cache-control": "max-age=9", via: "1.1 upstream", etag: undefined });
  const headers = given();
  const out = toViewerResponseHeaders(headers, "1.1");
  assert.equal(out, headers);
  assert.deepEqual(out, viewerResponseHeaders(given(), "1.1"));
  assert.deepEqual(Object.keys(out), ["content-type", "via"]);
  assert.equal(out.via, "1.1 upstream, 1.1 moat");
});
