// `workers`: auto or a count of processes for `moat start`, its default, and errors that name it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.ts";
import { workerCount } from "../../src/cli/run/start-command.ts";
import { availableParallelism } from "node:os";
import { assertOnlyIssue, minimal } from "./fixture.ts";

const parse = (document: unknown) => parseConfig(document, { source: "test", baseDir: "/etc/moat", env: {} });

test("without workers, one process per core (see docs/how-to/run-workers.md)", () => {
  assert.equal(parse(minimal()).workers, "auto");
});

test("auto is one worker per core; a count is taken as it is", () => {
  assert.equal(parse({ ...minimal(), workers: "auto" }).workers, "auto");
  assert.equal(workerCount("auto"), availableParallelism());
  assert.equal(parse({ ...minimal(), workers: 4 }).workers, 4);
  assert.equal(workerCount(4), 4);
});

test("anything else is refused with the key's path", () => {
  for (const workers of [0, 1.5, 257, "many", "2", null]) assertOnlyIssue({ ...minimal(), workers }, "workers", "must be auto (one worker per core) or a whole number between 1 and 256");
});
