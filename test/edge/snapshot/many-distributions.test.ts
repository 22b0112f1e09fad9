// Hundreds of distributions on a few certificate files: each file read and checked once per build, contexts shared (and carried to the next build), SNI still picking each host's certificate, and start and rebuild lines of a bounded size.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../../../src/config/index.ts";
import { buildEdgeSnapshot } from "../../../src/edge/index.ts";
import { configuredFiles } from "../../../src/edge/snapshot/configured-files-watch.ts";
import type { BuiltSnapshot } from "../../../src/edge/index.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, generateMasterKey } from "../../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate } from "../../../src/pki/index.ts";
import { DAY_MS, originIdentity } from "../../pki/import/import-fixtures.ts";
import { startTestEdge } from "../../support/test-edge.ts";

/** Distributions per config: far more than the start line lists (10). */
const COUNT = 240;
/** Every 4th distribution verifies viewers against the trust store: same certificate, another context. */
const VERIFYING_EVERY = 4;

/** The certificate the edge serves for `servername`, on a fresh connection verified against `caPem`. */
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

describe("many distributions on a few certificates", () => {
  let moatCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let dir: string;
  const certificates: IssuedCertificate[] = [];
  const file = (name: string) => join(dir, name);
  // Distribution i: alias dI.gK.test on wildcard K = i mod 2; nothing listens at the origin (no request is made).
  const distributions = (count: number) =>
    Array.from({ length: count }, (_, index) => ({
      id: `d${index}`,
      aliases: [`d${index}.g${index % 2}.test`],
      viewerCertificate: { cert: file(`g${index % 2}.pem`), key: file(`g${index % 2}.key`) },
      ...(index % VERIFYING_EVERY === 0 ? { viewerMtls: { mode: "optional", trustStore: "partners" } } : {}),
      origins: [{ id: "api", url: "https://127.0.0.1:9", mtls: { clientCertificate: { cert: file("client.pem"), key: file("client.key") } } }],
    }));
  const input = (count: number) => ({ trustStores: { partners: { caBundle: file("partners.pem") } }, distributions: distributions(count) });

  before(async () => {
    [moatCa, otherCa] = await Promise.all([createEphemeralCertificateAuthority({ name: "Moat Test" }), createEphemeralCertificateAuthority({ name: "Other" })]);
    dir = await mkdtemp(join(tmpdir(), "moat-many-"));
    for (const group of [0, 1]) {
      const issued = await otherCa.issueServerCertificate({ dnsNames: [`*.g${group}.test`], validityMs: 90 * DAY_MS });
      certificates.push(issued);
      await writeFile(file(`g${group}.pem`), issued.chainPem);
      await writeFile(file(`g${group}.key`), issued.keyPem, { mode: 0o600 });
    }
    const client = await otherCa.issueOriginClientCertificate({ ...originIdentity, validityMs: 90 * DAY_MS });
    await writeFile(file("client.pem"), client.chainPem);
    await writeFile(file("client.key"), client.keyPem, { mode: 0o600 });
    await writeFile(file("partners.pem"), otherCa.bundlePem);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test(`a build of ${COUNT} distributions reads each file once, checks each certificate once and makes one context per distinct material; the next build carries the contexts over`, async () => {
    const config = parseConfig({ dataDir: file("data"), listen: { host: "127.0.0.1", https: 0, http: "off" }, ...input(COUNT) }, { source: "test", baseDir: dir });
    const build = (previous?: BuiltSnapshot) =>
      buildEdgeSnapshot(config, {
        ca: moatCa,
        caBundleFile: "bundle.pem",
        store: createIssuedCertificateStore({ ca: moatCa, dataDir: config.dataDir, masterKey: generateMasterKey() }),
        generation: previous ? 2 : 1,
        log: createLogger({ level: "silent" }),
        now: new Date(),
        previousOrigins: previous?.origins,
        previousImported: previous?.imported,
        previousContexts: previous?.secureContexts,
      });
    const first = await build();
    // Six files (two viewer certificates and keys, the client certificate and key), three imports (two viewer, one client),
    // three contexts: g0's certificate with and without the trust store (every 4th distribution is on g0), g1's without.
    assert.deepEqual(first.memoCounts, { fileReads: 6, imports: 3, secureContexts: 3, reusedSecureContexts: 0 });
    const [d0, d1, d2, , d4] = first.snapshot.distributions;
    assert.ok(d0 && d1 && d2 && d4);
    assert.equal(d4.secureContext, d0.secureContext, "same certificate, both verifying: one context");
    assert.notEqual(d2.secureContext, d0.secureContext, "same certificate, only d0 verifying: its own context (its CAs)");
    assert.notEqual(d1.secureContext, d0.secureContext, "another certificate");
    assert.equal(first.imported.length, 2 * COUNT, "every place is still watched for expiry");

    const second = await build(first);
    assert.deepEqual(second.memoCounts, { fileReads: 6, imports: 3, secureContexts: 0, reusedSecureContexts: 3 }, "the files are read and checked again; the contexts of the same material are taken over");
    assert.equal(second.snapshot.distributions[0]?.secureContext, d0.secureContext);
    await Promise.all([...first.origins.values(), ...second.origins.values()].map((entry) => entry.client.close()));
  });

  test(`the files ${COUNT} distributions name are watched once each: seven, not one per place that names them`, () => {
    const config = parseConfig({ dataDir: file("data"), listen: { host: "127.0.0.1", https: 0, http: "off" }, ...input(COUNT) }, { source: "test", baseDir: dir });
    // Every poll stats each watched file: with one entry per place, 10,000 distributions were 40,000 stats every 2 s.
    assert.deepEqual(configuredFiles(config).sort(), ["client.key", "client.pem", "g0.key", "g0.pem", "g1.key", "g1.pem", "partners.pem"].map(file).sort());
  });

  test("on a real edge, SNI picks each host's certificate, and the start and rebuild lines count the distributions instead of listing them all", async () => {
    const edge = await startTestEdge(moatCa, input(COUNT));
    try {
      const port = edge.edge.httpsPort;
      for (const index of [0, 1, 2, 3, COUNT / 2, COUNT / 2 + 1, COUNT - 2, COUNT - 1]) {
        const host = `d${index}.g${index % 2}.test`;
        assert.equal(await servedSerial(port, host, otherCa.bundlePem), certificates[index % 2]!.serialHex, host);
      }
      await assert.rejects(servedSerial(port, `d${COUNT}.g0.test`, otherCa.bundlePem), "a host no distribution has gets no certificate");

      const listening = await edge.waitForLog((line) => line.msg === "edge listening");
      assert.equal(listening.distributionCount, COUNT);
      assert.equal(listening.aliasCount, COUNT);
      assert.equal(listening.viewerCertificateCount, 2);
      assert.deepEqual((listening.distributions as Array<{ id: string }>).map((d) => d.id), ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"]);
      assert.equal(listening.distributionsNotListed, COUNT - 10);
      assert.equal(listening.originClientCount, COUNT);
      assert.equal((listening.originClients as unknown[]).length, 10);
      assert.equal(listening.originClientsNotListed, COUNT - 10);
      const listeningBytes = JSON.stringify(listening).length;
      assert.ok(listeningBytes < 5_000, `the start line is ${listeningBytes} bytes`);

      await edge.reload(input(COUNT * 2));
      const applied = await edge.waitForLog((line) => line.msg === "snapshot applied");
      assert.equal(applied.distributionCount, COUNT * 2);
      assert.equal(applied.distributionsNotListed, COUNT * 2 - 10);
      const appliedBytes = JSON.stringify(applied).length;
      assert.ok(appliedBytes < listeningBytes + 100, `twice the distributions, about the same line: ${appliedBytes} bytes against ${listeningBytes}`);
      const host = `d${COUNT * 2 - 1}.g1.test`;
      assert.equal(await servedSerial(port, host, otherCa.bundlePem), certificates[1]!.serialHex, `${host}, added by the reload`);
    } finally {
      await edge.close();
    }
  });
});
