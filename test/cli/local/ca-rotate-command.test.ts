// `moat ca status`, `moat ca renew-intermediate` and `moat ca rollover` as real processes: each step in order, refusals out of order, what `moat ca bundle` prints at each step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestMasterKey } from "../../support/master-key.ts";
import { runMoat } from "../moat-process.ts";
import type { MoatRun } from "../moat-process.ts";

function assertExit(run: MoatRun, code: number): void {
  assert.equal(run.code, code, `expected exit code ${code}, got ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

const rootsIn = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;

test("a CA rotated step by step from the command line", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moat-ca-rotate-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = await createTestMasterKey();
  const dataDir = join(dir, "data");
  const moat = (...args: string[]) => runMoat([...args, "--data-dir", dataDir], { cwd: dir, env: key.env });
  const status = async () => JSON.parse((await moat("ca", "status", "--json")).stdout) as { bundleRoots: number; rollover: { phase: string } | null; certificates: { role: string; subject: string }[]; next: { step: string }[] };

  assertExit(await moat("ca", "init"), 0);
  const initial = await status();
  assert.equal(initial.bundleRoots, 1);
  assert.equal(initial.rollover, null);
  assert.deepEqual(initial.next.map((n) => n.step), ["renew-intermediate", "prepare-root-rollover"]);

  const outOfOrder = await moat("ca", "rollover", "--activate");
  assertExit(outOfOrder, 1);
  assert.match(outOfOrder.stderr, /no prepared root rollover to activate/);
  assert.match(outOfOrder.stderr, /moat ca rollover --prepare/);
  assert.doesNotMatch(outOfOrder.stderr, /\n\s+at /, "no stack trace");
  const both = await moat("ca", "rollover", "--prepare", "--activate");
  assertExit(both, 2);
  assert.match(both.stderr, /exactly one of --prepare, --activate or --finish/);

  const renewed = await moat("ca", "renew-intermediate");
  assertExit(renewed, 0);
  assert.match(renewed.stdout, /renewed the intermediate/);
  assert.ok((await status()).certificates.some((c) => c.role.startsWith("retired intermediate")));

  const prepared = await moat("ca", "rollover", "--prepare", "--overlap", "2h");
  assertExit(prepared, 0);
  assert.match(prepared.stdout, /holds both roots/);
  const overlapBundle = (await moat("ca", "bundle")).stdout;
  assert.equal(rootsIn(overlapBundle), 2, "moat ca bundle prints the old and the new root");
  const forGuards = (await moat("ca", "bundle", "--with-intermediate")).stdout;
  assert.equal(rootsIn(forGuards), 5, "for guards: both roots, the current and the retired intermediate, and the prepared one");
  assert.equal((await status()).rollover?.phase, "prepared");
  const listed = JSON.parse((await moat("certs", "list", "--json")).stdout) as { use: string; state: string; subject: string }[];
  const cas = listed.filter((e) => e.use.endsWith("-ca")).map((e) => `${e.use} ${e.state} ${e.subject}`).sort();
  assert.deepEqual(cas, [
    "intermediate-ca active CN=Moat Intermediate CA G2, O=Moat",
    "intermediate-ca next CN=Moat Intermediate CA G3, O=Moat",
    "intermediate-ca retired CN=Moat Intermediate CA, O=Moat",
    "root-ca active CN=Moat Root CA, O=Moat",
    "root-ca next CN=Moat Root CA G2, O=Moat",
  ], "moat certs list shows the pending and retired CA certificates");
  assertExit(await moat("ca", "rollover", "--prepare"), 1);

  assertExit(await moat("ca", "rollover", "--activate"), 0);
  const activated = await status();
  assert.equal(activated.rollover?.phase, "activated");
  assert.match(activated.certificates.find((c) => c.role === "active root")!.subject, /Moat Root CA G2/);
  assert.equal(rootsIn((await moat("ca", "bundle")).stdout), 2, "both roots stay trusted until finish");

  assertExit(await moat("ca", "rollover", "--finish"), 0);
  const finalBundle = (await moat("ca", "bundle")).stdout;
  assert.equal(rootsIn(finalBundle), 1);
  assert.match(new X509Certificate(finalBundle).subject, /Moat Root CA G2/);
  const crl = await moat("ca", "crl");
  assertExit(crl, 0);
  assert.equal((crl.stdout.match(/BEGIN X509 CRL/g) ?? []).length, 2, "the new intermediate's CRL and the new root's");
});
