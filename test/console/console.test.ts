// The web console end to end, in real Chromium against `moat start --store --api` (a real edge, a real mTLS origin): sign in, create a distribution and see its origin certificate, rotate it and see the timeline change, invalidate to completion, and a viewer refused.
import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { Agent, fetch } from "undici";
import { CONSOLE_BUILD_DIR } from "../../src/control/index.ts";
import { initCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { isGroupAlive, repoRoot, runMoat, startMoat } from "../cli/moat-process.ts";
import type { RunningMoat } from "../cli/moat-process.ts";
import { withDeadline } from "../support/deadline.ts";
import { createTestMasterKey } from "../support/master-key.ts";
import type { TestMasterKey } from "../support/master-key.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { viewerRequestWithSni } from "../support/viewer-client.ts";
import { launchConsoleBrowser, missingBrowser, oneSiteConfig } from "./console-browser.ts";

/** Screenshots of the main pages: test artifacts, for a person to look at (MOAT_TEST_ARTIFACTS moves them). */
const ARTIFACTS = join(process.env.MOAT_TEST_ARTIFACTS ?? join(repoRoot, "test-artifacts"), "console");
const SHOP_IDENTITY = "spiffe://moat.internal/distribution/shop/origin/app";

describe("the web console in Chromium, against a running edge and its admin API", { timeout: 300_000 }, () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let edge: RunningMoat | undefined;
  let viewerPort: number;
  let apiUrl: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  const tokens: Record<"viewer" | "operator" | "admin", string> = { viewer: "", operator: "", admin: "" };
  /** Console errors of the page: a CSP violation shows here, and none may happen. */
  const pageErrors: string[] = [];
  /** Why the tests skip (no browser here), or undefined. */
  const skipReason = missingBrowser();

  before(async () => {
    if (skipReason) return;
    assert.ok(existsSync(join(CONSOLE_BUILD_DIR, "index.html")), `the console is not built in ${CONSOLE_BUILD_DIR}: run \`npm run console:build\` (npm test does it first)`);
    dir = await mkdtemp(join(tmpdir(), "moat-console-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    // An origin that takes only Moat's client certificates: the shop distribution's edge must present its own.
    origin = await startTestOrigin({
      certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
      clientCaPem: ca.bundlePem,
      handler: (_req, res) => {
        res.setHeader("cache-control", "max-age=3600");
        res.end("from the origin");
      },
    });
    await writeFile(join(dir, "moat.yaml"), oneSiteConfig(origin.url));
    const moat = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: key.env }), 60_000);
    const store = join(dir, "data");
    const applied = await moat(["apply", "-f", join(dir, "moat.yaml"), "--store", store]);
    assert.equal(applied.code, 0, applied.stderr);
    for (const role of ["viewer", "operator", "admin"] as const) {
      const created = await moat(["token", "create", "--role", role, "--name", `${role}-console`, "--store", store]);
      assert.equal(created.code, 0, created.stderr);
      tokens[role] = created.stdout.trim();
    }
    edge = startMoat(["start", "--store", store, "--api", "127.0.0.1:0", "--metrics", "127.0.0.1:0"], { cwd: tmpdir(), env: key.env, detached: true });
    const listening = await withDeadline("the edge to listen", edge.waitForLine("edge listening", (line) => line.msg === "edge listening"), 90_000);
    viewerPort = Number(listening.httpsPort);
    apiUrl = String((await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 30_000)).url);
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchConsoleBrowser({ dir, caPem: ca.bundlePem });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(30_000);
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    page.on("pageerror", (error) => pageErrors.push(String(error)));
  });

  after(async () => {
    await browser?.close();
    if (edge?.child.pid && isGroupAlive(edge.child.pid)) {
      process.kill(edge.child.pid, "SIGTERM");
      await withDeadline("the edge to exit", edge.exited, 60_000).catch(() => edge?.kill());
    }
    await origin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const api = async (path: string, init: { method?: string; token?: string; body?: unknown } = {}) => {
    const dispatcher = new Agent({ connect: { ca: ca.bundlePem } });
    try {
      const response = await fetch(`${apiUrl}${path}`, {
        dispatcher,
        method: init.method ?? "GET",
        headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { "content-type": "application/json" } : {}) },
        ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      });
      return { status: response.status, headers: response.headers, text: await response.text() };
    } finally {
      await dispatcher.close();
    }
  };
  /** Signs in by keyboard alone: Tab to the token field, type, Enter. */
  const signInAs = async (role: keyof typeof tokens) => {
    await page.goto(`${apiUrl}/console/`);
    await page.getByRole("heading", { name: "Sign in to the Moat console" }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate("document.activeElement?.id"), "token", "the first Tab stop is the token field");
    await page.keyboard.type(tokens[role]);
    await page.keyboard.press("Enter");
    await page.getByTestId("who").getByText(role, { exact: true }).waitFor();
  };

  test("the console's files are public and carry a CSP without inline scripts; API routes still need credentials", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const index = await api("/console/");
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /^text\/html/);
    const csp = index.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers.get("x-content-type-options"), "nosniff");
    assert.doesNotMatch(index.text, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script in the page");
    // A page of the console loaded afresh is the same page; an asset that does not exist is a 404, not the page.
    assert.equal((await api("/console/distributions/shop")).text, index.text);
    assert.equal((await api("/console/assets/nothing-here.js")).status, 404);
    assert.equal((await api("/distributions")).status, 401, "the API itself still refuses a request without credentials");
    assert.equal((await api("/whoami", { token: tokens.operator })).status, 200);
  });

  test("a wrong token is refused with the API's own words; the right one signs in by keyboard alone", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.goto(`${apiUrl}/console/`);
    await shot("sign-in");
    await page.getByLabel("API token").fill("moat_0123456789abcdef_notTheRightSecretAtAllxxxxxxxxxxxxxxxxxxxxxxx");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("api-unauthenticated").waitFor();
    await signInAs("admin");
    await page.getByRole("heading", { name: "Distributions" }).waitFor();
    await page.getByRole("link", { name: "site" }).waitFor();
    // Keyboard: the skip link is the first stop of a signed-in page.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate("document.activeElement?.textContent"), "Skip to content");
  });

  test("create a distribution: the API's validation message beside the field, then its origin certificate appears with its SPIFFE ID", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("link", { name: "Create distribution" }).click();
    await page.getByLabel("Id", { exact: true }).fill("shop");
    await page.getByLabel("Aliases").fill("shop.test");
    await page.getByLabel("Origin URL").fill("ftp://localhost/");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const urlError = page.locator("#origin-0-url-error");
    await urlError.waitFor();
    assert.match(await urlError.innerText(), /https/i, "the API's message about the URL, next to the URL field");
    assert.equal(await page.getByLabel("Origin URL").getAttribute("aria-invalid"), "true");
    await shot("distribution-form-refused");

    await page.getByLabel("Origin URL").fill(origin.url);
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Distribution shop" }).waitFor();
    assert.match(page.url(), /\/console\/distributions\/shop$/);
    // The edge applies the new revision, issues the origin's client certificate, and records it in the store: the page refreshes until it shows.
    await page.getByTestId("identity-app").getByText(SHOP_IDENTITY).waitFor({ timeout: 60_000 });
    await page.getByTestId("distribution-certificates").getByText("shop/app").waitFor();
    await shot("distribution-detail");

    // Edit: the form starts from the stored document and saves with its ETag; the page shows the new version.
    await page.getByRole("link", { name: "Edit" }).click();
    await page.getByRole("heading", { name: "Edit distribution shop" }).waitFor();
    assert.equal(await page.getByLabel("Origin URL").inputValue(), origin.url, "the form holds the stored document");
    await page.getByLabel("Aliases").fill("shop.test\nwww.shop.test");
    // What the form has no field for is JSON, as the config file writes it; the whole config's rules apply, and the
    // API's message about a key of the JSON appears beside the JSON.
    const extra = page.getByLabel("Other settings (JSON)");
    await extra.fill('{ "behaviors": [{ "path": "/static/*", "target": "app", "allowedMethods": ["GET", "HEAD"] }] }');
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator("#dist-extra-error").getByText(/behaviors: needs a default behavior/).waitFor();
    assert.equal(await extra.getAttribute("aria-invalid"), "true");
    await extra.fill('{ "behaviors": [{ "path": "/static/*", "target": "app", "allowedMethods": ["GET", "HEAD"] }, { "path": "*", "target": "app" }] }');
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Version 2, written at config revision").waitFor();
    await page.getByText("shop.test, www.shop.test").waitFor();
    await page.getByRole("row", { name: /\/static\/\* app GET, HEAD/ }).waitFor();

    // And the edge really presents that identity to the origin.
    const response = await withDeadline("a request through the edge", viewerRequestWithSni(viewerPort, { caPem: ca.bundlePem, servername: "shop.test", host: "shop.test", path: "/hello" }), 20_000);
    assert.equal(response.status, 200);
    assert.deepEqual(origin.seen.at(-1)?.clientIdentities, [SHOP_IDENTITY]);
  });

  test("certificates: rotate the origin certificate with a confirmation, and the timeline shows the new one active and the old one retired", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation").getByRole("link", { name: "Certificates" }).click();
    const group = page.locator('[data-testid="certificate-group"][data-name="shop/app"]');
    await group.locator('g[data-state="active"]').waitFor();
    const before = await group.locator("g[data-serial]").evaluateAll((bars) => bars.map((bar) => `${bar.getAttribute("data-serial")}:${bar.getAttribute("data-state")}`));
    assert.equal(before.length, 1, `one generation before the rotation: ${before.join(", ")}`);
    const oldSerial = before[0]!.split(":")[0]!;

    // Escape closes the confirmation and asks nothing.
    await group.getByRole("button", { name: "Rotate shop/app now" }).click();
    await page.getByRole("dialog").waitFor();
    assert.equal(await page.evaluate("document.activeElement?.textContent"), "Cancel", "the dialog's focus starts on Cancel");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    assert.equal(await group.locator("g[data-serial]").count(), 1, "no rotation was asked for");

    await group.getByRole("button", { name: "Rotate shop/app now" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Rotate shop/app now?" }).waitFor();
    await dialog.getByRole("button", { name: "Rotate now" }).click();
    await group.locator(`g[data-serial="${oldSerial}"][data-state="retired"]`).waitFor({ timeout: 60_000 });
    const afterRotation = await group.locator("g[data-serial]").evaluateAll((bars) => bars.map((bar) => `${bar.getAttribute("data-serial")}:${bar.getAttribute("data-state")}`));
    const active = afterRotation.filter((entry) => entry.endsWith(":active"));
    assert.equal(active.length, 1, afterRotation.join(", "));
    assert.notEqual(active[0]!.split(":")[0], oldSerial, "a new certificate is the active one");
    await shot("certificates");

    // When Moat renews each: a mark on the active one's bar and its Renews column, from the API's renewsAt (56.7 % to
    // 66.7 % into its life at pki.renewAtFraction 2/3, less the jitter); nothing for the retired one, never renewed.
    const newSerial = active[0]!.split(":")[0]!;
    const answer = JSON.parse((await api(`/certificates/${newSerial}`, { token: tokens.admin })).text) as { notBefore: string; notAfter: string; renewsAt: string | null };
    assert.ok(answer.renewsAt, "an active certificate Moat issued has a renewsAt");
    const into = (Date.parse(answer.renewsAt) - Date.parse(answer.notBefore)) / (Date.parse(answer.notAfter) - Date.parse(answer.notBefore));
    assert.ok(into > 0.56 && into <= 2 / 3, `renews ${into} into its life`);
    assert.equal(JSON.parse((await api(`/certificates/${oldSerial}`, { token: tokens.admin })).text).renewsAt, null, "a retired certificate is not renewed");
    assert.equal(await group.locator(`g[data-serial="${newSerial}"] [data-testid="renewal-mark"]`).count(), 1);
    assert.equal(await group.locator(`g[data-serial="${oldSerial}"] [data-testid="renewal-mark"]`).count(), 0);
    assert.match(await group.locator(`tr[data-serial="${newSerial}"] [data-testid="renews"]`).innerText(), new RegExp(`^${answer.renewsAt.slice(0, 16).replace("T", " ")} UTC \\(in `));
    assert.equal(await group.locator(`tr[data-serial="${oldSerial}"] [data-testid="renews"]`).innerText(), "—");
    assert.match((await group.getByTestId("certificate-timeline").getAttribute("aria-label")) ?? "", new RegExp(`${newSerial.slice(0, 8)} active from .* renews `));

    // Revoke the retired one (admin), with a reason and a confirmation: its state becomes revoked.
    await group.getByRole("button", { name: `Revoke ${oldSerial}` }).click();
    await dialog.getByLabel("Reason (RFC 5280)").selectOption("superseded");
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await group.locator(`g[data-serial="${oldSerial}"][data-state="revoked"]`).waitFor({ timeout: 30_000 });

    // The CA bundle and the CRL download through the API (they need the token: no plain link would do).
    const [bundle] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CA bundle" }).click()]);
    assert.equal(bundle.suggestedFilename(), "moat-ca-bundle.pem");
    assert.equal(await readFile((await bundle.path())!, "utf8"), ca.bundlePem);
    const [crl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CRL" }).click()]);
    assert.match(await readFile((await crl.path())!, "utf8"), /^-----BEGIN X509 CRL-----/);
  });

  test("an invalidation with a wildcard runs to completion: refused paths named by the API, then applied by every edge", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation").getByRole("link", { name: "Invalidations" }).click();
    await page.getByLabel("Distribution").selectOption("shop");
    await page.getByLabel("Paths").fill("no-slash");
    await page.getByRole("button", { name: "Invalidate" }).click();
    await page.locator("#inv-paths-error").waitFor();

    await page.getByLabel("Paths").fill("/assets/*\n/hello");
    await page.getByRole("button", { name: "Invalidate" }).click();
    const recorded = page.getByText(/Invalidation \d+ recorded/);
    await recorded.waitFor();
    const id = /Invalidation (\d+) recorded/.exec(await recorded.innerText())![1]!;
    await page.locator(`[data-testid="invalidation"][data-id="${id}"][data-status="applied"]`).waitFor({ timeout: 60_000 });
    assert.match(await page.locator(`[data-testid="invalidation"][data-id="${id}"]`).innerText(), /1 of 1 live edge applied it/);
    await shot("invalidations");
  });

  test("fleet, traffic and audit: the edge is healthy, its requests are counted live, and the audit trail's chain verifies", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation").getByRole("link", { name: "Fleet" }).click();
    await page.getByTestId("fleet").locator('tr[data-health="ok"]').waitFor();
    await shot("fleet");

    await page.getByRole("navigation").getByRole("link", { name: "Traffic" }).click();
    await page.getByTestId("traffic").waitFor();
    for (let i = 0; i < 5; i++) await viewerRequestWithSni(viewerPort, { caPem: ca.bundlePem, servername: "shop.test", host: "shop.test", path: `/traffic-${i}` });
    // The table updates without a reload: the shop row counts at least these five (and the one of the earlier test).
    const shopRequests = page.getByTestId("traffic").locator("tbody tr").filter({ has: page.locator("th", { hasText: /^shop$/ }) }).locator("td").nth(2);
    await withDeadline(
      "the traffic table to count the shop's requests",
      (async () => {
        while (Number((await shopRequests.innerText().catch(() => "0")).replace(/,/g, "")) < 6) await page.waitForTimeout(250);
      })(),
      30_000,
    );
    await page.getByTestId("chart-rps").locator("canvas").waitFor();

    // A distribution whose origin refuses connections: its requests fail, and the page names the cause.
    const closed = net.createServer().listen(0, "127.0.0.1");
    await once(closed, "listening");
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const created = await api("/distributions", { method: "POST", token: tokens.operator, body: { id: "down", aliases: ["down.test"], origins: [{ id: "app", url: `https://127.0.0.1:${closedPort}` }] } });
    assert.equal(created.status, 201, created.text);
    await withDeadline(
      "the edge to serve down.test (502: its origin refuses)",
      (async () => {
        for (;;) {
          const answer = await viewerRequestWithSni(viewerPort, { caPem: ca.bundlePem, servername: "down.test", host: "down.test", path: "/" }).catch(() => undefined);
          if (answer?.status === 502) return;
          await page.waitForTimeout(250);
        }
      })(),
      60_000,
    );
    const downErrors = page.getByTestId("traffic").locator("tbody tr").filter({ has: page.locator("th", { hasText: /^down$/ }) }).locator("td").nth(3);
    await downErrors.getByText(/origin-connect-refused: \d+/).waitFor();
    await page.getByTestId("chart-origin-errors").locator("canvas").waitFor();
    await shot("traffic");

    await page.getByRole("navigation").getByRole("link", { name: "Audit" }).click();
    await page.getByTestId("chain-status").getByText("Hash chain verified").waitFor();
    await page.getByTestId("audit").getByText("distribution/shop").first().waitFor();
    await shot("audit");
    // Filtered by the API: only the shop's records, and of those only the rotation asked for.
    await page.getByLabel("Resource").fill("distribution/shop");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText(/\d+ records with resource distribution\/shop, newest first/).waitFor();
    const resources = await page.getByTestId("audit").locator("tbody tr td:nth-child(5)").allInnerTexts();
    assert.ok(resources.length >= 2 && resources.every((resource) => resource === "distribution/shop"), resources.join(", "));
    await page.getByLabel("Resource").fill("");
    await page.getByLabel("Action").selectOption("certificate.rotate-request");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText(/\d+ records with action certificate.rotate-request, newest first/).waitFor();
    const actions = await page.getByTestId("audit").locator("tbody tr td:nth-child(4)").allInnerTexts();
    assert.deepEqual(actions, ["certificate.rotate-request"]);
  });

  test("a viewer sees no edit controls, is refused the audit trail by the API, and the API refuses its writes", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("button", { name: "Sign out" }).click();
    await signInAs("viewer");
    await page.getByRole("link", { name: "shop" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "Create distribution" }).count(), 0);
    assert.equal(await page.getByRole("navigation").getByRole("link", { name: "Audit" }).count(), 0, "no Audit in a viewer's navigation");
    await shot("distributions-viewer");

    await page.getByRole("link", { name: "shop" }).click();
    await page.getByRole("heading", { name: "Distribution shop" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Delete" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "Edit" }).count(), 0);

    await page.getByRole("navigation").getByRole("link", { name: "Certificates" }).click();
    await page.locator('[data-testid="certificate-group"]').first().waitFor();
    assert.equal(await page.getByRole("button", { name: /^Rotate / }).count(), 0);
    assert.equal(await page.getByRole("button", { name: /^Revoke / }).count(), 0);

    // Typed by hand, the audit page asks the API, which refuses: the console shows its refusal.
    await page.goto(`${apiUrl}/console/audit`);
    await page.getByRole("alert").getByText("403 api-forbidden").waitFor();
    await shot("audit-refused-viewer");

    // And a write sent with the viewer's token anyway, from the page: the API refuses it.
    const refused = await page.evaluate(`(async () => {
      const stored = JSON.parse(sessionStorage.getItem("moat-console-sign-in") ?? "{}");
      const response = await fetch("/invalidations", { method: "POST", headers: { authorization: "Bearer " + stored.token, "content-type": "application/json" }, body: JSON.stringify({ distribution: "shop", paths: ["/*"] }) });
      return { status: response.status, code: (await response.json()).code };
    })()`);
    assert.deepEqual(refused, { status: 403, code: "api-forbidden" });
  });

  test("readable on a phone: nothing wider than the screen, and no CSP violation on any page", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ["fleet", "distributions", "certificates"]) {
      await page.goto(`${apiUrl}/console/${path}`);
      await page.locator("main h1").waitFor();
      await page.waitForLoadState("networkidle");
      // The navigation is a row above the page, not a column beside it: the heading starts within the first screen.
      const headingTop = (await page.locator("main h1").boundingBox())?.y ?? Infinity;
      assert.ok(headingTop < 250, `${path}'s heading starts ${headingTop}px down a phone screen`);
      const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
      if (overflow > 0) {
        await shot(`overflow-${path}`);
        // The outermost elements that stick out, to say what to fix.
        const wide = await page.evaluate(
          "[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && (getComputedStyle(e).position === 'absolute' || !e.closest('.table-wrap, .nav ul'))).slice(0, 8).map((e) => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right))",
        );
        assert.fail(`${path} is ${overflow}px wider than a 390px screen: ${JSON.stringify(wide)}`);
      }
    }
    await shot("certificates-phone");
    assert.deepEqual(pageErrors.filter((text) => /Content Security Policy|Refused to/i.test(text)), []);
  });
});
