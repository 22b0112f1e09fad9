// Viewer mTLS meets the cache: a response that varies on the viewer's certificate is matched on the certificate the edge verified, never on a certificate header a viewer sent.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { after, before, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { isRefusal, mtlsRequest } from "../support/mtls-viewer.ts";
import type { MtlsRequest } from "../support/mtls-viewer.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCert } from "../support/viewer-pki.ts";

let ca: CertificateAuthority;
let origin: TestOrigin;
let edge: TestEdge;
let files: Awaited<ReturnType<typeof createFileDir>>;
let alice: ViewerCert;
let mallory: ViewerCert;

before(async () => {
  ca = await createEphemeralCertificateAuthority();
  const partners = await createViewerCa("Partner CA");
  alice = await partners.issue("valid", "alice");
  mallory = await partners.issue("valid", "mallory");
  files = await createFileDir();
  const caBundle = await files.write("partners.pem", partners.certPem);
  // A personalised answer the origin lets shared caches keep, varying on the viewer's certificate.
  origin = await startTestOrigin({
    certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
    clientCaPem: ca.bundlePem,
    handler: (req, res) => {
      const vary = req.url?.startsWith("/keyed/") ? {} : { vary: "Moat-Viewer-Cert-SHA256" };
      res.writeHead(200, { "cache-control": "public, max-age=300", ...vary, "content-type": "text/plain" });
      res.end(`account of ${String(req.headers["moat-viewer-cert-subject"])}`);
    },
  });
  edge = await startTestEdge(ca, {
    trustStores: { partners: { caBundle } },
    distributions: [
      {
        id: "bank",
        aliases: ["bank.test"],
        viewerMtls: { mode: "required", trustStore: "partners" },
        origins: [{ id: "app", url: origin.url }],
        behaviors: [
          { path: "/keyed/*", target: "app", cache: { key: { headers: ["moat-viewer-cert-sha256"] } } },
          { path: "*", target: "app" },
        ],
      },
    ],
  });
});

after(async () => {
  await edge?.close();
  await origin?.close();
  await files?.remove();
});

const sha256Of = (cert: ViewerCert) => createHash("sha256").update(new X509Certificate(cert.certPem).raw).digest("hex");

async function get(request: Omit<MtlsRequest, "port" | "caPem" | "servername">) {
  const answer = await mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "bank.test", path: "/account", ...request });
  assert.ok(!isRefusal(answer), isRefusal(answer) ? answer.error.message : "");
  return answer;
}

test("a viewer naming another viewer's certificate in a header gets its own variant, not the other's", async () => {
  const first = await get({ cert: alice });
  assert.equal(first.body, "account of CN=alice,O=Partner,C=FR");
  const again = await get({ cert: alice });
  assert.match(String(again.headers["x-cache"]), /Hit/, "alice's answer is cached for alice");

  const plain = await get({ cert: mallory });
  assert.equal(plain.body, "account of CN=mallory,O=Partner,C=FR", "Vary is matched on the certificate the edge verified");

  const spoof = await get({ cert: mallory, headers: { "moat-viewer-cert-sha256": sha256Of(alice), "moat-viewer-cert-subject": "CN=alice" } });
  assert.equal(spoof.body, "account of CN=mallory,O=Partner,C=FR", "mallory never sees alice's cached answer");
  assert.match(String(spoof.headers["x-cache"]), /Hit/, "mallory's own cached variant");
});

test("a cache key with the viewer's certificate fingerprint keeps one entry per verified viewer, whatever headers viewers send", async () => {
  const hits = origin.seen.length;
  assert.equal((await get({ cert: alice, path: "/keyed/statement" })).body, "account of CN=alice,O=Partner,C=FR");
  const spoof = await get({ cert: mallory, path: "/keyed/statement", headers: { "moat-viewer-cert-sha256": sha256Of(alice) } });
  assert.equal(spoof.body, "account of CN=mallory,O=Partner,C=FR");
  const again = await get({ cert: alice, path: "/keyed/statement" });
  assert.match(String(again.headers["x-cache"]), /Hit/);
  assert.equal(origin.seen.length - hits, 2, "one origin request per viewer");
});
