// CA rotation reaches a running edge: a root rollover under load fails no request, an origin that took the new bundle sees the new chain, one that did not keeps the old certificate; an overdue intermediate renews before the edge serves.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import {
  activateRootRollover,
  DEFAULT_CA_ROTATION_POLICY,
  generateMasterKey,
  initCertificateAuthority,
  openCertificateAuthority,
  prepareRootRollover,
  readCaBundle,
} from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate, MasterKey } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";

interface Origin {
  server: https.Server;
  port: number;
  /** The CN of the intermediate that issued each request's client certificate, as the origin saw it. */
  issuers: string[];
  trust(bundlePem: string): void;
}

async function startOrigin(certificate: IssuedCertificate, bundlePem: string): Promise<Origin> {
  const issuers: string[] = [];
  const options = (ca: string) => ({ key: certificate.keyPem, cert: certificate.chainPem, ca, requestCert: true, rejectUnauthorized: true });
  const server = https.createServer(options(bundlePem), (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    issuers.push(String(peer.issuer?.CN));
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, issuers, trust: (pem) => server.setSecureContext(options(pem)) };
}

async function closeOrigin(origin: Origin): Promise<void> {
  origin.server.closeAllConnections();
  await new Promise<void>((resolve) => origin.server.close(() => resolve()));
}

/** GET through the edge on a new connection (agent: false), trusting `caPem`; resolves with the status or the error's message. */
function viewerGet(port: number, host: string, caPem: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get({ host: "127.0.0.1", port, servername: host, ca: caPem, path: "/", headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", (error) => resolve(error.message));
  });
}

describe("a root rollover in a running edge", () => {
  let dataDir: string;
  let masterKey: MasterKey;
  let ca: CertificateAuthority;
  let updated: Origin;
  let stale: Origin;
  let edge: TestEdge;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "moat-ca-rollover-"));
    masterKey = generateMasterKey();
    ca = await initCertificateAuthority({ dataDir, masterKey });
    const server = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    updated = await startOrigin(server, ca.bundlePem);
    stale = await startOrigin(server, ca.bundlePem);
    const distribution = (id: string, origin: Origin) => ({ id, aliases: [`${id}.test`], origins: [{ id: "api", url: `https://localhost:${origin.port}` }] });
    edge = await startTestEdge(ca, { distributions: [distribution("updated", updated), distribution("stale", stale)] }, { dataDir, masterKey });
  });

  after(async () => {
    await edge.close();
    await Promise.all([closeOrigin(updated), closeOrigin(stale)]);
    await rm(dataDir, { recursive: true, force: true });
  });

  test("no request fails; the origin that trusts the new root gets the new chain, the other keeps the old certificate", async () => {
    const policy = DEFAULT_CA_ROTATION_POLICY;
    let viewerTrust = ca.bundlePem;
    const failures: string[] = [];
    let requests = 0;
    let isLoading = true;
    // Bounded: stops when the test says so, and after 2000 requests at most.
    const load = (async () => {
      while (isLoading && requests < 2000) {
        for (const host of ["updated.test", "stale.test"]) {
          requests++;
          const status = await viewerGet(edge.edge.httpsPort, host, viewerTrust);
          if (status !== 200) failures.push(`${host}: ${status}`);
        }
      }
    })();

    await prepareRootRollover({ dataDir, masterKey, clock: () => new Date(), policy });
    await edge.waitForLog((l) => l.msg === "the CA changed" && l.roots === 2);
    // Operators hand the overlap bundle to viewers and to the origins they run; one origin is forgotten.
    const overlap = await readCaBundle(dataDir);
    viewerTrust = overlap;
    updated.trust(overlap);

    await activateRootRollover({ dataDir, masterKey, clock: () => new Date(), policy });
    const renewed = await edge.waitForLog((l) => l.msg === "origin client certificate renewed" && l.distribution === "updated");
    assert.equal(renewed.probe, "accepted");
    const refused = await edge.waitForLog((l) => l.msg === "renewed origin client certificate refused by the origin; the current certificate stays in use until it expires");
    assert.equal(refused.distribution, "stale");
    assert.match(String(refused.reason), /client certificate/);
    // The renewal is logged while the snapshot is built; traffic moves once it is applied.
    const builtAt = edge.logs.indexOf(refused);
    await edge.waitForLog((l) => l.msg === "snapshot applied" && edge.logs.indexOf(l) > builtAt);
    const before = requests;
    // Traffic after the switch, then stop.
    while (requests < before + 40 && failures.length === 0) await new Promise((resolve) => setImmediate(resolve));
    isLoading = false;
    await load;

    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.equal(updated.issuers.at(-1), "Moat Intermediate CA G2", "the updated origin sees the new intermediate");
    assert.equal(stale.issuers.at(-1), "Moat Intermediate CA", "the forgotten origin still sees the old one");
    const viewerCert = await new Promise<X509Certificate>((resolve, reject) => {
      https.get({ host: "127.0.0.1", port: edge.edge.httpsPort, servername: "updated.test", ca: overlap, headers: { host: "updated.test" }, agent: false }, (res) => {
        resolve((res.socket as TLSSocket).getPeerX509Certificate()!);
        res.resume();
      }).on("error", reject);
    });
    assert.match(viewerCert.issuer, /Moat Intermediate CA G2/, "viewers get a certificate from the new root");
  });
});

test("an edge whose intermediate is past its renewal point renews it before it serves", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-ca-overdue-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  const fourYearsAgo = new Date(Date.now() - 4 * 365.25 * 86_400_000);
  await initCertificateAuthority({ dataDir, masterKey, clock: () => fourYearsAgo });
  const ca = await openCertificateAuthority({ dataDir, masterKey });
  const origin = await startOrigin(await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), ca.bundlePem);
  t.after(() => closeOrigin(origin));

  const edge = await startTestEdge(ca, { distributions: [{ id: "old", aliases: ["old.test"], origins: [{ id: "api", url: `https://localhost:${origin.port}` }] }] }, { dataDir, masterKey });
  t.after(() => edge.close());
  const renewed = edge.logs.findIndex((l) => l.step === "renew-intermediate");
  const listening = edge.logs.findIndex((l) => l.msg === "edge listening");
  assert.ok(renewed >= 0 && renewed < listening, "renewed before the edge listened");
  assert.equal(await viewerGet(edge.edge.httpsPort, "old.test", ca.bundlePem), 200);
  assert.deepEqual(origin.issuers, ["Moat Intermediate CA G2"], "the first certificate the origin ever saw is from the new intermediate");
});
