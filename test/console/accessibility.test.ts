// The web console's accessibility in real Chromium: axe-core's WCAG 2.2 AA rules on every page (admin and viewer, laptop and phone), and the main flows by keyboard alone — skip link, visible focus, focus on each new page's heading, a confirm dialog that traps and returns focus, errors tied to their fields.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { withDeadline } from "../support/deadline.ts";
import { viewerRequestWithSni } from "../support/viewer-client.ts";
import { missingBrowser, oneSiteConfig, startConsoleFixture } from "./console-browser.ts";
import type { ConsoleFixture, ConsoleRole } from "./console-browser.ts";

/** axe-core's own bundle, as a string to evaluate in the page (through CDP, which the page's CSP does not govern). */
const AXE_SOURCE = (createRequire(import.meta.url)("axe-core") as { source: string }).source;
/** An inline script the page's CSP must refuse; Chromium's report of it names its hash, which tells it from any other. */
const PROBE_SCRIPT = "window.inlineScriptRan = true";
const PROBE_HASH = `sha256-${createHash("sha256").update(PROBE_SCRIPT).digest("base64")}`;
/** WCAG 2.0, 2.1 and 2.2, levels A and AA: what issue 18 asks of the console. */
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

interface Violation {
  page: string;
  id: string;
  impact: string;
  help: string;
  helpUrl: string;
  targets: string[];
}

/** What the focused element is, for a message: `button "Rotate now"`, `input#token`. */
const DESCRIBE_FOCUS = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "body";
  const name = e.getAttribute("aria-label") ?? (e.textContent ?? "").trim().slice(0, 40);
  return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (name ? ' "' + name + '"' : "");
})()`;

/** Whether the focused element draws a focus indicator: an outline or a box shadow, as computed. */
const HAS_FOCUS_INDICATOR = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return false;
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return outline || style.boxShadow !== "none";
})()`;

