// The console's tokens page in Chromium against a running edge: API tokens and edge join tokens listed, created by keyboard (the API's refusals at their fields; the secret shown once, in a dialog, copied), revoked through a confirmation; admins only.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { Agent, fetch } from "undici";
import { withDeadline } from "../support/deadline.ts";
import { missingBrowser, oneSiteConfig, startConsoleFixture } from "./console-browser.ts";
import type { ConsoleFixture, ConsoleRole } from "./console-browser.ts";

describe("the console's tokens page, in Chromium against a running edge", { timeout: 300_000 }, () => {
  let fixture: ConsoleFixture | undefined;
  let page: Page;
  /** The secret the first test created, revoked by the second. */
  let createdSecret = "";
  const skipReason = missingBrowser();

  before(async () => {
    if (skipReason) return;
    fixture = await startConsoleFixture({ configFor: oneSiteConfig });
    page = fixture.page;
    // The copy button writes the clipboard; the test reads it back.
    await fixture.browser.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(fixture.apiUrl).origin });
  });

  after(async () => {
    await fixture?.close();
  });

  /** GET /whoami with `token`, verifying the API's certificate against the test CA: what the API makes of the token. */
  const whoami = async (token: string) => {
    const dispatcher = new Agent({ connect: { ca: fixture!.ca.bundlePem } });
    try {
      const response = await fetch(`${fixture!.apiUrl}/whoami`, { dispatcher, headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as { role?: string; name?: string; code?: string } };
    } finally {
      await dispatcher.close();
    }
  };

  const signIn = async (role: ConsoleRole) => {
    await page.goto(`${fixture!.apiUrl}/console/`);
    await page.getByLabel("API token").fill(fixture!.tokens[role]);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByTestId("who").getByText(role, { exact: true }).waitFor();
  };

  const focusedId = () => page.evaluate("document.activeElement?.id ?? ''") as Promise<string>;
  /** Focus moves after a render: waits for it, with a deadline. */
  const focusSettles = (check: string, what: string) =>
    withDeadline(
      what,
      (async () => {
        while (!(await page.evaluate(`(() => { const e = document.activeElement; return !!e && (${check}); })()`))) await page.waitForTimeout(50);
      })(),
      5_000,
    );

  test("an admin sees the API tokens and join tokens; creates one by keyboard through the API's refusals; its secret is shown once and copied, and works", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await signIn("admin");
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("heading", { level: 1, name: "Tokens" }).waitFor();
    const apiTokens = page.getByTestId("api-tokens");
    for (const role of ["viewer", "operator", "admin"] as const) await apiTokens.getByRole("rowheader", { name: `${role}-console` }).waitFor();
    assert.doesNotMatch(await page.locator("main").innerText(), /moat_[0-9a-f]{16}_/, "no secret in the list");
    await page.getByText("No join token yet.").waitFor();

    // By keyboard: a name the API refuses and a lifetime over its limit, each message at its field, focus on the first.
    await page.getByLabel("Name", { exact: true }).focus();
    await page.keyboard.type("not a name!");
    await page.keyboard.press("Tab");
    await page.keyboard.press("ArrowDown"); // role: operator
    await page.keyboard.press("Tab");
    await page.keyboard.type("400d");
    await page.keyboard.press("Enter");
    await page.locator("#token-name-error").waitFor();
    await focusSettles(`e.id === "token-name"`, "focus on the refused name field");
    assert.equal(await page.locator("#token-name").getAttribute("aria-invalid"), "true");
    assert.match((await page.locator("#token-name").getAttribute("aria-describedby")) ?? "", /token-name-error/);
    assert.match(await page.locator("#token-expires-error").innerText(), /expiresIn: must be more than 0 and at most 366d/);

    await page.keyboard.press("Control+a");
    await page.keyboard.type("ci-deploy");
    await page.locator("#token-expires").fill("30d");
    await page.locator("#token-name").focus();
    await page.keyboard.press("Enter");

    // The secret, once, in a dialog that says so; focus on Copy.
    const dialog = page.getByRole("dialog", { name: "API token ci-deploy created" });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /This is the only time it is shown/);
    const secret = await dialog.getByLabel("API token ci-deploy (operator)").inputValue();
    assert.match(secret, /^moat_[0-9a-f]{16}_\S+$/);
    createdSecret = secret;
    await focusSettles(`e.tagName === "BUTTON" && e.textContent === "Copy"`, "focus on Copy");
    await page.keyboard.press("Enter");
    await dialog.getByRole("status").getByText("Copied to the clipboard.").waitFor();
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), secret);
    assert.deepEqual((await whoami(secret)).body.role, "operator", "the secret shown is the token the API knows");

    // Escape closes it; focus goes back to the button that created it; the secret is gone from the page.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await focusSettles(`e.tagName === "BUTTON" && e.textContent === "Create API token"`, "focus back on Create API token");
    assert.equal(await page.evaluate(`document.documentElement.outerHTML.includes(${JSON.stringify(secret)})`), false, "the secret is nowhere in the page once closed");
    const row = apiTokens.locator("tr").filter({ has: page.getByRole("rowheader", { name: "ci-deploy" }) });
    await row.waitFor();
    assert.match(await row.innerText(), /operator[\s\S]*active/);
  });

  test("an API token revoked through the confirmation is refused by the API from then on", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const row = page.getByTestId("api-tokens").locator("tr").filter({ has: page.getByRole("rowheader", { name: "ci-deploy" }) });
    const id = (await row.getAttribute("data-id"))!;
    const revoke = row.getByRole("button", { name: `Revoke token ci-deploy (${id})` });
    await revoke.click();
    const confirm = page.getByRole("dialog", { name: "Revoke token ci-deploy?" });
    // Cancel first: nothing happens, focus returns to the button.
    await focusSettles(`e.textContent === "Cancel"`, "focus on Cancel");
    await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "detached" });
    await focusSettles(`e.getAttribute("aria-label")?.startsWith("Revoke token ci-deploy")`, "focus back on Revoke");
    await revoke.click();
    await confirm.getByRole("button", { name: "Revoke" }).click();
    await page.getByText(`Token ci-deploy (${id}) is revoked`).waitFor();
    await row.getByText("revoked", { exact: true }).waitFor();
    assert.equal(await row.getByRole("button").count(), 0, "a revoked token has no Revoke button");
    const refused = await whoami(createdSecret);
    assert.equal(refused.status, 401);
    assert.match(String((refused.body as { detail?: string }).detail), /was revoked/);
  });

  test("a join token: the API's refusal at the field, then created with its secret shown once, then revoked", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.locator("#join-name").fill("edge b!");
    await page.locator("#join-ttl").fill("8d");
    await page.getByRole("button", { name: "Create join token" }).click();
    await page.locator("#join-name-error").waitFor();
    await focusSettles(`e.id === "join-name"`, "focus on the refused edge name");
    assert.match(await page.locator("#join-ttl-error").innerText(), /ttl: must be more than 0 and at most 7d/);

    await page.locator("#join-name").fill("edge-b");
    await page.locator("#join-region").fill("eu-west");
    await page.locator("#join-ttl").fill("2h");
    await page.getByRole("button", { name: "Create join token" }).click();
    const dialog = page.getByRole("dialog", { name: "Join token for edge edge-b created" });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /This is the only time it is shown/);
    assert.match(await dialog.getByLabel("Join token for edge edge-b").inputValue(), /^moat_join_[0-9a-f]{16}_\S+$/);
    await dialog.getByRole("button", { name: "Done" }).click();
    await dialog.waitFor({ state: "detached" });

    const row = page.getByTestId("join-tokens").locator("tr").filter({ has: page.getByRole("rowheader", { name: "edge-b" }) });
    await row.getByText("usable", { exact: true }).waitFor();
    assert.match(await row.innerText(), /eu-west/);
    const id = (await row.getAttribute("data-id"))!;
    await row.getByRole("button", { name: `Revoke join token for edge-b (${id})` }).click();
    await page.getByRole("dialog", { name: "Revoke the join token for edge-b?" }).getByRole("button", { name: "Revoke" }).click();
    await page.getByText(`Join token ${id} for edge edge-b is revoked`).waitFor();
    await row.getByText("revoked", { exact: true }).waitFor();
    assert.equal(await focusedId(), "", "focus is on the notice (no id), not lost to the body");
    assert.equal(await page.evaluate("document.activeElement?.className"), "notice");
  });

  test("an operator has no Tokens page: not in the navigation, and the API's refusal when typed", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn("operator");
    assert.equal(await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Tokens" }).count(), 0);
    await page.goto(`${fixture!.apiUrl}/console/tokens`);
    await page.getByRole("alert").getByText("403 api-forbidden").first().waitFor();
    assert.equal(await page.getByRole("table").count(), 0);
  });
});
