// The admin API follows a CA rotation without a restart: a server certificate from the new CA, admin certificates checked against its bundle.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { test } from "node:test";
import pino from "pino";
import { startAdminApi, storeDocumentValidator } from "../../src/control/index.ts";
import {
  activateRootRollover,
  DEFAULT_CA_ROTATION_POLICY,
  finishRootRollover,
  generateMasterKey,
  initCertificateAuthority,
  openCertificateAuthority,
  prepareRootRollover,
} from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { openStore } from "../../src/store/index.ts";
import { callApi } from "./admin-api-client.ts";

const masterKey = generateMasterKey();
const policy = { ...DEFAULT_CA_ROTATION_POLICY, rolloverOverlapMs: 3_600_000 };
const clock = () => new Date();

/** The leaf the API's TLS server presents to a new connection that trusts `caPem` (throws if it does not verify). */
function serverLeaf(port: number, caPem: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: caPem, timeout: 10_000 }, () => {
      const leaf = socket.getPeerX509Certificate();
      socket.destroy();
      if (leaf) resolve(leaf);
      else reject(new Error("no server certificate"));
    });
    socket.on("timeout", () => socket.destroy(new Error("the admin API did not finish the handshake in 10 s")));
    socket.on("error", reject);
  });
}

const adminCertificate = (ca: CertificateAuthority, name: string) => ca.issueAdminClientCertificate({ trustDomain: "moat.internal", role: "admin", name, validityMs: 3_600_000 });

test("a root rollover reaches the running admin API: its server certificate comes from the new intermediate, admin certificates of the new root are accepted, the old root's once it is dropped are not", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-api-ca-rotation-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = await initCertificateAuthority({ dataDir, masterKey });
  const store = await openStore({ address: `sqlite:${join(dataDir, "moat.db")}`, validate: storeDocumentValidator });
  t.after(() => store.close());
  const api = await startAdminApi({ store, ca: first, listen: { host: "127.0.0.1", port: 0 }, logger: pino({ level: "silent" }) });
  t.after(() => api.close());
  const call = (caPem: string, certificate: { chainPem: string; keyPem: string }) => callApi(api.url, caPem, { certificate }, "/distributions");

  const oldAdmin = await adminCertificate(first, "alice");
  assert.equal((await call(first.bundlePem, oldAdmin)).status, 200);

  await prepareRootRollover({ dataDir, masterKey, clock, policy });
  await activateRootRollover({ dataDir, masterKey, clock, policy });
  const activated = await openCertificateAuthority({ dataDir, masterKey });
  const newAdmin = await adminCertificate(activated, "bob");
  // Before the API hears of the rotation it knows only the old root: the new root's admin certificate does not verify.
  assert.equal((await call(activated.bundlePem, newAdmin)).status, 401);
  await assert.rejects(serverLeaf(api.port, activated.rootPem), "the server certificate still chains to the old root only");

  await api.useCa(activated);
  const leaf = await serverLeaf(api.port, activated.rootPem);
  assert.ok(leaf.checkIssued(new X509Certificate(activated.intermediatePem)), "a server certificate from the new intermediate");
  assert.equal((await call(activated.bundlePem, newAdmin)).status, 200, "an admin certificate of the new root");
  await assert.rejects(call(first.bundlePem, oldAdmin), /unable to get local issuer certificate|unable to verify/, "a client that trusts only the old root no longer verifies the server");
  assert.equal((await call(activated.bundlePem, oldAdmin)).status, 200, "the old root's admin certificate during the overlap");

  await finishRootRollover({ dataDir, masterKey, clock, policy });
  const finished = await openCertificateAuthority({ dataDir, masterKey });
  await api.useCa(finished);
  assert.equal((await call(finished.bundlePem, newAdmin)).status, 200);
  assert.equal((await call(finished.bundlePem, oldAdmin)).status, 401, "the dropped root's admin certificate is refused");
});
