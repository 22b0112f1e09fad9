// Stores of one process share what they opened: unchanged files are not opened again by the next build, and anything changed (files, mode, CA) is judged afresh.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test, type TestContext } from "node:test";
import { createEphemeralCertificateAuthority, createIssuedCertificateStore, createOpenedCertificates, generateMasterKey } from "../../src/pki/index.ts";
import type { CertificateAuthority, OpenedCertificates } from "../../src/pki/index.ts";

const HOUR_MS = 3_600_000;
const viewer = { name: "viewer-shop", dnsNames: ["shop.example.test"], validityMs: 3 * HOUR_MS };
const masterKey = generateMasterKey();

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
before(async () => {
  [ca, otherCa] = await Promise.all([createEphemeralCertificateAuthority(), createEphemeralCertificateAuthority()]);
});

/** A data directory, and a store per "build" over it, all sharing one `opened` (as an edge's builds do). */
async function setup(t: TestContext) {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-opened-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const opened: OpenedCertificates = createOpenedCertificates();
  const discarded: string[] = [];
  const build = (storeCa = ca, options: { isAlone?: boolean } = {}) =>
    createIssuedCertificateStore({ ca: storeCa, dataDir, masterKey, opened: options.isAlone ? undefined : opened, onDiscard: (_dir, reason) => discarded.push(reason) });
  return { dataDir, build, discarded };
}

test("the next build takes an unchanged stored certificate as this process opened it; a store of its own opens it again", async (t) => {
  const { build } = await setup(t);
  const issued = await build().serverCertificate(viewer);
  const first = await build().serverCertificate(viewer);
  assert.equal(first.serialHex, issued.serialHex);
  const second = await build().serverCertificate(viewer);
  assert.ok(second === first, "the very object the earlier build opened: not decrypted, parsed and verified again");
  const apart = await build(ca, { isAlone: true }).serverCertificate(viewer);
  assert.ok(apart !== first, "a store without the shared record opens the files itself");
  assert.ok(apart.serialHex === first.serialHex && apart.keyPem === first.keyPem && apart.chainPem === first.chainPem, "and finds the same certificate");
});

test("a key file made readable by others since the last build is refused, though its contents did not change", async (t) => {
  const { dataDir, build, discarded } = await setup(t);
  const issued = await build().serverCertificate(viewer);
  await build().serverCertificate(viewer);
  await chmod(join(dataDir, "certs", "server", "viewer-shop", issued.serialHex, "key.pem"), 0o644);
  const replaced = await build().serverCertificate(viewer);
  assert.notEqual(replaced.serialHex, issued.serialHex);
  assert.equal(discarded.length, 1, discarded.join("\n"));
  assert.match(discarded[0]!, /unreadable/);
});

test("a stored certificate whose files changed is opened again, and one whose issuer the CA no longer trusts is not reused", async (t) => {
  const { dataDir, build, discarded } = await setup(t);
  const issued = await build().serverCertificate(viewer);
  await build().serverCertificate(viewer);
  // Another certificate's chain under this key: the digest changes, the pair is checked again and refused.
  const other = await ca.issueServerCertificate({ dnsNames: ["shop.example.test"], validityMs: 3 * HOUR_MS });
  const chainFile = join(dataDir, "certs", "server", "viewer-shop", issued.serialHex, "chain.pem");
  await writeFile(chainFile, other.chainPem);
  const afterSwap = await build().serverCertificate(viewer);
  assert.notEqual(afterSwap.serialHex, issued.serialHex);
  assert.notEqual(afterSwap.serialHex, other.serialHex);
  assert.deepEqual(discarded, ["the key does not match the certificate"]);

  // The same files under a CA with another intermediate: what this process opened under the first CA does not stand.
  const underOther = await build(otherCa).serverCertificate(viewer);
  assert.notEqual(underOther.serialHex, afterSwap.serialHex);
  assert.deepEqual(discarded, ["the key does not match the certificate", "issued by another intermediate"]);
});
