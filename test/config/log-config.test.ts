// The `log` block and a distribution's `accessLog`: defaults, inheritance, and errors that name the path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.ts";
import { assertOnlyIssue, minimal } from "./fixture.ts";

const parse = (document: unknown) => parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });

test("without a log block, the level is left to the flag and every request is logged", () => {
  const config = parse(minimal());
  assert.deepEqual(config.log, { level: null, accessLogSample: 1 });
  assert.equal(config.distributions[0]?.accessLogSample, 1);
});

test("the file's access log applies to every distribution that does not set its own", () => {
  const base = minimal() as { distributions: Record<string, unknown>[] };
  const other = { ...base.distributions[0], id: "other", aliases: ["other.test"], accessLog: "on" };
  const sampled = { ...base.distributions[0], id: "sampled", aliases: ["sampled.test"], accessLog: { sample: 0.25 } };
  const config = parse({ ...base, log: { level: "warn", accessLog: "off" }, distributions: [...base.distributions, other, sampled] });
  assert.deepEqual(config.log, { level: "warn", accessLogSample: 0 });
  assert.deepEqual(config.distributions.map((d) => [d.id, d.accessLogSample]), [[base.distributions[0]?.id, 0], ["other", 1], ["sampled", 0.25]]);
  assert.equal(parse({ ...base, log: { accessLog: { sample: 1 } } }).log.accessLogSample, 1);
});

test("bad values are refused with their path", () => {
  assertOnlyIssue({ ...minimal(), log: { level: "verbose" } }, "log.level", "must be one of fatal, error, warn, info, debug, trace, silent");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { sample: 0 } } }, "log.accessLog.sample", "must be more than 0");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { sample: 1.5 } } }, "log.accessLog.sample", "must be at most 1");
  assertOnlyIssue({ ...minimal(), log: { accessLog: "sometimes" } }, "log.accessLog", "must be on, off or { sample: 0.1 }");
  assertOnlyIssue({ ...minimal(), log: { format: "json" } }, "log.format", "unknown key");
  const base = minimal() as { distributions: Record<string, unknown>[] };
  assertOnlyIssue({ ...base, distributions: [{ ...base.distributions[0], accessLog: { sample: "10%" } }] }, "distributions[0].accessLog.sample", "must be a number");
});
