// `moat doctor viewer` judges viewer certificates with the edge's own verdict (OpenSSL's verification, then judgeConnection): a good one passes; each fault is named by the code the edge logs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diagnoseViewer, formatDoctorReport } from "../../src/doctor/index.ts";
import type { DoctorReport } from "../../src/doctor/index.ts";
import { loadTrustStore } from "../../src/tls/index.ts";
import { createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCa, ViewerCertKind } from "../support/viewer-pki.ts";

describe("moat doctor viewer", { timeout: 60_000 }, () => {
  let dir: string;
  let partners: ViewerCa;
  let strangers: ViewerCa;
  let caFile: string;
  let crlFile: string;
  let revokedSerial: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-doctor-viewer-"));
    partners = await createViewerCa("Partner CA");
    strangers = await createViewerCa("Stranger CA");
    caFile = join(dir, "partners.pem");
    await writeFile(caFile, partners.certPem);
    const revoked = await partners.issue("valid", "mallory");
    revokedSerial = revoked.serialHex;
    await writeFile(join(dir, "revoked.pem"), revoked.chainPem);
    crlFile = join(dir, "partners.crl.pem");
    await writeFile(crlFile, await partners.crl([revokedSerial]));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function certFile(ca: ViewerCa, kind: ViewerCertKind, name: string): Promise<string> {
    const file = join(dir, `${name}.pem`);
    await writeFile(file, (await ca.issue(kind, name)).chainPem);
    return file;
  }

  async function diagnose(file: string, crlFiles: string[] = [crlFile]): Promise<DoctorReport> {
    const config = { name: "partners", caBundleFile: caFile, crlFiles, allowNoEku: false };
    const trustStore = await loadTrustStore(config, new Date());
    return diagnoseViewer({ certFile: file, certPem: await readFile(file, "utf8"), trustStore, caBundleFile: caFile, crlFiles, subject: file }, { timeoutMs: 5_000 });
  }

  function assertRefused(report: DoctorReport, checkId: string, code: string) {
    assert.equal(report.ok, false, formatDoctorReport(report));
    const check = report.checks.find((c) => c.id === checkId);
    assert.equal(check?.status, "fail", formatDoctorReport(report));
    assert.equal(check?.code, code);
    const verdict = report.checks.find((c) => c.id === "edge-verdict");
    assert.equal(verdict?.status, "fail");
    assert.equal(verdict?.code, code, "the edge's verdict names the same cause");
    assert.ok(verdict?.fix);
  }

  test("a good certificate: every check passes", async () => {
    const report = await diagnose(await certFile(partners, "valid", "alice"));
    assert.equal(report.ok, true, formatDoctorReport(report));
    assert.ok(report.checks.every((c) => c.status === "pass"));
    assert.match(report.checks.find((c) => c.id === "revocation")?.summary ?? "", /not listed/);
  });

  test("expired: client-cert-expired", async () => {
    assertRefused(await diagnose(await certFile(partners, "expired", "old")), "validity", "client-cert-expired");
  });

  test("issued by another CA: client-cert-untrusted, naming its issuer", async () => {
    const report = await diagnose(await certFile(strangers, "valid", "eve"));
    assertRefused(report, "chain", "client-cert-untrusted");
    assert.match(report.checks.find((c) => c.id === "chain")?.cause ?? "", /Stranger CA/);
  });

  test("revoked: client-cert-revoked", async () => {
    const report = await diagnose(join(dir, "revoked.pem"));
    assertRefused(report, "revocation", "client-cert-revoked");
    assert.match(report.checks.find((c) => c.id === "revocation")?.cause ?? "", new RegExp(revokedSerial));
  });

  test("no clientAuth EKU: client-cert-wrong-usage", async () => {
    assertRefused(await diagnose(await certFile(partners, "server-auth-only", "server")), "key-usage", "client-cert-wrong-usage");
  });

  test("a file that holds no certificate is said to be unreadable, not a crash", async () => {
    const file = join(dir, "garbage.pem");
    await writeFile(file, "-----BEGIN CERTIFICATE-----\nTW9hdCBpcyBub3QgYSBjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n");
    const report = await diagnose(file);
    assert.equal(report.ok, false);
    assert.equal(report.checks[0]?.code, "client-cert-invalid");
  });

  test("without CRLs, revocation is not checked and said so", async () => {
    const report = await diagnose(join(dir, "revoked.pem"), []);
    assert.equal(report.ok, true, formatDoctorReport(report));
    assert.match(report.checks.find((c) => c.id === "revocation")?.summary ?? "", /not checked/);
  });
});
