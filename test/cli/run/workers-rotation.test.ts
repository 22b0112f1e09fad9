// `moat start` with workers: 2: what the primary watches (a trust store's CRL file, the CA on disk) reaches every worker:
// each rebuilds, and fresh connections to either worker see the change.
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { withTimeout } from "../../guard/guard-fixture.ts";
import { createTestMasterKey, type TestMasterKey } from "../../support/master-key.ts";
import { isRefusal, mtlsRequest } from "../../support/mtls-viewer.ts";
import { startTestOrigin, type TestOrigin } from "../../support/test-origin.ts";
import { createViewerCa, type ViewerCa, type ViewerCert } from "../../support/viewer-pki.ts";
import { isGroupAlive, runMoat, startMoat, type LogLine, type RunningMoat } from "../moat-process.ts";

describe("moat start with workers: 2, a CRL update and a CA rotation reach every worker", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let partners: ViewerCa;
  let alice: ViewerCert;
  let origin: TestOrigin;
  let moat: RunningMoat;
  let port: number;
  let crlFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-workers-rotation-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    partners = await createViewerCa("Partner CA");
    alice = await partners.issue("valid", "alice");
    await writeFile(join(dir, "partners.pem"), partners.certPem);
    crlFile = join(dir, "partners.crl");
    await writeFile(crlFile, await partners.crl([]));
    origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
    await writeFile(
      join(dir, "moat.yaml"),
      `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
trustStores:
  partners: { caBundle: ./partners.pem, crl: ./partners.crl }
distributions:
  - id: site
    aliases: [site.test]
    viewerMtls: { mode: required, trustStore: partners }
    origins: [{ id: app, url: "${origin.url}" }]
`,
    );
    moat = startMoat(["start", "--config", join(dir, "moat.yaml")], { cwd: dir, env: key.env, detached: true });
    const listening = await withTimeout("the workers to listen", moat.waitForLine("the workers to listen", (line) => line.msg === "edge listening"), 90_000);
    port = Number(listening.httpsPort);
  });

  after(async () => {
    if (moat?.child.pid && isGroupAlive(moat.child.pid)) process.kill(-moat.child.pid, "SIGKILL");
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function waitForEachWorker(what: string, start: number, predicate: (line: LogLine) => boolean): Promise<LogLine[]> {
    const found: LogLine[] = [];
    for (const worker of [1, 2]) found.push(await withTimeout(what, moat.waitForLine(`${what} (worker ${worker})`, (line) => moat.lines.indexOf(line) >= start && line.worker === worker && predicate(line)), 30_000));
    return found;
  }

  /** Fresh connections, one request each: consecutive connections go to alternate workers (cluster's round-robin). */
  async function aliceOnFreshConnections(prefix: string): Promise<{ answered: number; refused: number }> {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await mtlsRequest({ port, caPem: ca.bundlePem, servername: "site.test", path: `/${prefix}/${i}`, cert: alice }));
    return { answered: answers.filter((answer) => !isRefusal(answer) && answer.status === 200).length, refused: answers.filter(isRefusal).length };
  }

  test("a CRL file replaced at run time: every worker rebuilds, and neither accepts the revoked certificate", { timeout: 90_000 }, async () => {
    const before = moat.lines.length;
    assert.deepEqual(await aliceOnFreshConnections("crl-before"), { answered: 4, refused: 0 });
    await waitForEachWorker("alice's request", before, (line) => line.msg === "request" && String(line.path).startsWith("/crl-before/"));

    const start = moat.lines.length;
    await writeFile(`${crlFile}.tmp`, await partners.crl([alice.serialHex]));
    await rename(`${crlFile}.tmp`, crlFile);
    await waitForEachWorker("the rebuild", start, (line) => line.msg === "snapshot applied");
    assert.deepEqual(await aliceOnFreshConnections("crl-after"), { answered: 0, refused: 4 });
    await waitForEachWorker("the refusal", start, (line) => line.msg === "viewer handshake refused" && line.reason === "client-cert-revoked");

    const restored = moat.lines.length;
    await writeFile(`${crlFile}.tmp`, await partners.crl([]));
    await rename(`${crlFile}.tmp`, crlFile);
    await waitForEachWorker("the rebuild", restored, (line) => line.msg === "snapshot applied");
  });

  /** The serial of the certificate the edge presents on a fresh connection, and the path sent on it. */
  function presentedSerial(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, servername: "site.test", ca: ca.bundlePem, cert: alice.chainPem, key: alice.keyPem }, () => {
        const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
        socket.write(`GET ${path} HTTP/1.1\r\nhost: site.test\r\nconnection: close\r\n\r\n`);
        socket.on("data", () => {});
        socket.once("close", () => resolve(serial));
      });
      socket.once("error", reject);
    });
  }

  test("an intermediate renewed by `moat ca` in another process: every worker serves the certificate the primary re-issued", { timeout: 120_000 }, async () => {
    const serialOf = (line: LogLine) => (line.distributions as Array<{ viewerCertificateSerial: string }>)[0]!.viewerCertificateSerial.toLowerCase();
    const old = serialOf(moat.lines.filter((line) => line.worker === 0 && Array.isArray(line.distributions)).at(-1)!);
    const start = moat.lines.length;
    const run = await runMoat(["ca", "renew-intermediate", "--data-dir", join(dir, "data")], { cwd: dir, env: key.env });
    assert.equal(run.code, 0, run.stderr);
    const rebuilt = await waitForEachWorker("the rebuild on the new intermediate", start, (line) => line.msg === "snapshot applied" && serialOf(line) !== old);
    const renewed = serialOf(rebuilt[0]!);
    assert.equal(serialOf(rebuilt[1]!), renewed, "both workers took the one certificate the primary issued");

    const served = moat.lines.length;
    const serials = [];
    for (let i = 0; i < 4; i++) serials.push(await presentedSerial(`/ca-after/${i}`));
    // Serials compared as numbers: one side may print a leading zero the other leaves out.
    const asNumber = (serial: string) => serial.replace(/^0+/, "");
    assert.deepEqual(serials.map(asNumber), serials.map(() => asNumber(renewed)), "a connection got the old certificate");
    await waitForEachWorker("a request on the new certificate", served, (line) => line.msg === "request" && String(line.path).startsWith("/ca-after/"));
  });
});
