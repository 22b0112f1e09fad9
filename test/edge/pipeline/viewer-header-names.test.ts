// Viewer header names: Moat's and the forwarding fields never pass in any spelling; other "_" names per the distribution's underscoreHeaders.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screenViewerHeaders, viewerHeaderDrop } from "../../../src/edge/pipeline/viewer-header-names.ts";

test("names Moat sets or an origin may trust are dropped in every spelling, whatever the setting", () => {
  const owned = ["moat-viewer-cert-verify", "Moat_Viewer_Cert_Verify", "moat-edge-identity", "MOAT_EDGE_DISTRIBUTION", "moat-anything", "client_cert", "client-cert-chain", "X_Forwarded_Client_Cert", "x_forwarded_for", "X_Forwarded_Proto", "x_forwarded_host"];
  for (const name of owned) for (const setting of ["drop", "forward"] as const) assert.equal(viewerHeaderDrop(name, setting), "edge-owned", `${name} (${setting})`);
});

test("the canonical spellings of the fields the edge appends to go on (it appends), and ordinary names pass", () => {
  for (const name of ["x-forwarded-for", "via", "x-api-key", "accept", "cookie"]) assert.equal(viewerHeaderDrop(name, "drop"), null, name);
});

test("fields that override the request's URL, method, host, scheme or port are dropped in every spelling (cache poisoning by unkeyed headers)", () => {
  const overrides = ["forwarded", "Forwarded", "x-original-url", "X_Original_URL", "x-rewrite-url", "x-original-host", "x-host", "x-forwarded-port", "x-forwarded-prefix", "X-Forwarded-Scheme", "x-forwarded-server", "x-forwarded-ssl", "x-url-scheme", "front-end-https", "x-http-method-override", "X-HTTP-Method", "x-method-override"];
  for (const name of overrides) for (const setting of ["drop", "forward"] as const) assert.equal(viewerHeaderDrop(name, setting), "edge-owned", `${name} (${setting})`);
  const { headers, dropped } = screenViewerHeaders({ accept: "*/*", "x-original-url": "/admin", forwarded: "host=evil.test" }, "drop");
  assert.deepEqual(headers, { accept: "*/*" });
  assert.deepEqual(dropped, ["x-original-url", "forwarded"]);
});

test("other '_' names: dropped by default, forwarded when the distribution says so", () => {
  assert.equal(viewerHeaderDrop("x_api_key", "drop"), "underscore");
  assert.equal(viewerHeaderDrop("x_api_key", "forward"), null);
});

test("screening keeps the same object when nothing is dropped, and names what it dropped", () => {
  const clean = { accept: "*/*" };
  assert.equal(screenViewerHeaders(clean, "drop").headers, clean);
  const { headers, dropped } = screenViewerHeaders({ accept: "*/*", x_api_key: "k", moat_viewer_cert_verify: "success" }, "drop");
  assert.deepEqual(headers, { accept: "*/*" });
  assert.deepEqual([...dropped].sort(), ["moat_viewer_cert_verify", "x_api_key"]);
});
