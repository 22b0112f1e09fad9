// Imported certificates on real sockets: served to viewers and presented to origins, each bad import refused with its config path and code, re-imports swapped whole or not at all, expiry warned.
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../../src/config/index.ts";
import { buildEdgeSnapshot, runEdge } from "../../src/edge/index.ts";
import { ImportedCertificateRefusedError } from "../../src/errors.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, generateMasterKey } from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../src/pki/index.ts";
import { DAY_MS, HOUR_MS, keyAs, originIdentity, PASSPHRASE, pkcs12 } from "../pki/import/import-fixtures.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { viewerRequestWithSni } from "../support/viewer-client.ts";

const PEM_HOST = "pem.example.test";
const P12_HOST = "p12.example.test";

/** The serial of the certificate the edge serves for `servername`, on a fresh connection. */
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

describe("imported certificates", () => {
  // Moat's own CA (the origin's server certificate), and another CA whose certificates are imported.
  let moatCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let origin: TestOrigin;
  let dir: string;
  let clientCert: IssuedCertificate;
  const edges: TestEdge[] = [];

  const file = (name: string) => join(dir, name);
  const write = (name: string, content: string | Buffer) => writeFile(file(name), content, { mode: 0o600 });
  const serverCert = (dnsNames: string[], extra: { notBefore?: Date; notAfter?: Date; keyAlgorithm?: "rsa-2048" } = {}) =>
    otherCa.issueServerCertificate({ dnsNames, validityMs: 90 * DAY_MS, ...extra });
  const distribution = (id: string, host: string, viewerCertificate: unknown, clientCertificate: unknown = { cert: file("client.pem"), key: file("client.key") }) => ({
    id,
    aliases: [host],
    viewerCertificate,
    origins: [{ id: "api", url: origin.url, mtls: { clientCertificate } }],
  });
  const start = async (config: Record<string, unknown>) => {
    const edge = await startTestEdge(moatCa, config);
    edges.push(edge);
    return edge;
  };

  before(async () => {
    [moatCa, otherCa] = await Promise.all([createEphemeralCertificateAuthority({ name: "Moat Test" }), createEphemeralCertificateAuthority({ name: "Other" })]);
    dir = await mkdtemp(join(tmpdir(), "moat-imported-"));
    const originCert = await moatCa.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: HOUR_MS });
    // The origin trusts only the other CA: only the imported client certificate gets in.
    origin = await startTestOrigin({ certificate: originCert, clientCaPem: otherCa.bundlePem });
    clientCert = await otherCa.issueOriginClientCertificate({ ...originIdentity, validityMs: 90 * DAY_MS });
    await Promise.all([write("client.pem", clientCert.chainPem), write("client.key", keyAs(clientCert, "sec1")), write("passphrase", `${PASSPHRASE}\n`)]);
  });

  after(async () => {
    await Promise.all(edges.map((edge) => edge.close()));
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("serves a PEM certificate with an encrypted key and a PKCS#12, presents an imported client certificate, and warns of the one 5 days from expiry", async () => {
    const pemCert = await serverCert([PEM_HOST], { notAfter: new Date(Date.now() + 5 * DAY_MS) });
    const p12Cert = await serverCert([P12_HOST], { keyAlgorithm: "rsa-2048" });
    const { data } = await pkcs12(p12Cert.keyPem, [p12Cert.chainPem], PASSPHRASE, "modern");
    await Promise.all([write("pem.pem", pemCert.chainPem), write("pem.key", keyAs(pemCert, "pkcs8", "aes-256-cbc")), write("p12.p12", data)]);
    const edge = await start({
      distributions: [
        distribution("pem", PEM_HOST, { cert: file("pem.pem"), key: file("pem.key"), passphraseFile: file("passphrase") }),
        distribution("p12", P12_HOST, { pkcs12: file("p12.p12"), passphraseFile: file("passphrase") }),
      ],
    });
    const port = edge.edge.httpsPort;
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), pemCert.serialHex);
    assert.equal(await servedSerial(port, P12_HOST, otherCa.bundlePem), p12Cert.serialHex);

    const seenBefore = origin.seen.length;
    for (const host of [PEM_HOST, P12_HOST]) {
      const response = await viewerRequestWithSni(port, { caPem: otherCa.bundlePem, servername: host, host, path: "/hello" });
      assert.equal(response.status, 200, response.body);
    }
    assert.deepEqual(origin.seen.slice(seenBefore).map((seen) => seen.clientSerial), [clientCert.serialHex, clientCert.serialHex], "the origin saw the imported client certificate");

    const warning = await edge.waitForLog((line) => line.certificate === "distributions[0].viewerCertificate");
    assert.equal(warning.level, 40);
    assert.equal(warning.thresholdDays, 7);
    assert.equal(warning.serial, pemCert.serialHex);
    assert.deepEqual(warning.files, [file("pem.pem"), file("pem.key")]);
    assert.match(String(warning.msg), /expires in 4 days \(7-day warning\)/);
    assert.ok(!edge.logs.some((line) => line.certificate !== undefined && line.certificate !== "distributions[0].viewerCertificate"), "certificates with 90 days left do not warn");
    assert.ok(!JSON.stringify(edge.logs).includes(PASSPHRASE), "the passphrase never reaches the log");
  });

  test("each bad import refuses the config, at start and on reload, naming the config path and the check; the running config stays", async () => {
    const good = await serverCert([PEM_HOST]);
    const other = await serverCert([PEM_HOST]);
    const expired = await serverCert([PEM_HOST], { notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    const otherName = await serverCert(["elsewhere.example.test"]);
    const p12 = await pkcs12(good.keyPem, [good.chainPem], PASSPHRASE, "modern");
    await Promise.all([
      write("good.pem", good.chainPem),
      write("good.key", good.keyPem),
      write("good.enc.key", keyAs(good, "pkcs8", "aes-256-cbc")),
      write("good.p12", p12.data),
      write("other.key", other.keyPem),
      write("leaf-only.pem", good.certPem),
      write("expired.pem", expired.chainPem),
      write("expired.key", expired.keyPem),
      write("elsewhere.pem", otherName.chainPem),
      write("elsewhere.key", otherName.keyPem),
      write("wrong-passphrase", "not the passphrase\n"),
    ]);
    const viewer = (viewerCertificate: unknown) => ({ distributions: [distribution("shop", PEM_HOST, viewerCertificate)] });
    const client = (clientCertificate: unknown) => ({ distributions: [distribution("shop", PEM_HOST, { cert: file("good.pem"), key: file("good.key") }, clientCertificate)] });
    const V = "distributions[0].viewerCertificate";
    const C = "distributions[0].origins[0].mtls.clientCertificate";
    const cases: [string, Record<string, unknown>, string, string][] = [
      ["an expired certificate", viewer({ cert: file("expired.pem"), key: file("expired.key") }), V, "import-expired"],
      ["a key of another certificate", viewer({ cert: file("good.pem"), key: file("other.key") }), V, "import-key-mismatch"],
      ["a client certificate served to viewers", viewer({ cert: file("client.pem"), key: file("client.key") }), V, "import-wrong-usage"],
      ["a server certificate presented to an origin", client({ cert: file("good.pem"), key: file("good.key") }), C, "import-wrong-usage"],
      ["a leaf without its intermediate", viewer({ cert: file("leaf-only.pem"), key: file("good.key") }), V, "import-chain-broken"],
      ["SANs that miss an alias", viewer({ cert: file("elsewhere.pem"), key: file("elsewhere.key") }), V, "import-names-not-covered"],
      ["an encrypted key with the wrong passphrase", viewer({ cert: file("good.pem"), key: file("good.enc.key"), passphraseFile: file("wrong-passphrase") }), V, "import-passphrase-wrong"],
      ["an encrypted key without a passphrase", viewer({ cert: file("good.pem"), key: file("good.enc.key") }), V, "import-passphrase-missing"],
      ["a PKCS#12 with the wrong passphrase", viewer({ pkcs12: file("good.p12"), passphraseFile: file("wrong-passphrase") }), V, "import-passphrase-wrong"],
    ];

    const refusedAtStart = parseConfig(
      { dataDir: join(dir, "refused-data"), listen: { host: "127.0.0.1", https: 0, http: "off" }, ...cases[0]![1] },
      { source: "test", baseDir: dir },
    );
    await assert.rejects(runEdge({ config: refusedAtStart, ca: moatCa, masterKey: generateMasterKey(), log: createLogger({ level: "silent" }) }), (error: unknown) => {
      assert.ok(error instanceof ImportedCertificateRefusedError);
      assert.ok(error.message.startsWith(`${V}: import-expired: `), error.message);
      assert.ok(error.message.includes(`Files: ${file("expired.pem")}, ${file("expired.key")}.`), error.message);
      return true;
    });

    const edge = await start(viewer({ cert: file("good.pem"), key: file("good.key") }));
    const generation = edge.edge.current().generation;
    for (const [name, config, path, code] of cases) {
      await assert.rejects(edge.reload(config), (error: unknown) => {
        assert.ok(error instanceof ImportedCertificateRefusedError, `${name}: ${String(error)}`);
        assert.equal(error.code, code, `${name}: ${error.message}`);
        assert.ok(error.message.startsWith(`${path}: ${code}: `), `${name}: ${error.message}`);
        assert.ok(error.fix && error.fix.length > 0, `${name}: says how to fix it`);
        assert.ok(!error.message.includes(PASSPHRASE), `${name}: no passphrase in the message`);
        return true;
      });
    }
    assert.equal(edge.edge.current().generation, generation, "every refused reload left the running snapshot in place");
    assert.equal(await servedSerial(edge.edge.httpsPort, PEM_HOST, otherCa.bundlePem), good.serialHex);
  });

  test("re-importing over the same files swaps the certificate whole or not at all", async () => {
    const first = await serverCert([PEM_HOST]);
    const second = await serverCert([PEM_HOST]);
    await Promise.all([write("live.pem", first.chainPem), write("live.key", first.keyPem)]);
    const config = { distributions: [distribution("shop", PEM_HOST, { cert: file("live.pem"), key: file("live.key") })] };
    const edge = await start(config);
    const port = edge.edge.httpsPort;
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), first.serialHex);

    // Half a replacement (the new certificate, the old key), as a reload between two copies would see it.
    await write("live.pem", second.chainPem);
    await assert.rejects(edge.reload(config), /distributions\[0\]\.viewerCertificate: import-key-mismatch: /);
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), first.serialHex, "a bad replacement keeps the old certificate serving");

    await write("live.key", second.keyPem);
    await edge.reload(config);
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), second.serialHex, "new connections get the new certificate");
  });

  test("replacing an imported certificate's files is enough: the edge rebuilds by itself, and a bad replacement is refused and logged", { timeout: 30_000 }, async () => {
    const first = await serverCert([PEM_HOST]);
    const renewed = await serverCert([PEM_HOST]);
    await Promise.all([write("watched.pem", first.chainPem), write("watched.key", first.keyPem)]);
    const edge = await start({ distributions: [distribution("shop", PEM_HOST, { cert: file("watched.pem"), key: file("watched.key") })] });
    const port = edge.edge.httpsPort;
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), first.serialHex);

    // As certbot or a deploy script does it: new files written aside, then renamed into place.
    const replaceBoth = async (cert: string, key: string) => {
      await Promise.all([write("watched.pem.new", cert), write("watched.key.new", key)]);
      await rename(file("watched.key.new"), file("watched.key"));
      await rename(file("watched.pem.new"), file("watched.pem"));
    };
    const seen = edge.logs.length;
    await replaceBoth(renewed.chainPem, renewed.keyPem);
    await edge.waitForLog((line) => edge.logs.indexOf(line) > seen && line.msg === "snapshot applied");
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), renewed.serialHex, "no SIGHUP, no config save");

    const before = edge.logs.length;
    await replaceBoth(first.chainPem, renewed.keyPem);
    const refused = await edge.waitForLog((line) => edge.logs.indexOf(line) > before && line.msg === "the changed file was refused; the running snapshot stays");
    assert.match(JSON.stringify(refused.error), /distributions\[0\]\.viewerCertificate: import-key-mismatch/);
    assert.equal(await servedSerial(port, PEM_HOST, otherCa.bundlePem), renewed.serialHex, "the running certificate keeps serving");
  });

  test("a certificate that expires in service stays when the edge rebuilds; another expired one at its place is refused", async () => {
    const [viewerCert, replacement] = await Promise.all([serverCert([PEM_HOST]), serverCert([PEM_HOST])]);
    await Promise.all([write("svc.pem", viewerCert.chainPem), write("svc.key", viewerCert.keyPem)]);
    const config = parseConfig(
      { dataDir: join(dir, "svc-data"), distributions: [distribution("shop", PEM_HOST, { cert: file("svc.pem"), key: file("svc.key") })] },
      { source: "test", baseDir: dir },
    );
    const store = createIssuedCertificateStore({ ca: moatCa, dataDir: config.dataDir, masterKey: generateMasterKey() });
    const sources = { ca: moatCa, caBundleFile: "bundle.pem", store, generation: 1, log: createLogger({ level: "silent" }), now: new Date() };
    const built = await buildEdgeSnapshot(config, sources);
    try {
      // 100 days on, both the viewer and the client certificate (90 days) have expired.
      const later = { ...sources, now: new Date(Date.now() + 100 * DAY_MS) };
      const rebuilt = await buildEdgeSnapshot(config, { ...later, previousOrigins: built.origins, previousImported: built.imported });
      assert.deepEqual(rebuilt.imported.map((c) => [c.path, c.serialHex]), [
        ["distributions[0].viewerCertificate", viewerCert.serialHex],
        ["distributions[0].origins[0].mtls.clientCertificate", clientCert.serialHex],
      ]);
      await assert.rejects(buildEdgeSnapshot(config, later), /^ImportedCertificateRefusedError: distributions\[0\]\.viewerCertificate: import-expired: /, "at start nothing is in service");
      await Promise.all([write("svc.pem", replacement.chainPem), write("svc.key", replacement.keyPem)]);
      await assert.rejects(
        buildEdgeSnapshot(config, { ...later, previousOrigins: built.origins, previousImported: built.imported }),
        /distributions\[0\]\.viewerCertificate: import-expired: /,
        "only the very certificate in service is kept",
      );
    } finally {
      await Promise.all([...built.origins.values()].map((entry) => entry.client.close()));
    }
  });
});
