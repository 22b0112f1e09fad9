// Viewer mTLS over time: trust stores replaced at run time (and refused when bad), a resumed TLS session checked against the certificate of its first handshake, and connections and sessions of a changed policy sent back to a full handshake.
import assert from "node:assert/strict";
import { rename, writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { Client } from "undici";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { isRefusal, mtlsRequest, within } from "../support/mtls-viewer.ts";
import type { MtlsAnswer, MtlsRequest } from "../support/mtls-viewer.ts";
import { createFileDir, createViewerCa } from "../support/viewer-pki.ts";
import type { ViewerCa, ViewerCert } from "../support/viewer-pki.ts";

describe("viewer mTLS: reloads, revocations and resumed sessions", () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: TestEdge;
  let files: Awaited<ReturnType<typeof createFileDir>>;
  let partners: ViewerCa;
  let others: ViewerCa;
  let alice: ViewerCert;
  let bob: ViewerCert;
  let input: Record<string, any>;
  const paths = {} as Record<"partnersBundle" | "partnersCrl" | "rotatingBundle", string>;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    [partners, others] = await Promise.all([createViewerCa("Partner CA"), createViewerCa("Other CA")]);
    [alice, bob] = await Promise.all([partners.issue("valid", "alice"), others.issue("valid", "bob")]);
    files = await createFileDir();
    paths.partnersBundle = await files.write("partners.pem", partners.certPem);
    paths.partnersCrl = await files.write("partners.crl", await partners.crl([]));
    paths.rotatingBundle = await files.write("rotating.pem", partners.certPem);
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    const app = [{ id: "app", url: origin.url }];
    input = {
      trustStores: { partners: { caBundle: paths.partnersBundle, crl: paths.partnersCrl }, rotating: { caBundle: paths.rotatingBundle } },
      distributions: [
        { id: "api", aliases: ["api.test"], viewerMtls: { mode: "required", trustStore: "partners" }, origins: app },
        { id: "b2b", aliases: ["b2b.test"], viewerMtls: { mode: "required", trustStore: "rotating" }, origins: app },
      ],
    };
    edge = await startTestEdge(ca, input);
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await files?.remove();
  });

  const request = (r: Omit<MtlsRequest, "port" | "caPem">) => mtlsRequest({ port: edge.edge.httpsPort, caPem: ca.bundlePem, ...r });

  async function answered(r: Omit<MtlsRequest, "port" | "caPem">): Promise<MtlsAnswer> {
    const answer = await request(r);
    assert.ok(!isRefusal(answer), `expected an answer, got ${isRefusal(answer) ? answer.error.message : ""}`);
    return answer;
  }

  /** Replaces a file the way a CRL fetcher or `mv` does (a rename), then waits for the edge's rebuild or refusal. */
  async function replace(file: string, text: string, outcome: "snapshot applied" | "the changed file was refused"): Promise<Record<string, unknown>> {
    const seen = edge.logs.length;
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
    return within(
      edge.waitForLog((line) => edge.logs.indexOf(line) >= seen && String(line.msg).startsWith(outcome)),
      `"${outcome}" after replacing ${file}`,
    );
  }

  test("a resumed session keeps its first handshake's certificate, and one revoked since is refused", async () => {
    const first = await answered({ servername: "api.test", path: "/first", cert: alice });
    assert.equal(first.status, 200);
    assert.ok(first.session, "the edge issues a session ticket");
    const resumed = await answered({ servername: "api.test", path: "/resumed", cert: alice, session: first.session });
    assert.equal(resumed.status, 200);
    assert.equal(resumed.isResumed, true, "the session resumed");
    const line = await within(edge.waitForLog((l) => l.msg === "request" && l.path === "/resumed"), "the resumed request's log line");
    assert.equal((line.clientCert as { serial: string }).serial, alice.serialHex, "the resumed connection is still alice's");

    await replace(paths.partnersCrl, await partners.crl([alice.serialHex]), "snapshot applied");
    const hits = origin.seen.length;
    const afterRevocation = await request({ servername: "api.test", path: "/after-revocation", cert: alice, session: resumed.session ?? first.session });
    assert.ok(isRefusal(afterRevocation), "a session whose certificate was revoked since is refused");
    const record = await within(
      edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.reason === "client-cert-revoked" && l.resumed === true),
      "the refusal of the resumed session",
    );
    assert.equal((record.clientCert as { serial: string }).serial, alice.serialHex);
    assert.equal(origin.seen.length, hits);
    // And a fresh handshake with that certificate fails in OpenSSL's own CRL check.
    assert.ok(isRefusal(await request({ servername: "api.test", path: "/fresh-after-revocation", cert: alice })));
    await replace(paths.partnersCrl, await partners.crl([]), "snapshot applied");
  });

  test("a CA bundle replaced at run time takes effect for new handshakes, without a restart", async () => {
    assert.equal((await answered({ servername: "b2b.test", path: "/alice-before", cert: alice })).status, 200);
    assert.ok(isRefusal(await request({ servername: "b2b.test", path: "/bob-before", cert: bob })));
    await replace(paths.rotatingBundle, others.certPem, "snapshot applied");
    assert.equal((await answered({ servername: "b2b.test", path: "/bob-after", cert: bob })).status, 200);
    assert.ok(isRefusal(await request({ servername: "b2b.test", path: "/alice-after", cert: alice })), "the old CA is no longer trusted");
    await within(edge.waitForLog((l) => l.msg === "viewer handshake refused" && l.reason === "client-cert-untrusted" && (l.clientCert as { serial?: string })?.serial === alice.serialHex), "alice's refusal");
    await replace(paths.rotatingBundle, partners.certPem, "snapshot applied");
  });

  test("a bad bundle is refused with its entry named, and the running store stays", async () => {
    const refused = await replace(paths.rotatingBundle, partners.certPem + alice.certPem, "the changed file was refused");
    const message = (refused.error as { message: string }).message;
    assert.match(message, /trustStores\.rotating\.caBundle/);
    assert.match(message, /PEM block 2 \(.*CN=alice\) is not a CA certificate/);
    assert.equal((refused.error as { code: string }).code, "trust-store-invalid");
    assert.equal((await answered({ servername: "b2b.test", path: "/still-alice", cert: alice })).status, 200, "the previous store still verifies");
    assert.ok(isRefusal(await request({ servername: "b2b.test", path: "/still-not-bob", cert: bob })));
    await replace(paths.rotatingBundle, partners.certPem, "snapshot applied");
  });

  test("after a change of certificate policy, old sessions do not resume and open connections must reconnect (421)", async () => {
    const first = await answered({ servername: "api.test", path: "/before-policy", cert: alice });
    const keepAlive = new Client(`https://127.0.0.1:${edge.edge.httpsPort}`, { connect: { ca: ca.bundlePem, servername: "api.test", cert: alice.chainPem, key: alice.keyPem } });
    try {
      const open = await keepAlive.request({ path: "/open", method: "GET", headers: { host: "api.test" } });
      await open.body.text();
      assert.equal(open.statusCode, 200);
      const changed = structuredClone(input);
      changed.distributions[0].viewerMtls = { mode: "optional", trustStore: "partners" };
      await edge.reload(changed);
      const again = await keepAlive.request({ path: "/open-again", method: "GET", headers: { host: "api.test" } });
      await again.body.text();
      assert.equal(again.statusCode, 421);
      assert.equal(again.headers["moat-error"], "viewer-policy-changed");
      const fresh = await answered({ servername: "api.test", path: "/after-policy", cert: alice, session: first.session });
      assert.equal(fresh.status, 200);
      assert.equal(fresh.isResumed, false, "session tickets from before the change are not honoured");
    } finally {
      await keepAlive.close();
      await edge.reload(input);
    }
  });
});
