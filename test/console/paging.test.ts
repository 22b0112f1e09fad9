// The console's long lists a page at a time, in Chromium against an edge with 55 distributions: distributions and the audit trail page through the API's cursors, certificates through whole groups, 50 rows a page, with next and previous.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { missingBrowser, startConsoleFixture } from "./console-browser.ts";
import type { ConsoleFixture } from "./console-browser.ts";

/** axe-core's bundle, run in the page through CDP (the page's CSP stays as served), as the accessibility test does. */
const AXE_SOURCE = (createRequire(import.meta.url)("axe-core") as { source: string }).source;
const COUNT = 55;
const names = Array.from({ length: COUNT }, (_, index) => `d${String(index + 1).padStart(2, "0")}`);

const config = (originUrl: string) => `dataDir: ./data
workers: 1
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
${names.map((name) => `  - id: ${name}\n    aliases: [${name}.test]\n    origins: [{ id: app, url: "${originUrl}" }]`).join("\n")}
`;

describe("the console's lists, 50 rows a page, in Chromium against an edge with 55 distributions", { timeout: 300_000 }, () => {
  let fixture: ConsoleFixture | undefined;
  let page: Page;
  const skipReason = missingBrowser();

  before(async () => {
    if (skipReason) return;
    fixture = await startConsoleFixture({ configFor: config });
    page = fixture.page;
    await page.goto(`${fixture.apiUrl}/console/`);
    await page.getByLabel("API token").fill(fixture.tokens.admin);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByTestId("who").getByText("admin", { exact: true }).waitFor();
  });

  after(async () => {
    await fixture?.close();
  });

  /** axe-core's WCAG 2.2 A/AA rules on the page as it is: the violations, as `rule: targets`. */
  const axeViolations = async (): Promise<string[]> => {
    if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(AXE_SOURCE);
    return (await page.evaluate(
      `window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] }, resultTypes: ["violations"] }).then((r) => r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`,
    )) as string[];
  };
  const pager = (label: string) => page.getByRole("navigation", { name: `${label} pages` });
  /** The row headers (or first cells) of the table, in order. */
  const firstColumn = (table: string) => page.locator(`${table} tbody tr`).evaluateAll((rows) => rows.map((row) => (row.firstElementChild?.textContent ?? "").trim()));

  test("distributions: 50, then the 5 after them through the API's cursor, and back", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Distributions" }).click();
    await page.getByRole("link", { name: "d01", exact: true }).waitFor();
    assert.deepEqual(await firstColumn("main table"), names.slice(0, 50));
    assert.equal(await pager("Distributions").getByRole("button", { name: "Previous 50" }).isDisabled(), true);
    assert.match(await pager("Distributions").innerText(), /Page 1, rows 1–50/);

    assert.deepEqual(await axeViolations(), [], "the first page with its pager passes axe");

    // The second page, by keyboard (Enter on Next 50), is read with the API's cursor: the request names it.
    const read = page.waitForRequest((request) => request.url().includes("/distributions?") && request.url().includes("cursor=d50"));
    await pager("Distributions").getByRole("button", { name: "Next 50" }).focus();
    await page.keyboard.press("Enter");
    const request = await read;
    assert.equal(new URL(request.url()).searchParams.get("limit"), "50");
    await page.getByRole("link", { name: "d55", exact: true }).waitFor();
    assert.deepEqual(await firstColumn("main table"), names.slice(50));
    assert.match(await pager("Distributions").innerText(), /Page 2, rows 51–55/);
    assert.equal(await pager("Distributions").getByRole("button", { name: "Next 50" }).isDisabled(), true);
    assert.deepEqual(await axeViolations(), [], "the last page with its pager passes axe");
    assert.equal(await page.evaluate("document.activeElement?.textContent"), "Next 50", "focus stays on the button pressed to reach the end");

    await pager("Distributions").getByRole("button", { name: "Previous 50" }).click();
    await page.getByRole("link", { name: "d01", exact: true }).waitFor();
    assert.deepEqual(await firstColumn("main table"), names.slice(0, 50));
  });

  test("certificates: at most 50 rows a page, a name's generations never split, every certificate on some page", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Certificates" }).click();
    // The edge issues an origin certificate per distribution once it applied them: wait until it has for all 55.
    const total = async () => Number(/of (\d+)/.exec(await pager("Certificates").innerText())?.[1] ?? 0);
    await pager("Certificates").waitFor();
    for (let tries = 0; tries < 120 && (await total()) <= COUNT; tries++) await page.waitForTimeout(500);
    assert.ok((await total()) > COUNT, `only ${await total()} certificates after a minute`);
    const seen = new Set<string>();
    const groupsSeen = new Set<string>();
    let pages = 0;
    while (true) {
      pages++;
      const serials = await page.locator("tbody tr[data-serial]").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-serial") ?? ""));
      assert.ok(serials.length > 0 && serials.length <= 50, `page ${pages} has ${serials.length} rows`);
      for (const group of await page.getByTestId("certificate-group").locator("h2").allInnerTexts()) {
        assert.ok(!groupsSeen.has(group), `the group ${group} is split across pages`);
        groupsSeen.add(group);
      }
      for (const serial of serials) {
        assert.ok(!seen.has(serial), `${serial} shown on two pages`);
        seen.add(serial);
      }
      const next = pager("Certificates").getByRole("button", { name: "Next 50" });
      if (await next.isDisabled()) break;
      const firstSerial = serials[0]!;
      await next.click();
      await page.locator(`tbody tr[data-serial="${firstSerial}"]`).waitFor({ state: "detached" });
    }
    assert.ok(pages >= 2, `${seen.size} certificates fit one page?`);
    assert.equal(seen.size, await total(), "every certificate is on exactly one page");
    assert.ok(seen.size > 50);
  });

  test("the audit trail: the newest 50 records, then the 50 before them through the API's cursor", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Audit" }).click();
    const head = Number(/head #(\d+)/.exec(await page.getByTestId("chain-status").innerText())?.[1]);
    assert.ok(head > 50, `the trail has ${head} records: applying 55 distributions should make more than 50`);
    await pager("Audit trail").waitFor();
    const first = (await firstColumn("[data-testid=audit]")).map(Number);
    assert.deepEqual(first, Array.from({ length: 50 }, (_, index) => head - index), "the newest 50, newest first");
    const read = page.waitForRequest((request) => request.url().includes("/audit?") && new URL(request.url()).searchParams.get("after") === String(Math.max(0, head - 100)));
    await pager("Audit trail").getByRole("button", { name: "Next 50" }).click();
    await read;
    await page.locator("[data-testid=audit] tbody tr").first().getByText(String(head - 50), { exact: true }).waitFor();
    const second = (await firstColumn("[data-testid=audit]")).map(Number);
    assert.deepEqual(second, Array.from({ length: Math.min(50, head - 50) }, (_, index) => head - 50 - index));
    assert.match(await pager("Audit trail").innerText(), new RegExp(`Page 2, rows 51–${50 + second.length} of ${head}`));
  });
});
