// Trust material as files are really written: a half-written bundle or CRL bundle (a copy in progress, a full disk) is refused with its path, never read as a shorter valid one.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { createGuardTrust } from "../../src/guard/index.ts";
import { GuardTrustInvalidError } from "../../src/errors.ts";
import { createGuardPki, requestWith } from "./guard-pki.ts";
import { startGuardFixture, withTimeout } from "./guard-fixture.ts";

/** The text up to the middle of the last PEM block: what a reader sees while the file is being written. */
function cutInLastBlock(pem: string): string {
  const lastBegin = pem.lastIndexOf("-----BEGIN ");
  return pem.slice(0, lastBegin + Math.floor((pem.length - lastBegin) / 2));
}

test("a PEM block cut short is refused with the file's path: the blocks before it are not taken for the whole file", async (t) => {
  const pki = await createGuardPki(t);
  const bundlePem = pki.ca.bundlePem + pki.ca.intermediatePem;
  const crlPem = await pki.crlBundle();
  assert.ok(createGuardTrust({ bundlePem, crlPem }));
  assert.throws(
    () => createGuardTrust({ bundlePem, crlPem: cutInLastBlock(crlPem), source: { crl: "/etc/moat-guard/crl-bundle.pem" } }),
    (error: unknown) => error instanceof GuardTrustInvalidError && /^\/etc\/moat-guard\/crl-bundle\.pem: PEM block 2 is cut short/.test(error.message),
  );
  assert.throws(
    () => createGuardTrust({ bundlePem: cutInLastBlock(bundlePem), crlPem, source: { bundle: "/etc/moat-guard/ca-bundle.pem" } }),
    (error: unknown) => error instanceof GuardTrustInvalidError && /^\/etc\/moat-guard\/ca-bundle\.pem: PEM block 2 is cut short/.test(error.message),
  );
});

test("the guard refuses to reload a half-written CRL bundle, says so in its log, and keeps admitting the edge with the CRLs it had", async (t) => {
  const pki = await createGuardPki(t);
  const { guard, files, waitForLog } = await startGuardFixture(t, pki);
  const edge = await pki.edge("shop");
  // The watch may also fire on the truncated, empty file first: wait for the refusal of the cut block.
  const logged = withTimeout("the refused reload", waitForLog((line) => line.msg === "reload refused; the guard keeps its current certificate, bundle and CRL" && /cut short/.test(String(line.detail))));
  // Written in place, as cp or scp do: the watch fires while the file holds part of its new text.
  await writeFile(files.crl as string, cutInLastBlock(await pki.crlBundle()));
  const line = await logged;
  assert.match(String(line.detail), /crl-bundle\.pem: PEM block 2 is cut short/);
  const answer = await requestWith({ port: guard.port, caPem: pki.ca.bundlePem, client: edge });
  assert.ok("status" in answer && answer.status === 200, JSON.stringify(answer));
});

test("a CRL file that lacks one CA's CRL is named at reload, with the CA and the fix, instead of showing only as refused handshakes", async (t) => {
  const pki = await createGuardPki(t);
  const { files, waitForLog } = await startGuardFixture(t, pki);
  const [intermediateCrl] = (await pki.crlBundle()).split(/(?<=-----END X509 CRL-----\n)/);
  const logged = withTimeout("the missing-CRL warning", waitForLog((line) => String(line.msg).startsWith("the CRL file has no CRL for these CAs")));
  // The intermediate's CRL alone: the root's is missing.
  await writeFile(files.crl as string, intermediateCrl ?? "");
  const line = await logged;
  assert.match(JSON.stringify(line.cas), /Moat Root CA/);
  assert.doesNotMatch(JSON.stringify(line.cas), /Intermediate/);
  assert.match(String(line.fix), /moat ca crl/);
});
