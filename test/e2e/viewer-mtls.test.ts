// Viewer mTLS end to end: real TLS clients on loopback presenting every kind of certificate to a distribution in each mode, with the outcome, the connection record and what the origin is told.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { isRefusal, mtlsRequest, within } from "../support/mtls-viewer.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCert } from "../support/viewer-pki.ts";

type CertCase = "none" | "valid" | "untrusted" | "expired" | "not-yet-valid" | "no-client-auth" | "no-eku" | "revoked";
type Outcome = { answered: "success" | "unverified" | "none" } | { refused: string };

const ok = (answered: "success" | "unverified" | "none"): Outcome => ({ answered });
const refused = (reason: string): Outcome => ({ refused: reason });

/** The issue's matrix: each certificate, in each mode. */
const EXPECTED: Record<string, Record<CertCase, Outcome>> = {
  off: { none: ok("none"), valid: ok("none"), untrusted: ok("none"), expired: ok("none"), "not-yet-valid": ok("none"), "no-client-auth": ok("none"), "no-eku": ok("none"), revoked: ok("none") },
  optional: {
    none: ok("none"),
    valid: ok("success"),
    untrusted: refused("client-cert-untrusted"),
    expired: refused("client-cert-expired"),
    "not-yet-valid": refused("client-cert-not-yet-valid"),
    "no-client-auth": refused("client-cert-wrong-usage"),
    "no-eku": refused("client-cert-wrong-usage"),
    revoked: refused("client-cert-revoked"),
  },
  required: {
    none: refused("client-cert-missing"),
    valid: ok("success"),
    untrusted: refused("client-cert-untrusted"),
    expired: refused("client-cert-expired"),
    "not-yet-valid": refused("client-cert-not-yet-valid"),
    "no-client-auth": refused("client-cert-wrong-usage"),
    "no-eku": refused("client-cert-wrong-usage"),
    revoked: refused("client-cert-revoked"),
  },
  passthrough: {
    none: ok("none"),
    valid: ok("unverified"),
    untrusted: ok("unverified"),
    expired: ok("unverified"),
    "not-yet-valid": ok("unverified"),
    "no-client-auth": ok("unverified"),
    "no-eku": ok("unverified"),
    revoked: ok("unverified"),
  },
};

describe("viewer mTLS: each certificate in each mode", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  const certs = {} as Record<Exclude<CertCase, "none">, ViewerCert>;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const [partners, strangers] = await Promise.all([createViewerCa("Partner CA"), createViewerCa("Stranger CA")]);
    [certs.valid, certs.untrusted, certs.expired, certs["not-yet-valid"], certs["no-client-auth"], certs["no-eku"], certs.revoked] = await Promise.all([
      partners.issue("valid", "alice"),
      strangers.issue("valid", "mallory"),
      partners.issue("expired", "old"),
      partners.issue("not-yet-valid", "early"),
      partners.issue("server-auth-only", "server"),
      partners.issue("no-eku", "legacy"),
      partners.issue("valid", "revoked"),
    ]);
    files = await createFileDir();
    const caBundle = await files.write("partners.pem", partners.certPem);
    const crl = await files.write("partners.crl", await partners.crl([certs.revoked.serialHex]));
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const distribution = (id: string, viewerMtls: Record<string, unknown>) => ({ id, aliases: [`${id}.test`], viewerMtls, origins: [{ id: "app", url: origin.url }] });
    edge = await startTestEdge(ca, {
      trustStores: { partners: { caBundle, crl } },
      distributions: [
        distribution("off", { mode: "off" }),
        distribution("optional", { mode: "optional", trustStore: "partners" }),
        distribution("required", { mode: "required", trustStore: "partners" }),
        distribution("passthrough", { mode: "passthrough" }),
      ],
    });
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  for (const [mode, cases] of Object.entries(EXPECTED)) {
    for (const [certCase, expected] of Object.entries(cases) as [CertCase, Outcome][]) {
      const what = "answered" in expected ? `answered (${expected.answered})` : `refused: ${expected.refused}`;
      test(`${mode} with ${certCase === "none" ? "no certificate" : `a certificate that is ${certCase}`}: ${what}`, async () => {
        const cert = certCase === "none" ? undefined : certs[certCase];
        const originHits = origin.seen.length;
        const answer = await mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: `${mode}.test`, path: `/${mode}/${certCase}`, cert });
        if ("refused" in expected) {
          assert.ok(isRefusal(answer), `expected the connection to be refused, got ${JSON.stringify(!isRefusal(answer) && answer.status)}`);
          // A TLS alert in the handshake; the client may see the TCP reset that follows it instead, so the record below is what proves it.
          if (certCase === "none") assert.match(answer.error.message, /alert certificate required|ECONNRESET|socket hang up/);
          const record = await within(
            edge.waitForLog((line) => line.msg === "viewer handshake refused" && line.distribution === mode && line.reason === expected.refused && (cert ? (line.clientCert as { serial?: string } | undefined)?.serial === cert.serialHex : true)),
            `a ${expected.refused} connection record; last lines: ${JSON.stringify(edge.logs.slice(-2))}`,
          );
          if (cert) {
            const logged = record.clientCert as Record<string, string>;
            assert.match(logged.subject ?? "", new RegExp(`CN=${cert.subject.match(/CN=([^,]+)/)?.[1]}`));
            assert.match(logged.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
          }
          assert.equal(origin.seen.length, originHits, "a refused viewer never reaches the origin");
          return;
        }
        assert.ok(!isRefusal(answer), `expected an answer, got ${isRefusal(answer) ? answer.error.message : ""}`);
        assert.equal(answer.status, 200, answer.body);
        const seen = origin.seen.at(-1);
        assert.equal(seen?.url, `/${mode}/${certCase}`);
        const headers = seen?.headers ?? {};
        if (mode === "off") {
          assert.ok(!Object.keys(headers).some((name) => name.startsWith("moat-viewer-cert-") || name === "client-cert"), "an off distribution tells the origin nothing about certificates");
        } else {
          assert.equal(headers["moat-viewer-cert-verify"], expected.answered);
          assert.equal(headers["moat-viewer-cert-present"], cert ? "true" : "false");
          if (cert) {
            assert.equal(headers["moat-viewer-cert-serial"], cert.serialHex);
            assert.ok(headers["client-cert"], "RFC 9440 Client-Cert is sent");
          }
        }
        const line = await within(edge.waitForLog((l) => l.msg === "request" && l.path === `/${mode}/${certCase}`), "the request's log line");
        if (mode === "off") assert.equal(line.clientCert, undefined);
        else assert.equal((line.clientCert as { verify: string }).verify, expected.answered);
        if (cert && mode !== "off") assert.equal((line.clientCert as { serial: string }).serial, cert.serialHex);
      });
    }
  }

  test("an off distribution sends no CertificateRequest: a client certificate offered is never seen", async () => {
    const answer = await mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, servername: "off.test", path: "/offered", cert: certs.valid });
    assert.ok(!isRefusal(answer));
    assert.equal(answer.status, 200);
    const line = await within(edge.waitForLog((l) => l.msg === "request" && l.path === "/offered"), "the request's log line");
    assert.equal(line.clientCert, undefined);
  });
});
