// The example Prometheus alerting rules (docs/how-to/moat-alerts.yml) parse, name only metrics the edge has, and the how-to shows them as they are.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { createProcessMetrics } from "../../src/observe/metrics-registry.ts";
import { codeBlocks } from "../docs/markdown-blocks.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const RULES_FILE = join(ROOT, "docs", "how-to", "moat-alerts.yml");

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

test("the alerting rules parse as Prometheus rule groups, and each names only moat metrics the registry has", async () => {
  const rules = parseYaml(readFileSync(RULES_FILE, "utf8")) as RuleFile;
  assert.ok(Array.isArray(rules.groups) && rules.groups.length > 0, "a rule file has groups");
  const metrics = createProcessMetrics();
  const names = new Set((await metrics.json()).map((metric) => metric.name));
  // The primary's own page adds these (observe/metrics-registry.ts groupPage).
  names.add("moat_metrics_workers");
  names.add("moat_metrics_workers_answered");
  const alerts: string[] = [];
  for (const group of rules.groups) {
    assert.equal(typeof group.name, "string");
    for (const rule of group.rules) {
      assert.match(rule.alert, /^[A-Za-z_][A-Za-z0-9_]*$/, "an alert name Prometheus accepts");
      assert.equal(typeof rule.expr, "string");
      if (rule.for !== undefined) assert.match(rule.for, /^\d+[smhdwy]$/, `${rule.alert}: for is a duration`);
      const used = rule.expr.match(/\bmoat_[a-z_]+/g) ?? [];
      assert.ok(used.length > 0, `${rule.alert} uses a moat metric`);
      for (const name of used) assert.ok(names.has(name), `${rule.alert}: ${name} is not a metric of the edge`);
      alerts.push(rule.alert);
    }
  }
  // The two the issue asks for.
  const exprs = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
  assert.ok(exprs.includes("moat_certificate_not_after_seconds - time() < 7 * 86400"));
  assert.ok(exprs.includes('increase(moat_certificate_rotations_total{outcome="failed"}[1h]) > 0'));
  assert.ok(alerts.length >= 2);
});

test("the how-to shows the rules file as it is", () => {
  const page = join(ROOT, "docs", "how-to", "monitor-with-prometheus.md");
  const shown = codeBlocks(page).filter((block) => block.lang === "yaml" && block.code.includes("groups:"));
  assert.equal(shown.length, 1);
  assert.equal(shown[0]!.code, readFileSync(RULES_FILE, "utf8"));
});
