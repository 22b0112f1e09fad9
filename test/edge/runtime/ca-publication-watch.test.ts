// A running edge takes `moat ca publication` without a restart: its CA watch sees publication.json change and hands over a CA that issues with the new CRL Distribution Point.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startCaRotation } from "../../../src/edge/runtime/ca-rotation-watch.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { DEFAULT_CA_ROTATION_POLICY, generateMasterKey, initCertificateAuthority, writeCaPublication } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { x509 } from "../../../src/pki/x509-lib.ts";
import { createLogCapture } from "../../support/test-edge.ts";
import { withDeadline } from "../../support/deadline.ts";

test("the CA watch reloads on a publication change; certificates issued after it carry the new URL", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-publication-watch-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  let current: CertificateAuthority = await initCertificateAuthority({ dataDir, masterKey });
  const capture = createLogCapture();
  let changed!: (ca: CertificateAuthority) => void;
  const change = new Promise<CertificateAuthority>((resolve) => (changed = resolve));
  const { watch } = await startCaRotation({
    dataDir,
    masterKey,
    rotation: { ...DEFAULT_CA_ROTATION_POLICY, autoRotate: false },
    renewAtFraction: 2 / 3,
    log: createLogger({ level: "info", destination: capture.stream }),
    current: () => current,
    onChange: async (ca) => {
      current = ca;
      changed(ca);
    },
  });
  t.after(() => watch.stop());

  await writeCaPublication(dataDir, { crlBaseUrl: "http://edge.example.test/.well-known/moat/" });
  const ca = await withDeadline("the CA watch to see publication.json", change, 10_000);
  assert.equal(ca.crlBaseUrl, "http://edge.example.test/.well-known/moat/");
  const line = await withDeadline("the log line", capture.waitForLog((l) => l.msg === "the CA changed"), 10_000);
  assert.match(String(line.effect), /carry the CRL base URL http:\/\/edge\.example\.test\/\.well-known\/moat\/; those in use keep theirs/);
  const leaf = await ca.issueServerCertificate({ dnsNames: ["shop.example.test"], validityMs: 86_400_000 });
  const intermediateSerial = new x509.X509Certificate(ca.intermediatePem).serialNumber.toLowerCase();
  const cdp = new x509.X509Certificate(leaf.certPem).getExtension(x509.CRLDistributionPointsExtension);
  assert.equal(cdp?.distributionPoints[0]?.distributionPoint?.fullName?.[0]?.uniformResourceIdentifier, `http://edge.example.test/.well-known/moat/crl/${intermediateSerial}.der`);
});
