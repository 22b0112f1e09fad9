// Every YAML config example in README.md and docs/ passes the real config validator (parseConfig), so a pasted example is a valid config.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../../src/config/index.ts";
import { configSchema } from "../../src/config/schema.ts";
import { codeBlocks } from "./markdown-blocks.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const TOP_LEVEL_KEYS = new Set(Object.keys(configSchema.shape));

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".md") && !entry.parentPath.includes(".vitepress"))
    .map((entry) => join(entry.parentPath, entry.name));
  return [join(ROOT, "README.md"), ...docs.sort()];
}

type Document = Record<string, unknown>;
type Distribution = { id?: string; aliases?: unknown; origins?: unknown; behaviors?: { target?: string }[] };

/**
 * A page may show one section of a config (`cache:`, `log:`): completed with the least a config needs
 * (a distribution; its aliases, and an origin for each behavior's target) and nothing that would hide a mistake.
 */
function completed(document: Document): Document {
  const distributions = (document.distributions as Distribution[] | undefined) ?? [{ id: "example" }];
  return {
    ...document,
    distributions: distributions.map((distribution) => {
      const targets = [...new Set((distribution.behaviors ?? []).map((behavior) => behavior.target ?? "api"))];
      return {
        ...distribution,
        aliases: distribution.aliases ?? [`${distribution.id ?? "example"}.example.test`],
        origins: distribution.origins ?? (targets.length > 0 ? targets : ["api"]).map((id) => ({ id, url: `https://${id}.internal:9443` })),
      };
    }),
  };
}

test("every YAML config example in the README and docs/ is a valid config", () => {
  let checked = 0;
  const problems: string[] = [];
  for (const file of markdownFiles()) {
    for (const block of codeBlocks(file)) {
      if (block.lang !== "yaml" || block.markers.includes("illustrative")) continue;
      const where = `${relative(ROOT, file)}:${block.line}`;
      const document = parseYaml(block.code) as unknown;
      const keys = typeof document === "object" && document !== null ? Object.keys(document) : [];
      const unknown = keys.filter((key) => !TOP_LEVEL_KEYS.has(key));
      if (keys.length === 0 || unknown.length > 0) {
        problems.push(`${where}: not a config (top-level ${unknown.join(", ") || "nothing"}); make it one, or mark it <!-- illustrative -->`);
        continue;
      }
      checked += 1;
      try {
        parseConfig(completed(document as Document), { source: where, baseDir: ROOT, env: {} });
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  assert.ok(checked >= 8, `only ${checked} config examples found`);
  assert.deepEqual(problems, []);
});
