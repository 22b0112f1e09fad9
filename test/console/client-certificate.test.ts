// Signing into the web console with an admin client certificate from `moat admin issue` and no token, in Chromium: an admin's certificate sees the admin pages and revokes a certificate, a viewer's sees no edit control; a browser without one is refused.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { runMoat } from "../cli/moat-process.ts";
import type { MoatRun } from "../cli/moat-process.ts";
import { withDeadline } from "../support/deadline.ts";
import { CHROMIUM, CHROMIUM_ARGS, missingBrowser, oneSiteConfig, startConsoleFixture } from "./console-browser.ts";
import type { ConsoleFixture, ConsoleRole } from "./console-browser.ts";

/*
 * How Playwright presents a client certificate, and why verification stays on. Chromium cannot be handed a client
 * certificate through its protocol, so playwright-core (1.65) routes the context through a SOCKS proxy of its own, in
 * this test's process: for the origin named in `clientCertificates` the proxy ends the browser's TLS with a throwaway
 * certificate (the browser is told to accept that one: the hop is inside this process, over loopback) and opens its own
 * TLS connection to Moat with `tls.connect({ secureContext, rejectUnauthorized: true })`, the client certificate in the
 * context. That context is built with no `ca` of its own, so the proxy verifies Moat's certificate against Node's default
 * CA store. The test therefore adds Moat's test CA to this process's default store (`tls.setDefaultCACertificates`, what
 * NODE_EXTRA_CA_CERTS does at startup) and never sets `ignoreHTTPSErrors`; the first test shows the proxy refusing Moat
 * while the CA is not trusted yet. The change is this process's only: node --test runs each test file in its own.
 */
function trustInThisProcess(caBundlePem: string): void {
  const certificates = caBundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  assert.ok(certificates.length > 0, "the CA bundle holds no certificate");
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ...certificates]);
}

describe("the web console signed in with an admin client certificate, in Chromium", { timeout: 300_000 }, () => {
  let fixture: ConsoleFixture | undefined;
  /** A second Chromium, whose contexts present a client certificate through Playwright's proxy. */
  let browser: Browser | undefined;
  const certificates: Partial<Record<ConsoleRole, { cert: Buffer; key: Buffer }>> = {};
  const skipReason = missingBrowser();

  before(async () => {
    if (skipReason) return;
    fixture = await startConsoleFixture({ configFor: oneSiteConfig });
    // As an operator would: `moat admin issue` signs with the CA's key and records the issue in the store's audit trail.
    for (const role of ["admin", "viewer"] as const) {
      const name = `console-${role}`;
      const out = join(fixture.dir, "certs");
      const issued: MoatRun = await withDeadline(
        `moat admin issue ${role}`,
        runMoat(["admin", "issue", "--role", role, "--name", name, "--out", out, "--data-dir", fixture.store, "--store", fixture.store], { cwd: fixture.dir, env: fixture.env }),
        60_000,
      );
      assert.equal(issued.code, 0, issued.stderr);
      certificates[role] = { cert: await readFile(join(out, `admin-${name}.pem`)), key: await readFile(join(out, `admin-${name}.key`)) };
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await fixture?.close();
  });

  /** A context that presents `role`'s certificate to the admin API's origin, and nothing to any other. */
  const contextWith = async (role: ConsoleRole): Promise<{ context: BrowserContext; page: Page }> => {
    const certificate = certificates[role]!;
    const context = await browser!.newContext({ clientCertificates: [{ origin: new URL(fixture!.apiUrl).origin, cert: certificate.cert, key: certificate.key }], viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    return { context, page };
  };

  const signInWithCertificate = async (page: Page) => {
    await page.goto(`${fixture!.apiUrl}/console/`);
    await page.getByRole("heading", { name: "Sign in to the Moat console" }).waitFor();
    await page.getByRole("button", { name: "Use my admin client certificate" }).click();
  };

  test("verification stays on: while this process does not trust Moat's CA, Playwright's proxy refuses the admin API's certificate", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await contextWith("admin");
    try {
      const response = await page.goto(`${fixture!.apiUrl}/console/`);
      assert.equal(response?.status(), 503, "the proxy answers for a server it could not verify");
      const body = await page.locator("body").innerText();
      assert.match(body, /Playwright client-certificate error/);
      assert.match(body, /unable to get local issuer certificate|self[- ]signed certificate|unable to verify/i, "refused because Moat's certificate does not verify");
    } finally {
      await context.close();
    }
    trustInThisProcess(fixture!.ca.bundlePem);
  });

  test("a browser with no client certificate is refused in the API's own words", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const page = fixture!.page;
    await signInWithCertificate(page);
    const refusal = page.getByRole("alert").filter({ hasText: "Not signed in" });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /no bearer token and the connection no client certificate/);
  });

  test("an admin certificate and no token: signed in as the certificate's name, the admin pages shown, a revocation done and audited under the certificate", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await contextWith("admin");
    try {
      await signInWithCertificate(page);
      const who = page.getByTestId("who");
      await who.getByText("admin", { exact: true }).waitFor();
      assert.match(await who.innerText(), /certificate console-admin/);
      assert.equal(await page.evaluate("sessionStorage.getItem('moat-console-sign-in')"), JSON.stringify({ kind: "certificate" }), "no token is kept: the certificate is the credential");

      // An admin's action: revoke the site origin's client certificate, through the confirmation.
      await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Certificates" }).click();
      const group = page.getByTestId("certificate-group").filter({ hasText: "origin-client" }).first();
      const revoke = group.getByRole("button", { name: /^Revoke / });
      await revoke.first().waitFor();
      const serial = ((await revoke.first().getAttribute("aria-label")) ?? "").replace(/^Revoke /, "");
      await revoke.first().click();
      const dialog = page.getByRole("dialog", { name: `Revoke ${serial}?` });
      await dialog.getByLabel("Reason (RFC 5280)").selectOption("keyCompromise");
      await dialog.getByRole("button", { name: "Revoke" }).click();
      await page.getByText(`Certificate ${serial} is revoked and in a fresh CRL.`).waitFor();

      // The audit trail (admins only) names the certificate as the actor of that revocation.
      await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Audit" }).click();
      await page.getByText(/Hash chain verified/).waitFor();
      await page.getByLabel("Actor").fill("api:certificate/console-admin");
      const row = page.locator("tbody tr").filter({ hasText: serial });
      await row.first().waitFor();
      assert.match(await row.first().innerText(), /api:certificate\/console-admin/);
    } finally {
      await context.close();
    }
  });

  test("a viewer certificate: signed in as a viewer, no edit control and no audit page", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await contextWith("viewer");
    try {
      await signInWithCertificate(page);
      const who = page.getByTestId("who");
      await who.getByText("viewer", { exact: true }).waitFor();
      assert.match(await who.innerText(), /certificate console-viewer/);
      const nav = page.getByRole("navigation", { name: "Console" });
      await nav.getByRole("link", { name: "Certificates" }).click();
      await page.getByTestId("certificate-group").first().waitFor();
      assert.equal(await page.getByRole("button", { name: /^(Revoke|Rotate) / }).count(), 0, "a viewer is offered neither rotate nor revoke");
      assert.equal(await nav.getByRole("link", { name: "Audit" }).count(), 0, "the audit page is not offered to a viewer");
      await nav.getByRole("link", { name: "Distributions" }).click();
      await page.getByRole("heading", { level: 1, name: "Distributions" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "Create distribution" }).count() + (await page.getByRole("button", { name: "Create distribution" }).count()), 0);
    } finally {
      await context.close();
    }
  });
});
