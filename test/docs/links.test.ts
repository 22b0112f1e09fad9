// Every internal link and anchor in README.md and docs/**/*.md resolves (as GitHub and VitePress render them), and the README stays short.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = join(import.meta.dirname, "..", "..");
// Pages that may link to files outside docs/ (GitHub follows them; the site's build ignores them): the benchmark
// notes sit beside the bench code they describe, which maintains them.
const LINKS_OUT_OF_SITE = new Set(["docs/BENCHMARKS.md"]);

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".md") && !join(entry.parentPath, entry.name).includes(`${"/"}.vitepress${"/"}`))
    .map((entry) => join(entry.parentPath, entry.name));
  return [join(ROOT, "README.md"), ...docs.sort()];
}

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's heading anchor. */
function githubSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** VitePress's (@mdit-vue/shared slugify). */
function vitepressSlug(heading: string): string {
  return heading
    .normalize("NFKD")
    .replace(/[\u0300-\u036F]/g, "")
    .replace(/[\s~`!@#$%^&*()\-_+=[\]{}|\\;:"'“”‘’<>,.?/]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "")
    .replace(/^(\d)/, "_$1")
    .toLowerCase();
}

function headings(markdown: string): string[] {
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  return [...withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)].map((match) => (match[1] ?? "").replace(/`/g, "").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1"));
}

function anchorsOf(file: string): { github: Set<string>; vitepress: Set<string> } {
  const titles = headings(readFileSync(file, "utf8"));
  return { github: new Set(titles.map(githubSlug)), vitepress: new Set(titles.map(vitepressSlug)) };
}

test("every internal link and anchor in README.md and docs/ resolves", () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const text = prose(readFileSync(file, "utf8"));
    for (const match of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1] ?? "";
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      checked += 1;
      const [pathPart = "", anchor] = target.split("#");
      const where = `${relative(ROOT, file)}: (${target})`;
      const targetFile = pathPart === "" ? file : resolve(dirname(file), decodeURIComponent(pathPart));
      if (!existsSync(targetFile)) {
        problems.push(`${where}: no such file`);
        continue;
      }
      const isOutsideSite = !relative(ROOT, targetFile).startsWith("docs");
      if (pathPart !== "" && isOutsideSite && relative(ROOT, file).startsWith("docs") && !LINKS_OUT_OF_SITE.has(relative(ROOT, file))) {
        problems.push(`${where}: the site cannot link outside docs/; name the file in code instead`);
      }
      if (anchor === undefined) continue;
      if (statSync(targetFile).isDirectory() || !targetFile.endsWith(".md")) {
        problems.push(`${where}: an anchor into a file that is not Markdown`);
        continue;
      }
      const anchors = anchorsOf(targetFile);
      if (!anchors.github.has(anchor)) problems.push(`${where}: no heading with GitHub anchor #${anchor}`);
      else if (!isOutsideSite && !anchors.vitepress.has(anchor)) problems.push(`${where}: #${anchor} works on GitHub, not on the site (reword the heading)`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links found: is the pattern broken?`);
  assert.deepEqual(problems, []);
});

test("README.md is at most 8 KB and points into docs/", () => {
  const readme = readFileSync(join(ROOT, "README.md"));
  assert.ok(readme.length <= 8 * 1024, `README.md is ${readme.length} bytes; keep it under 8 KB and move details into docs/`);
  assert.match(readme.toString(), /\(docs\/index\.md\)/);
});
