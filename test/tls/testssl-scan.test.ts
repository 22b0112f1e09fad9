// testssl.sh, a TLS scanner, against the viewer port, `moat guard` and the enrolment endpoint on loopback: no finding rated MEDIUM or above.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { test, type TestContext } from "node:test";
import { startTlsEndpoints, type TlsEndpoint } from "./tls-endpoints.ts";

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/** testssl.sh's path, or undefined; CI (.ci/run sets MOAT_REQUIRE_TESTSSL=1) fails instead of skipping when it is missing. */
function findTestssl(): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/bin"]) {
    for (const name of ["testssl", "testssl.sh"]) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Findings that say something about the test's setup, not about Moat, each with the reason.
 * Nothing else is excluded; each is matched by its testssl id on the one endpoint it concerns.
 */
const SETUP_FINDINGS: ReadonlyArray<{ endpoint: TlsEndpoint["name"] | "any"; id: RegExp; why: string }> = [
  // The guard requires a client certificate (that is its job); testssl has none, so every HTTP-level
  // check it makes after the handshake fails with a scan error, which it reports as a WARN finding
  // ("scanProblem"): not a weakness of the TLS it negotiated.
  // { endpoint: "moat guard", id: /^scanProblem$/, why: "the guard requires an edge certificate that testssl cannot present" },
];

const SEVERE = new Set(["MEDIUM", "HIGH", "CRITICAL"]);

/** Runs testssl against one endpoint; resolves with its JSON findings. Killed after `deadlineMs`. */
async function scan(testssl: string, endpoint: TlsEndpoint, caFile: string, dir: string, deadlineMs: number): Promise<Finding[]> {
  const jsonFile = join(dir, `${endpoint.name.replaceAll(" ", "-")}.json`);
  const args = [
    "--quiet", "--color", "0", "--warnings", "off", "--fast",
    "--ip", "127.0.0.1", "--add-ca", caFile,
    "--connect-timeout", "5", "--openssl-timeout", "5",
    "--severity", "LOW", "--jsonfile", jsonFile,
    // Protocols, cipher categories, forward secrecy, server defaults and preference, headers, every vulnerability test.
    "-p", "-s", "-f", "-S", "-P", "-h", "-U",
    `${endpoint.servername}:${endpoint.port}`,
  ];
  const child = spawn(testssl, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("close", (c, s) => resolve([c, s])));
  clearTimeout(timer);
  if (signal) assert.fail(`testssl against the ${endpoint.name} did not finish in ${deadlineMs} ms (${signal}). Its output:\n${output.slice(-4000)}`);
  let text: string;
  try {
    text = await readFile(jsonFile, "utf8");
  } catch {
    assert.fail(`testssl against the ${endpoint.name} wrote no JSON (exit ${code}). Its output:\n${output.slice(-4000)}`);
  }
  return JSON.parse(text) as Finding[];
}

test("testssl finds nothing rated MEDIUM, HIGH or CRITICAL on the viewer port, moat guard and the enrolment endpoint", { timeout: 600_000 }, async (t: TestContext) => {
  const testssl = findTestssl();
  if (!testssl) {
    if (process.env.MOAT_REQUIRE_TESTSSL === "1") assert.fail("testssl is not installed, and MOAT_REQUIRE_TESTSSL=1 says it must be (.ci/run installs it with apt-get install -y testssl.sh)");
    return t.skip("testssl is not installed here; `apt-get install -y testssl.sh` to run this test (CI installs it)");
  }
  const { pki, endpoints } = await startTlsEndpoints(t);
  const dir = await mkdtemp(join(tmpdir(), "moat-testssl-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The test CA is private: testssl gets it so that certificate trust is judged, not skipped.
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, pki.ca.bundlePem);

  const severe: string[] = [];
  // One at a time: the machine's cores are shared, and each scan makes hundreds of handshakes.
  for (const endpoint of endpoints) {
    const findings = await scan(testssl, endpoint, caFile, dir, 240_000);
    assert.ok(findings.some((finding) => finding.id === "cipher_order" || finding.id.startsWith("cipherlist_")), `testssl reported no cipher findings for the ${endpoint.name}: did it reach it?\n${JSON.stringify(findings.slice(0, 20), null, 1)}`);
    for (const finding of findings) {
      if (!SEVERE.has(finding.severity)) continue;
      if (SETUP_FINDINGS.some((known) => (known.endpoint === "any" || known.endpoint === endpoint.name) && known.id.test(finding.id))) continue;
      severe.push(`${endpoint.name}: ${finding.severity} ${finding.id}: ${finding.finding}`);
    }
  }
  if (severe.length > 0) console.log(severe.join("\n"));
  assert.deepEqual(severe, [], "testssl's findings rated MEDIUM or above");
});
