// Debian's Chromium, driven by playwright-core, for the console's end-to-end tests: headless, a fresh profile, and a HOME whose NSS database trusts the test's Moat CA (so TLS to the admin API verifies; verification is never turned off).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";

const run = promisify(execFile);

/** Debian's package `chromium`. */
export const CHROMIUM = "/usr/bin/chromium";
/** Debian's package `libnss3-tools`: what puts the test CA into the profile's trust store. */
export const CERTUTIL = "/usr/bin/certutil";

/** Without background networking: this machine's closed network refuses Chromium's own calls home, many at a time. */
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the browser tests cannot run here (Chromium or certutil missing), or undefined when they can; CI
 * (MOAT_REQUIRE_CHROMIUM=1 in .ci/run) fails instead of skipping without them.
 */
export function missingBrowser(): string | undefined {
  const missing = [CHROMIUM, CERTUTIL].filter((path) => !isExecutable(path));
  if (missing.length === 0) return undefined;
  const install = "apt-get install -y chromium libnss3-tools";
  if (process.env.MOAT_REQUIRE_CHROMIUM === "1") assert.fail(`${missing.join(" and ")} missing, and MOAT_REQUIRE_CHROMIUM=1 says they must be here (.ci/run installs them: ${install})`);
  return `${missing.join(" and ")} missing: \`${install}\` to run the console's browser tests (CI installs them)`;
}

/**
 * A persistent context on a new profile in `dir`, whose HOME holds an NSS database that trusts `caPem` (Chromium on
 * Linux reads user-added roots from $HOME/.pki/nssdb). Nothing else of the machine's is trusted beyond the system's roots.
 */
export async function launchConsoleBrowser(options: { dir: string; caPem: string }): Promise<BrowserContext> {
  const home = join(options.dir, "home");
  const nssdb = join(home, ".pki", "nssdb");
  await mkdir(nssdb, { recursive: true, mode: 0o700 });
  const caFile = join(options.dir, "moat-ca.pem");
  await writeFile(caFile, options.caPem);
  await run(CERTUTIL, ["-N", "-d", `sql:${nssdb}`, "--empty-password"], { timeout: 30_000 });
  // C: a trusted CA for TLS servers; nothing for mail or code signing.
  await run(CERTUTIL, ["-A", "-d", `sql:${nssdb}`, "-n", "Moat test CA", "-t", "C,,", "-i", caFile], { timeout: 30_000 });
  return chromium.launchPersistentContext(join(options.dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: home },
    viewport: { width: 1280, height: 860 },
    timeout: 60_000,
  });
}
