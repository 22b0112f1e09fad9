// Viewer mTLS against curl (OpenSSL's client, HTTP/2 by ALPN): what docs/reference/viewer-mtls.md says a viewer sees, checked with the tool operators use. Skipped without curl.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import { within } from "../support/mtls-viewer.ts";

const hasCurl = spawnSync("curl", ["--version"]).status === 0;

describe("viewer mTLS with curl", { skip: hasCurl ? false : "curl is not installed" }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  const paths: Record<string, string> = {};

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const partners = await createViewerCa("Partner CA");
    const [alice, old] = await Promise.all([partners.issue("valid", "alice"), partners.issue("expired", "old")]);
    files = await createFileDir();
    paths.ca = await files.write("moat-ca.pem", ca.bundlePem);
    paths.aliceCert = await files.write("alice.pem", alice.chainPem);
    paths.aliceKey = await files.write("alice.key", alice.keyPem);
    paths.oldCert = await files.write("old.pem", old.chainPem);
    paths.oldKey = await files.write("old.key", old.keyPem);
    const caBundle = await files.write("partners.pem", partners.certPem);
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const app = [{ id: "app", url: origin.url }];
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle } },
      distributions: [
        { id: "vault", aliases: ["vault.test"], viewerMtls: { mode: "required", trustStore: "partners" }, origins: app },
        { id: "shop", aliases: ["shop.test"], viewerMtls: { mode: "optional", trustStore: "partners" }, origins: app, behaviors: [{ path: "/admin/*", target: "app", viewerMtls: "required" }, { path: "*", target: "app" }] },
      ],
    });
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  // Asynchronous: the edge answers from this same process, so a blocking spawn would starve it.
  function curl(host: string, path: string, cert?: "alice" | "old"): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const port = edge.edge.httpsPort;
    const args = ["--silent", "--show-error", "--max-time", "10", "--cacert", paths.ca ?? "", "--resolve", `${host}:${port}:127.0.0.1`, "--include", "--write-out", "\n%{http_code} %{http_version}"];
    if (cert) args.push("--cert", paths[`${cert}Cert`] ?? "", "--key", paths[`${cert}Key`] ?? "");
    return new Promise((resolve) => {
      execFile("curl", [...args, `https://${host}:${port}${path}`], { encoding: "utf8" }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      });
    });
  }

  test("required, with a valid certificate: served over HTTP/2", async () => {
    const result = await curl("vault.test", "/ok", "alice");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\n200 2$/);
  });

  test("required, without a certificate: the handshake fails with alert certificate required", async () => {
    const result = await curl("vault.test", "/none");
    // curl usually prints "tlsv13 alert certificate required"; when its request races the alert it
    // sees the reset or the closed socket instead, so the edge's record is what proves the alert.
    assert.notEqual(result.code, 0, result.stdout);
    assert.doesNotMatch(result.stdout, /\n[1-5]\d\d /);
    await within(edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.reason === "client-cert-missing" && l.distribution === "vault"), "the connection record");
  });

  test("required, with an expired certificate: the connection closes without an HTTP answer", async () => {
    const result = await curl("vault.test", "/expired", "old");
    assert.notEqual(result.code, 0, result.stdout);
    assert.doesNotMatch(result.stdout, /\n[1-5]\d\d /);
  });

  test("optional, a path that requires a certificate: 403 with Moat-Error client-cert-missing", async () => {
    const result = await curl("shop.test", "/admin/x");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /moat-error: client-cert-missing/);
    assert.match(result.stdout, /\n403 2$/);
  });
});
