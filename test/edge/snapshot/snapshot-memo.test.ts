// Distributions that import the same files share one read, one check and one SecureContext per snapshot build; each is still checked for its own names, each refusal names its own place, and the next build reads the files again.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../../../src/config/index.ts";
import { buildEdgeSnapshot, checkImportedCertificates, createSnapshotMemo } from "../../../src/edge/index.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, generateMasterKey } from "../../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../../src/pki/index.ts";
import { DAY_MS, originIdentity } from "../../pki/import/import-fixtures.ts";
import { startTestEdge } from "../../support/test-edge.ts";

/** The serial of the certificate the edge serves for `servername`, on a fresh verified connection. */
function servedSerial(port: number, servername: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: caPem, ALPNProtocols: ["http/1.1"] }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber.toLowerCase() ?? "";
      socket.end();
      resolve(serial);
    });
    socket.once("error", reject);
  });
}

describe("snapshot memo", () => {
  let moatCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let dir: string;
  let wildcard: IssuedCertificate;
  let other: IssuedCertificate;
  const file = (name: string) => join(dir, name);
  const write = (name: string, content: string) => writeFile(file(name), content, { mode: 0o600 });
  // Nothing listens there: origin pools are made at the first request, and no request is made.
  const distribution = (id: string, alias: string, cert = "wild.pem", key = "wild.key") => ({
    id,
    aliases: [alias],
    viewerCertificate: { cert: file(cert), key: file(key) },
    origins: [{ id: "api", url: "https://127.0.0.1:9", mtls: { clientCertificate: { cert: file("client.pem"), key: file("client.key") } } }],
  });
  const configOf = (distributions: unknown[]) => parseConfig({ dataDir: join(dir, "data"), listen: { host: "127.0.0.1", https: 0, http: "off" }, distributions }, { source: "test", baseDir: dir });
  const build = (config: ReturnType<typeof configOf>) => {
    const store = createIssuedCertificateStore({ ca: moatCa, dataDir: config.dataDir, masterKey: generateMasterKey() });
    return buildEdgeSnapshot(config, { ca: moatCa, caBundleFile: "bundle.pem", store, generation: 1, log: createLogger({ level: "silent" }), now: new Date() });
  };

  before(async () => {
    [moatCa, otherCa] = await Promise.all([createEphemeralCertificateAuthority({ name: "Moat Test" }), createEphemeralCertificateAuthority({ name: "Other" })]);
    dir = await mkdtemp(join(tmpdir(), "moat-memo-"));
    [wildcard, other] = await Promise.all([
      otherCa.issueServerCertificate({ dnsNames: ["*.shared.test"], validityMs: 90 * DAY_MS }),
      otherCa.issueServerCertificate({ dnsNames: ["*.shared.test"], validityMs: 90 * DAY_MS }),
    ]);
    const client = await otherCa.issueOriginClientCertificate({ ...originIdentity, validityMs: 90 * DAY_MS });
    await Promise.all([
      write("wild.pem", wildcard.chainPem),
      write("wild.key", wildcard.keyPem),
      write("other.key", other.keyPem),
      write("client.pem", client.chainPem),
      write("client.key", client.keyPem),
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("distributions importing the same files share one read, one check and one SecureContext, and the next build reads them again", async () => {
    const config = configOf([distribution("a", "a.shared.test"), distribution("b", "b.shared.test"), distribution("c", "c.shared.test")]);
    const built = await build(config);
    try {
      const [a, b, c] = built.snapshot.distributions;
      assert.ok(a && b && c);
      assert.equal(b.secureContext, a.secureContext, "one SecureContext for the same certificate, key and TLS policy");
      assert.equal(c.secureContext, a.secureContext);
      assert.deepEqual(built.memoCounts, { fileReads: 4, imports: 2, secureContexts: 1, reusedSecureContexts: 0 }, "two files each for the viewer and the client certificate, each checked once");
      assert.deepEqual(built.imported.map((place) => place.path), [
        "distributions[0].viewerCertificate",
        "distributions[0].origins[0].mtls.clientCertificate",
        "distributions[1].viewerCertificate",
        "distributions[1].origins[0].mtls.clientCertificate",
        "distributions[2].viewerCertificate",
        "distributions[2].origins[0].mtls.clientCertificate",
      ], "every place is still watched for expiry");
    } finally {
      await Promise.all([...built.origins.values()].map((entry) => entry.client.close()));
    }

    // Per build, never global: a certificate replaced in its files is what the next build serves.
    await Promise.all([write("wild.pem", other.chainPem), write("wild.key", other.keyPem)]);
    try {
      const rebuilt = await build(config);
      assert.equal(rebuilt.memoCounts.fileReads, 4, "the next build reads the files again");
      assert.deepEqual(new Set(rebuilt.snapshot.distributions.map((d) => d.viewerCertificateSerial)), new Set([other.serialHex]));
      assert.notEqual(rebuilt.snapshot.distributions[0]?.secureContext, built.snapshot.distributions[0]?.secureContext);
      await Promise.all([...rebuilt.origins.values()].map((entry) => entry.client.close()));
    } finally {
      await Promise.all([write("wild.pem", wildcard.chainPem), write("wild.key", wildcard.keyPem)]);
    }
  });

  test("the shared certificate is checked against each distribution's own aliases", async () => {
    const config = configOf([distribution("a", "a.shared.test"), distribution("elsewhere", "shop.elsewhere.test"), distribution("c", "c.shared.test")]);
    await assert.rejects(build(config), (error: Error & { code?: string }) => {
      assert.equal(error.code, "import-names-not-covered");
      assert.ok(error.message.startsWith("distributions[1].viewerCertificate: import-names-not-covered: "), error.message);
      assert.match(error.message, /does not cover shop\.elsewhere\.test/);
      return true;
    });
  });

  test("a bad file shared by distributions is refused at each place that imports it, naming that place", async () => {
    const config = configOf([
      distribution("good", "good.shared.test"),
      distribution("b", "b.shared.test", "wild.pem", "other.key"),
      distribution("c", "c.shared.test", "wild.pem", "other.key"),
      distribution("d", "d.shared.test", "wild.pem", "missing.key"),
      distribution("e", "e.shared.test", "wild.pem", "missing.key"),
    ]);
    await assert.rejects(build(config), /^ImportedCertificateRefusedError: distributions\[1\]\.viewerCertificate: import-key-mismatch: /, "the first distribution with the bad file");
    const { problems } = await checkImportedCertificates(config);
    assert.equal(problems.length, 4, problems.join("\n"));
    assert.ok(problems[0]?.startsWith("distributions[1].viewerCertificate: import-key-mismatch: "), problems[0]);
    assert.ok(problems[1]?.startsWith("distributions[2].viewerCertificate: import-key-mismatch: "), problems[1]);
    assert.ok(problems[2]?.startsWith(`distributions[3].viewerCertificate.key: ${file("missing.key")}: cannot be read (ENOENT)`), problems[2]);
    assert.ok(problems[3]?.startsWith(`distributions[4].viewerCertificate.key: ${file("missing.key")}: cannot be read (ENOENT)`), problems[3]);
  });

  test("a context is found by its material's text, whether or not callers pass the same string objects; a file's text is read once", async () => {
    const memo = createSnapshotMemo();
    const [cert, key] = await Promise.all([memo.readText(file("wild.pem")), memo.readText(file("wild.key"))]);
    assert.equal(await memo.readText(file("wild.pem")), cert);
    // Copies made apart from the memo's strings: equal text, other objects.
    const copy = (text: string) => Buffer.from(text).toString("utf8");
    const first = memo.secureContext({ cert, key, minVersion: "TLSv1.3" });
    assert.equal(memo.secureContext({ cert: copy(cert), key: copy(key), minVersion: "TLSv1.3" }), first, "equal material, one context");
    const withCa = memo.secureContext({ cert, key, minVersion: "TLSv1.3", ca: otherCa.bundlePem });
    assert.notEqual(withCa, first, "a trust store makes another context");
    assert.equal(memo.secureContext({ cert, key, minVersion: "TLSv1.3", ca: copy(otherCa.bundlePem) }), withCa);
    assert.notEqual(memo.secureContext({ cert, key, minVersion: "TLSv1.2" }), first, "another minimum version makes another context");
    assert.notEqual(memo.secureContext({ cert: other.chainPem, key: other.keyPem, minVersion: "TLSv1.3" }), first, "another certificate makes another context");
    assert.deepEqual(memo.counts(), { fileReads: 2, imports: 0, secureContexts: 4, reusedSecureContexts: 0 });
    // The next build takes over each context made from the same text.
    const next = createSnapshotMemo({ previousContexts: memo.contexts() });
    assert.equal(next.secureContext({ cert: copy(cert), key: copy(key), minVersion: "TLSv1.3", ca: copy(otherCa.bundlePem) }), withCa);
    assert.deepEqual(next.counts(), { fileReads: 0, imports: 0, secureContexts: 0, reusedSecureContexts: 1 });
  });

  test("every alias of distributions sharing one context is served the shared certificate on real handshakes", async () => {
    const edge = await startTestEdge(moatCa, { distributions: [distribution("a", "a.shared.test"), distribution("b", "b.shared.test"), distribution("c", "c.shared.test")] });
    try {
      for (const alias of ["a.shared.test", "b.shared.test", "c.shared.test"]) {
        assert.equal(await servedSerial(edge.edge.httpsPort, alias, otherCa.bundlePem), wildcard.serialHex, alias);
      }
      await assert.rejects(servedSerial(edge.edge.httpsPort, "z.shared.test", otherCa.bundlePem), "an alias no distribution has gets no certificate");
    } finally {
      await edge.close();
    }
  });
});
