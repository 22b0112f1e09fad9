// The `log` block and a distribution's `accessLog`: defaults, inheritance, and errors that name the path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.ts";
import { assertOnlyIssue, minimal } from "./fixture.ts";

const parse = (document: unknown) => parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });

test("without a log block, the level is left to the flag and every request is logged", () => {
  const config = parse(minimal());
  assert.deepEqual(config.log, { level: null, accessLogSample: 1, accessLogFile: null });
  assert.equal(config.distributions[0]?.accessLogSample, 1);
});

test("the file's access log applies to every distribution that does not set its own", () => {
  const base = minimal() as { distributions: Record<string, unknown>[] };
  const other = { ...base.distributions[0], id: "other", aliases: ["other.test"], accessLog: "on" };
  const sampled = { ...base.distributions[0], id: "sampled", aliases: ["sampled.test"], accessLog: { sample: 0.25 } };
  const config = parse({ ...base, log: { level: "warn", accessLog: "off" }, distributions: [...base.distributions, other, sampled] });
  assert.deepEqual(config.log, { level: "warn", accessLogSample: 0, accessLogFile: null });
  assert.deepEqual(config.distributions.map((d) => [d.id, d.accessLogSample]), [[base.distributions[0]?.id, 0], ["other", 1], ["sampled", 0.25]]);
  assert.equal(parse({ ...base, log: { accessLog: { sample: 1 } } }).log.accessLogSample, 1);
});

test("log.accessLog.file sends the lines to a file, relative to the config file, rolled daily at 100 MiB keeping 7 unless rotate says", () => {
  const defaults = parse({ ...minimal(), log: { accessLog: { file: "logs/access.log" } } });
  assert.deepEqual(defaults.log, { level: null, accessLogSample: 1, accessLogFile: { path: "/etc/moat/logs/access.log", rotateBytes: 100 * 1024 * 1024, frequency: "daily", keep: 7 } });
  const set = parse({ ...minimal(), log: { accessLog: { sample: 0.5, file: "/var/log/moat/access.log", rotate: { size: "10MiB", frequency: "hourly", keep: 24 } } } });
  assert.deepEqual(set.log, { level: null, accessLogSample: 0.5, accessLogFile: { path: "/var/log/moat/access.log", rotateBytes: 10 * 1024 * 1024, frequency: "hourly", keep: 24 } });
});

test("bad values are refused with their path", () => {
  assertOnlyIssue({ ...minimal(), log: { accessLog: { rotate: { keep: 3 } } } }, "log.accessLog.rotate", "rotate needs a file");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { file: "a.log", rotate: { size: "100" } } } }, "log.accessLog.rotate.size", "a unit is needed");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { file: "a.log", rotate: { frequency: "weekly" } } } }, "log.accessLog.rotate.frequency", "must be daily or hourly");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { file: "a.log", rotate: { keep: 0 } } } }, "log.accessLog.rotate.keep", "must be at least 1");
  assertOnlyIssue({ ...minimal(), log: { level: "verbose" } }, "log.level", "must be one of fatal, error, warn, info, debug, trace, silent");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { sample: 0 } } }, "log.accessLog.sample", "must be more than 0");
  assertOnlyIssue({ ...minimal(), log: { accessLog: { sample: 1.5 } } }, "log.accessLog.sample", "must be at most 1");
  assertOnlyIssue({ ...minimal(), log: { accessLog: "sometimes" } }, "log.accessLog", "must be on, off or { sample: 0.1 }");
  assertOnlyIssue({ ...minimal(), log: { format: "json" } }, "log.format", "unknown key");
  const base = minimal() as { distributions: Record<string, unknown>[] };
  assertOnlyIssue({ ...base, distributions: [{ ...base.distributions[0], accessLog: { sample: "10%" } }] }, "distributions[0].accessLog.sample", "must be a number");
});