describe("the web console's accessibility, in Chromium against a running edge", { timeout: 240_000 }, () => {
  let fixture: ConsoleFixture | undefined;
  let page: Page;
  const skipReason = missingBrowser();

  before(async () => {
    if (skipReason) return;
    fixture = await startConsoleFixture({ configFor: oneSiteConfig });
    page = fixture.page;
  });

  after(async () => {
    await fixture?.close();
  });

  const consoleUrl = (path = "") => `${fixture!.apiUrl}/console/${path}`;
  const focused = () => page.evaluate(DESCRIBE_FOCUS) as Promise<string>;
  const activeIs = (check: string) => page.evaluate(`(() => { const e = document.activeElement; return !!e && (${check}); })()`) as Promise<boolean>;

  /** Presses `key` (Tab or Shift+Tab) until the focused element passes `check` (an expression of `e`), asserting each stop on the way shows its focus. */
  const pressUntil = async (key: "Tab" | "Shift+Tab", check: string, what: string, max = 60) => {
    const stops: string[] = [];
    for (let i = 0; i < max; i++) {
      await page.keyboard.press(key);
      const stop = await focused();
      stops.push(stop);
      assert.ok(await page.evaluate(HAS_FOCUS_INDICATOR), `${stop} has focus but no visible focus indicator (outline or box-shadow)`);
      if (await activeIs(check)) return;
    }
    assert.fail(`${max} presses of ${key} did not reach ${what}; they went through: ${stops.join(" → ")}`);
  };
  const tabTo = (check: string, what: string, max?: number) => pressUntil("Tab", check, what, max);
  const shiftTabTo = (check: string, what: string, max?: number) => pressUntil("Shift+Tab", check, what, max);

  /** Focus moves as an effect of a key (after a render): waits, with a deadline, until the focused element passes `check`. */
  const focusSettles = (check: string, what: string) =>
    withDeadline(
      what,
      (async () => {
        while (!(await activeIs(check))) await page.waitForTimeout(50);
      })(),
      5_000,
    ).catch(async () => assert.fail(`waiting for ${what}, focus is on ${await focused()}`));

  /** After a route change the new page's heading has focus (what a screen reader then reads). */
  const assertFocusOnHeading = async (name: string | RegExp) => {
    await page.getByRole("heading", { level: 1, name }).waitFor();
    await focusSettles(`e.tagName === "H1"`, `focus on the page's heading ${name} after the route change`);
    const text = (await page.evaluate("document.activeElement.textContent")) as string;
    assert.ok(typeof name === "string" ? text === name : name.test(text), `focus is on the heading "${text}", expected ${name}`);
  };

  const signInByKeyboard = async (role: ConsoleRole) => {
    await page.goto(consoleUrl());
    await page.getByRole("heading", { name: "Sign in to the Moat console" }).waitFor();
    await tabTo(`e.id === "token"`, "the token field");
    await page.keyboard.type(fixture!.tokens[role]);
    await page.keyboard.press("Enter");
    await page.getByTestId("who").getByText(role, { exact: true }).waitFor();
  };

  /** axe-core on the page as it is now; its source goes in through CDP (the page's CSP stays as served), once per document. */
  const audit = async (name: string): Promise<Violation[]> => {
    if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(AXE_SOURCE);
    assert.equal(await page.evaluate("typeof window.axe?.run"), "function", "axe-core did not load into the page");
    const results = (await page.evaluate(
      `window.axe.run(document, { runOnly: { type: "tag", values: ${JSON.stringify(AXE_TAGS)} }, resultTypes: ["violations"] })
        .then((results) => ({ passed: results.passes.length, violations: results.violations.map((v) => ({ id: v.id, impact: v.impact ?? "", help: v.help, helpUrl: v.helpUrl, targets: v.nodes.map((n) => n.target.join(" ")) })) }))`,
    )) as { passed: number; violations: Omit<Violation, "page">[] };
    // An audit that checked nothing (a wrong tag, an empty page) would pass too: some rules must have applied and passed.
    assert.ok(results.passed >= 10, `axe-core passed only ${results.passed} rules on ${name}: did it audit the page?`);
    return results.violations.map((violation) => ({ page: name, ...violation }));
  };

  /** The page's CSP is the one served, and enforced with axe in the page: an inline script is refused, as a violation event says. */
  const assertCspEnforced = async () => {
    const violated = await page.evaluate(`new Promise((resolve) => {
      document.addEventListener("securitypolicyviolation", (event) => resolve(event.effectiveDirective), { once: true });
      document.head.appendChild(Object.assign(document.createElement("script"), { textContent: ${JSON.stringify(PROBE_SCRIPT)} }));
      setTimeout(() => resolve("no violation reported"), 5000);
    })`);
    assert.equal(await page.evaluate("window.inlineScriptRan === true"), false, "an inline script ran: the page's CSP is not enforced");
    assert.equal(violated, "script-src-elem", "the inline script was refused by the CSP's script-src");
  };

  /** Waits until the page has its heading and nothing of it is still loading. */
  const settled = async () => {
    await page.locator("main h1").first().waitFor();
    await page.locator(".loading").first().waitFor({ state: "detached" });
  };

  test("by keyboard alone: sign in, skip to the content, create a distribution, rotate its certificate through the confirmation, invalidate", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.setViewportSize(LAPTOP);
    await signInByKeyboard("admin");
    await page.getByRole("heading", { level: 1, name: "Distributions" }).waitFor();

    // The first stop of a signed-in page is the skip link, shown when focused; it moves focus to the main content.
    await page.keyboard.press("Tab");
    assert.equal(await focused(), 'a "Skip to content"');
    assert.ok(await page.evaluate(HAS_FOCUS_INDICATOR), "the skip link shows its focus");
    const skip = await page.getByRole("link", { name: "Skip to content" }).boundingBox();
    assert.ok(skip && skip.x >= 0 && skip.y >= 0 && skip.width > 1 && skip.x + skip.width <= LAPTOP.width, `the focused skip link is on screen: ${JSON.stringify(skip)}`);
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate("document.activeElement?.id"), "main", "the skip link moved focus to <main>");
    // The next stop is the first control of the page, past the header and navigation.
    await page.keyboard.press("Tab");
    assert.equal(await focused(), 'a "Create distribution"');

    // Create: the API's refusal lands on the field it names, which takes focus.
    await page.keyboard.press("Enter");
    await assertFocusOnHeading("Create a distribution");
    assert.match(await page.title(), /^Create a distribution/, "the document's title names the page");
    await tabTo(`e.id === "dist-id"`, "the Id field");
    await page.keyboard.type("shop");
    await tabTo(`e.id === "dist-aliases"`, "the Aliases field");
    await page.keyboard.type("shop.test");
    await tabTo(`e.id === "origin-0-url"`, "the Origin URL field");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("ftp://localhost/");
    await page.keyboard.press("Enter");
    await page.locator("#origin-0-url-error").waitFor();
    await focusSettles(`e.id === "origin-0-url"`, "focus to move to the first invalid field");
    assert.equal(await page.evaluate("document.activeElement.getAttribute('aria-invalid')"), "true");
    assert.match((await page.evaluate("document.activeElement.getAttribute('aria-describedby')")) as string, /(^| )origin-0-url-error( |$)/, "the error describes its field");
    assert.match(await page.locator("#origin-0-url-error").innerText(), /https/i);
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type(fixture!.origin.url);
    await page.keyboard.press("Enter");
    await assertFocusOnHeading("Distribution shop");
    await page.getByTestId("identity-app").getByText("spiffe://moat.internal/distribution/shop/origin/app").waitFor({ timeout: 60_000 });

    // Certificates, from the navigation (back through it with Shift+Tab).
    await shiftTabTo(`e.matches("nav a") && e.textContent === "Certificates"`, "Certificates in the navigation");
    await page.keyboard.press("Enter");
    await assertFocusOnHeading("Certificates");
    const group = page.locator('[data-testid="certificate-group"][data-name="shop/app"]');
    await group.locator('g[data-state="active"]').waitFor({ timeout: 60_000 });
    const oldSerial = (await group.locator('g[data-state="active"]').getAttribute("data-serial"))!;
    const isRotateButton = `e.getAttribute("aria-label") === "Rotate shop/app now"`;
    await tabTo(isRotateButton, "the rotate button of shop/app", 80);

    // The dialog takes focus, keeps Tab and Shift+Tab inside, and Escape closes it, focus back on its opener.
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.equal(await focused(), 'button "Cancel"', "the dialog's focus starts on Cancel");
    const inDialog = `e.closest("dialog[open]") !== null`;
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      seen.push(await focused());
      assert.ok(await activeIs(inDialog), `Tab left the dialog for ${seen.at(-1)} (stops: ${seen.join(" → ")})`);
      assert.ok(await page.evaluate(HAS_FOCUS_INDICATOR), `${seen.at(-1)} shows no focus in the dialog`);
    }
    assert.deepEqual(seen, ['button "Rotate now"', 'button "Cancel"', 'button "Rotate now"', 'button "Cancel"'], "Tab cycles between the dialog's two buttons");
    await page.keyboard.press("Shift+Tab");
    assert.equal(await focused(), 'button "Rotate now"', "Shift+Tab from the first control wraps to the last");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await focusSettles(isRotateButton, "Escape to return focus to the button that opened the dialog");
    assert.equal(await group.locator("g[data-serial]").count(), 1, "Escape asked for no rotation");

    await page.keyboard.press("Space");
    await dialog.waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await focused(), 'button "Rotate now"');
    await page.keyboard.press("Enter");
    await group.locator(`g[data-serial="${oldSerial}"][data-state="retired"]`).waitFor({ timeout: 60_000 });
    await page.getByText(/Rotation of shop\/app asked for/).waitFor();
    await focusSettles(`e.classList.contains("notice")`, "focus on the notice of the rotation (its button is gone with the retired certificate)");

    // An invalidation: the refused path takes focus with its message, then one that runs to completion.
    await shiftTabTo(`e.matches("nav a") && e.textContent === "Invalidations"`, "Invalidations in the navigation", 80);
    await page.keyboard.press("Enter");
    await assertFocusOnHeading("Invalidations");
    await tabTo(`e.id === "inv-distribution"`, "the Distribution select");
    await page.locator("#inv-distribution option", { hasText: "site" }).waitFor({ state: "attached" });
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate("document.activeElement.value"), "site", "an arrow key chooses in the select");
    await page.keyboard.press("ArrowUp");
    assert.equal(await page.evaluate("document.activeElement.value"), "shop");
    await tabTo(`e.id === "inv-paths"`, "the Paths field");
    await page.keyboard.type("no-slash");
    await tabTo(`e.textContent === "Invalidate"`, "the Invalidate button");
    await page.keyboard.press("Enter");
    await page.locator("#inv-paths-error").waitFor();
    await focusSettles(`e.id === "inv-paths"`, "focus to move to the refused field");
    assert.equal(await page.evaluate("document.activeElement.getAttribute('aria-invalid')"), "true");
    assert.match((await page.evaluate("document.activeElement.getAttribute('aria-describedby')")) as string, /(^| )inv-paths-error( |$)/);
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("/assets/*\n/hello");
    await tabTo(`e.textContent === "Invalidate"`, "the Invalidate button");
    await page.keyboard.press("Space");
    const recorded = page.getByText(/Invalidation \d+ recorded/);
    await recorded.waitFor();
    const id = /Invalidation (\d+) recorded/.exec(await recorded.innerText())![1]!;
    await page.locator(`[data-testid="invalidation"][data-id="${id}"][data-status="applied"]`).waitFor({ timeout: 60_000 });
  });

  test("axe-core finds no WCAG 2.2 A/AA violation on any page, as an admin and as a viewer, on a laptop and a 390 px phone", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const violations: Violation[] = [];
    // Traffic to chart: a request through the edge to the site distribution.
    const answer = await withDeadline("a request through the edge", viewerRequestWithSni(fixture!.viewerPort, { caPem: fixture!.ca.bundlePem, servername: "site.test", host: "site.test", path: "/a11y" }), 20_000);
    assert.equal(answer.status, 200);
    for (const role of ["admin", "viewer"] as const) {
      for (const [size, viewport] of [["laptop", LAPTOP], ["phone", PHONE]] as const) {
        await page.setViewportSize(viewport);
        const at = (name: string) => `${name} (${role}, ${size})`;
        const visit = async (path: string, name: string) => {
          const response = await page.goto(consoleUrl(path));
          assert.match(response?.headers()["content-security-policy"] ?? "", /script-src 'self';/, `${path} is served with its CSP`);
          await settled();
          violations.push(...(await audit(at(name))));
        };
        // Signed out: the sign-in page, also with the API's refusal shown.
        await page.goto(consoleUrl());
        const signInHeading = page.getByRole("heading", { name: "Sign in to the Moat console" });
        const signOut = page.getByRole("button", { name: "Sign out" });
        await signInHeading.or(signOut).waitFor();
        if (await signOut.isVisible()) await signOut.click();
        await signInHeading.waitFor();
        violations.push(...(await audit(at("sign-in"))));
        await page.getByLabel("API token").fill("moat_0123456789abcdef_notTheRightSecretAtAllxxxxxxxxxxxxxxxxxxxxxxx");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("alert").waitFor();
        violations.push(...(await audit(at("sign-in refused"))));
        await page.getByLabel("API token").fill(fixture!.tokens[role]);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByTestId("who").waitFor();

        await visit("distributions", "distributions");
        await assertCspEnforced();
        await visit("distributions/site", "distribution detail");
        await visit("distributions/site/edit", "distribution edit form");
        await visit("distributions/new", "distribution create form");
        if (role === "admin") {
          await page.getByLabel("Origin URL").fill("ftp://localhost/");
          await page.getByRole("button", { name: "Create", exact: true }).click();
          await page.locator(".field-error").first().waitFor();
          violations.push(...(await audit(at("distribution form with a validation error"))));
        }
        await visit("certificates", "certificates");
        await page.locator('[data-testid="certificate-group"]').first().waitFor();
        violations.push(...(await audit(at("certificates, loaded"))));
        if (role === "admin") {
          await page.getByRole("button", { name: /^Rotate / }).first().click();
          await page.getByRole("dialog").waitFor();
          violations.push(...(await audit(at("certificates with the confirm dialog open"))));
          await page.keyboard.press("Escape");
          await page.getByRole("dialog").waitFor({ state: "detached" });
        }
        await visit("invalidations", "invalidations");
        await visit("fleet", "fleet");
        await visit("traffic", "traffic");
        await page.getByTestId("chart-rps").locator("canvas").waitFor();
        // The canvas is hidden from screen readers; its figure's caption reads the latest value of every series.
        assert.equal(await page.getByTestId("chart-rps").getAttribute("aria-hidden"), "true");
        assert.match(await page.getByTestId("chart-rps-summary").innerText(), /^Requests per second, latest reading at \d\d:\d\d:\d\d: .*site: [\d.,]+ req\/s/);
        violations.push(...(await audit(at("traffic with its charts"))));
        await visit("audit", "audit");
        await visit("tokens", "tokens");
        if (role === "admin") {
          await page.getByRole("table").first().waitFor();
          violations.push(...(await audit(at("tokens, loaded"))));
          await page.getByLabel("Name", { exact: true }).fill("not a name!");
          await page.getByRole("button", { name: "Create API token" }).click();
          await page.locator("#token-name-error").waitFor();
          violations.push(...(await audit(at("tokens with a validation error"))));
          await page.getByLabel("Name", { exact: true }).fill(`a11y-${size}`);
          await page.getByRole("button", { name: "Create API token" }).click();
          await page.getByRole("dialog").waitFor();
          violations.push(...(await audit(at("tokens with a new token's secret shown"))));
          await page.getByRole("dialog").getByRole("button", { name: "Done" }).click();
          await page.getByRole("dialog").waitFor({ state: "detached" });
          await page.getByRole("button", { name: `Revoke token a11y-${size}`, exact: false }).click();
          await page.getByRole("dialog").waitFor();
          violations.push(...(await audit(at("tokens with the revoke confirmation open"))));
          await page.keyboard.press("Escape");
          await page.getByRole("dialog").waitFor({ state: "detached" });
        }
        await visit("no/such/page", "not found");
      }
    }
    const report = violations.map((v) => `${v.page}: ${v.id} (${v.impact}) ${v.help}\n    ${v.targets.slice(0, 6).join("\n    ")}${v.targets.length > 6 ? `\n    …and ${v.targets.length - 6} more` : ""}\n    ${v.helpUrl}`);
    if (report.length > 0) assert.fail(`axe-core found ${violations.length} violation(s):\n${report.join("\n")}`);
    // Putting axe into the page did not need the CSP loosened: no violation was reported on the way.
    assert.deepEqual(fixture!.pageErrors.filter((text) => /Content Security Policy|Refused to/i.test(text) && !text.includes(PROBE_HASH)), []);
  });
});
