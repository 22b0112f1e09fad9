// A running edge follows its CA without a restart: a renewed intermediate issues its next certificates; a root rollover's prepare and finish change only what peers trust (no certificate re-issued), activate re-issues them all.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { activateRootRollover, DEFAULT_CA_ROTATION_POLICY, finishRootRollover, generateMasterKey, initCertificateAuthority, openCertificateAuthority, prepareRootRollover, renewIntermediate, readCaBundle } from "../../src/pki/index.ts";
import { withDeadline } from "../support/deadline.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

/** Every certificate slot under certs/ and the serial its `active` pointer names. */
async function activeSerials(dataDir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const walk = async (dir: string, name: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${name}/${entry.name}`);
      else if (entry.name === "active") found[name] = (await readFile(join(dir, entry.name), "utf8")).trim();
    }
  };
  await walk(join(dataDir, "certs"), "");
  return found;
}

/** Waits for the edge's `nth` CA change and the rebuild that follows it; resolves with the change's log line. */
async function rebuiltAfterCaChange(edge: TestEdge, nth: number): Promise<Record<string, unknown>> {
  const isChange = (l: Record<string, unknown>) => l.msg === "the CA changed";
  const change = await withDeadline(`CA change ${nth}`, edge.waitForLog((l) => isChange(l) && edge.logs.filter(isChange).indexOf(l) === nth - 1), 10_000);
  const at = edge.logs.indexOf(change);
  await withDeadline(`the rebuild after CA change ${nth}`, edge.waitForLog((l) => l.msg === "snapshot applied" && edge.logs.indexOf(l) > at), 10_000);
  return change;
}

test("prepare and finish of a root rollover update the trust without re-issuing; activate re-issues from the new intermediate", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-rollover-reissue-"));
  const masterKey = generateMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  const origin = https.createServer({ key: serverCertificate.keyPem, cert: serverCertificate.chainPem }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const edge = await startTestEdge(ca, { distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: `https://localhost:${(origin.address() as AddressInfo).port}` }] }] }, { dataDir, masterKey });
  // One hook, in order: the edge stops writing to dataDir before it is removed.
  t.after(async () => {
    await edge.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });
  const get = async (caPem: string) => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem, servername: "shop.test" });
    try {
      return (await viewerRequest(client, { path: "/", host: "shop.test" })).status;
    } finally {
      await client.close();
    }
  };
  assert.equal(await get(ca.bundlePem), 200);
  const initial = await activeSerials(dataDir);
  assert.ok(Object.keys(initial).length >= 2, `the viewer and the origin client certificates: ${JSON.stringify(initial)}`);
  const policy = DEFAULT_CA_ROTATION_POLICY;

  await prepareRootRollover({ dataDir, masterKey, clock: () => new Date(), policy });
  const prepared = await rebuiltAfterCaChange(edge, 1);
  assert.equal(prepared.roots, 2);
  assert.equal(prepared.isIssuerChanged, false);
  assert.deepEqual(await activeSerials(dataDir), initial, "prepare adds a root to the bundle: no certificate is re-issued");
  const overlap = await readCaBundle(dataDir);
  assert.equal(await get(overlap), 200);

  await activateRootRollover({ dataDir, masterKey, clock: () => new Date(), policy });
  assert.equal((await rebuiltAfterCaChange(edge, 2)).isIssuerChanged, true);
  const activated = await activeSerials(dataDir);
  for (const [slot, serial] of Object.entries(initial)) assert.notEqual(activated[slot], serial, `${slot}: re-issued from the new intermediate`);
  assert.equal(await get(overlap), 200);
  // As `moat ca rollover --help` says: origin server certificates move to the new root before --finish.
  const renewedServer = await (await openCertificateAuthority({ dataDir, masterKey })).issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  origin.setSecureContext({ key: renewedServer.keyPem, cert: renewedServer.chainPem });

  await finishRootRollover({ dataDir, masterKey, clock: () => new Date(), policy: { ...policy, rolloverOverlapMs: 0 } });
  const finished = await rebuiltAfterCaChange(edge, 3);
  assert.equal(finished.roots, 1);
  assert.equal(finished.isIssuerChanged, false);
  assert.deepEqual(await activeSerials(dataDir), activated, "finish drops the old root from the bundle: no certificate is re-issued");
  assert.equal(await get(await readCaBundle(dataDir)), 200);
});

test("a running edge picks up an intermediate renewed by `moat ca renew-intermediate`, without a restart", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-intermediate-renewal-"));
  const masterKey = generateMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  const serverCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
  // The origin records the intermediate that issued each client certificate it was shown.
  const issuers: string[] = [];
  const origin = https.createServer({ key: serverCertificate.keyPem, cert: serverCertificate.chainPem, ca: ca.bundlePem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    issuers.push(String((req.socket as TLSSocket).getPeerCertificate().issuer?.CN));
    res.end("ok");
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const edge = await startTestEdge(ca, { distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: `https://localhost:${(origin.address() as AddressInfo).port}` }] }] }, { dataDir, masterKey });
  // One hook, in order: the edge stops writing to dataDir before it is removed.
  t.after(async () => {
    await edge.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  });
  const get = async () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      return (await viewerRequest(client, { path: "/", host: "shop.test" })).status;
    } finally {
      await client.close();
    }
  };
  assert.equal(await get(), 200);
  const initial = await activeSerials(dataDir);

  // What `moat ca renew-intermediate` does, from the edge's point of view another process writing ca/.
  await renewIntermediate({ dataDir, masterKey, clock: () => new Date(), policy: DEFAULT_CA_ROTATION_POLICY });
  const change = await rebuiltAfterCaChange(edge, 1);
  assert.equal(change.isIssuerChanged, true);
  assert.match(String(change.intermediate), /Moat Intermediate CA G2/);
  const renewed = await activeSerials(dataDir);
  for (const [slot, serial] of Object.entries(initial)) assert.notEqual(renewed[slot], serial, `${slot}: re-issued from the renewed intermediate`);
  assert.equal(await get(), 200);
  assert.deepEqual([issuers[0], issuers.at(-1)], ["Moat Intermediate CA", "Moat Intermediate CA G2"], "the origin sees the renewed intermediate's certificate");
});
