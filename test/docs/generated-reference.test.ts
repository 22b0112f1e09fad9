// The generated reference pages (docs/reference/{config-file,cli,errors,headers}.md) match what the code says today.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, referencePages } from "../../scripts/docs/reference-pages.ts";
import { CONFIG_FIELD_DOCS } from "../../src/config/field-docs.ts";

test("every generated reference page is committed as the code generates it today", () => {
  const pages = referencePages(ROOT);
  assert.ok(pages.size >= 4);
  for (const [path, expected] of pages) {
    const committed = readFileSync(join(ROOT, path), "utf8");
    assert.ok(committed === expected, `${path} is stale: run \`npm run docs:gen\` and commit the result`);
  }
});

test("the config reference names every schema key with its description, and the CLI reference every command", () => {
  const pages = referencePages(ROOT);
  const config = pages.get("docs/reference/config-file.md") ?? "";
  for (const [path, doc] of Object.entries(CONFIG_FIELD_DOCS)) {
    assert.ok(config.includes(`| \`${path}\` |`), `${path} is missing from the config reference`);
    assert.ok(doc.description.length > 0, `${path} has no description`);
  }
  assert.match(pages.get("docs/reference/errors.md") ?? "", /## origin-tls-failed/);
  assert.match(pages.get("docs/reference/headers.md") ?? "", /\| `viewer-gone` \| 502 \|/);
});
