// Debian's Chromium, driven by playwright-core, for the console's end-to-end tests: headless, a fresh profile, and a HOME whose NSS database trusts the test's Moat CA (so TLS to the admin API verifies; verification is never turned off).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { CONSOLE_BUILD_DIR } from "../../src/control/index.ts";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { isGroupAlive, runMoat, startMoat } from "../cli/moat-process.ts";
import type { RunningMoat } from "../cli/moat-process.ts";
import { withDeadline } from "../support/deadline.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";

const run = promisify(execFile);

/** Debian's package `chromium`. */
export const CHROMIUM = "/usr/bin/chromium";
/** Debian's package `libnss3-tools`: what puts the test CA into the profile's trust store. */
export const CERTUTIL = "/usr/bin/certutil";

/** Without background networking: this machine's closed network refuses Chromium's own calls home, many at a time. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

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

export type ConsoleRole = "viewer" | "operator" | "admin";

/** A running edge with its admin API, an mTLS origin, a token per role, and Chromium on a page of its own. */
export interface ConsoleFixture {
  dir: string;
  ca: CertificateAuthority;
  origin: TestOrigin;
  apiUrl: string;
  viewerPort: number;
  tokens: Record<ConsoleRole, string>;
  /** The store's address (`data/` in `dir`), for `moat … --store`. */
  store: string;
  /** The master key as `moat` reads it from its environment, for commands that sign (`moat admin issue`). */
  env: { MOAT_MASTER_KEY: string };
  browser: BrowserContext;
  page: Page;
  /** The page's console errors and uncaught exceptions: a CSP violation shows here. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** The console tests' usual config: one distribution, `site`, on `site.test`, to one origin; one worker, no plain HTTP. */
export const oneSiteConfig = (originUrl: string): string => `dataDir: ./data
workers: 1
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
`;

/**
 * `moat apply` of `configFor(originUrl)` into a new store, a token per role, `moat start --store --api` (a real edge and
 * its admin API on loopback), an origin that takes only Moat's client certificates, and Chromium trusting the test CA.
 */
export async function startConsoleFixture(options: { configFor(originUrl: string): string }): Promise<ConsoleFixture> {
  assert.ok(existsSync(join(CONSOLE_BUILD_DIR, "index.html")), `the console is not built in ${CONSOLE_BUILD_DIR}: run \`npm run console:build\` (npm test does it first)`);
  const dir = await mkdtemp(join(tmpdir(), "moat-console-"));
  let origin: TestOrigin | undefined;
  let edge: RunningMoat | undefined;
  let browser: BrowserContext | undefined;
  const close = async () => {
    await browser?.close();
    if (edge?.child.pid && isGroupAlive(edge.child.pid)) {
      process.kill(edge.child.pid, "SIGTERM");
      await withDeadline("the edge to exit", edge.exited, 60_000).catch(() => edge?.kill());
    }
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const key = await createTestMasterKey();
    const ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.setHeader("cache-control", "max-age=3600");
        res.end("from the origin");
      },
    });
    await writeFile(join(dir, "moat.yaml"), options.configFor(origin.url));
    const moat = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: key.env }), 60_000);
    const store = join(dir, "data");
    const applied = await moat(["apply", "-f", join(dir, "moat.yaml"), "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    const tokens: Record<ConsoleRole, string> = { viewer: "", operator: "", admin: "" };
    for (const role of ["viewer", "operator", "admin"] as const) {
      const created = await moat(["token", "create", "--role", role, "--name", `${role}-console`, "--store", store]);
      assert.equal(created.code, 0, created.stderr);
      tokens[role] = created.stdout.trim();
    }
    edge = startMoat(["start", "--store", store, "--api", "127.0.0.1:0", "--metrics", "127.0.0.1:0"], { cwd: tmpdir(), env: key.env, detached: true });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    const apiUrl = String((await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    browser = await launchConsoleBrowser({ dir, caPem: ca.bundlePem });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(30_000);
    const pageErrors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    return { dir, ca, origin, apiUrl, viewerPort: Number(listening.httpsPort), tokens, store, env: key.env, browser, page, pageErrors, close };
  } catch (error) {
    await close();
    throw error;
  }
}
