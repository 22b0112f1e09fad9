// `moat guard` as a process: starts from a guard directory, serves the accepted edge, refuses another distribution, reloads on SIGHUP, exits 0 on SIGTERM; bad flags exit 2 with the fix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createGuardPki, requestWith } from "../../guard/guard-pki.ts";
import { startUpstreamApp, writeGuardFiles, withTimeout } from "../../guard/guard-fixture.ts";
import { runMoat, startMoat } from "../moat-process.ts";

test("moat guard --dir serves the edge of its distribution, refuses another, and stops cleanly on SIGTERM", async (t) => {
  const pki = await createGuardPki(t);
  const { dir } = await writeGuardFiles(t, pki);
  const app = await startUpstreamApp(t);
  const moat = startMoat(["guard", "--upstream", app.url, "--distribution", "shop", "--dir", dir, "--listen", "127.0.0.1:0"], { cwd: dir });
  t.after(() => moat.kill());
  const listening = await withTimeout("guard listening", moat.waitForLine("the guard to listen", (l) => l.msg === "guard listening"), 30_000);
  const port = Number(listening.port);
  const shop = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("shop") });
  assert.ok("status" in shop && shop.status === 200, JSON.stringify(shop));
  const blog = await requestWith({ port, caPem: pki.ca.bundlePem, client: await pki.edge("blog") });
  assert.ok("status" in blog && blog.status === 403);
  await withTimeout("the forwarded line", moat.waitForLine("the access line", (l) => l.msg === "forwarded" && l.identity === "spiffe://moat.internal/distribution/shop/origin/app"));
  moat.child.kill("SIGTERM");
  const exit = await moat.exited;
  assert.equal(exit.code, 0, moat.stderr());
  assert.ok(moat.lines.some((l) => l.msg === "guard stopped"));
});

test("moat guard refuses bad flags with exit code 2 and says what to give", async () => {
  const cwd = process.cwd();
  const noDistribution = await runMoat(["guard", "--upstream", "http://127.0.0.1:8080", "--dir", "/nonexistent"], { cwd });
  assert.equal(noDistribution.code, 2);
  assert.match(noDistribution.stderr, /--distribution ID is required/);
  const badUpstream = await runMoat(["guard", "--upstream", "https://app.internal/x", "--distribution", "shop", "--dir", "/x"], { cwd });
  assert.equal(badUpstream.code, 2);
  assert.match(badUpstream.stderr, /must be http:\/\/HOST:PORT/);
  const noFiles = await runMoat(["guard", "--upstream", "http://127.0.0.1:8080", "--distribution", "shop"], { cwd });
  assert.equal(noFiles.code, 2);
  assert.match(noFiles.stderr, /give --dir DIR .* or --cert, --key, --ca-bundle, --crl/);
  const missingFile = await runMoat(["guard", "--upstream", "http://127.0.0.1:8080", "--distribution", "shop", "--dir", "/nonexistent-moat-guard"], { cwd });
  assert.equal(missingFile.code, 1);
  // Every file is missing: the first in order (the certificate) is named, every run, with the fix for it.
  assert.match(missingFile.stderr, /\/nonexistent-moat-guard\/server.crt: cannot read the certificate \(ENOENT\)\. Fix: enrol the origin/);
});

test("moat ca bundle --with-intermediate prints the roots then the intermediate: the guard's ca-bundle.pem", async (t) => {
  const pki = await createGuardPki(t);
  const run = await runMoat(["ca", "bundle", "--with-intermediate", "--data-dir", pki.dataDir], { cwd: pki.dataDir });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, pki.ca.bundlePem + pki.ca.intermediatePem);
  const plain = await runMoat(["ca", "bundle", "--data-dir", pki.dataDir], { cwd: pki.dataDir });
  assert.equal(plain.stdout, pki.ca.bundlePem);
});
