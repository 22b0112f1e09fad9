// The audit checkpoints' interval from MOAT_AUDIT_CHECKPOINT_MS, as `moat start` and `moat demo` read it before the edge starts.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { AUDIT_CHECKPOINT_ENV, AUDIT_CHECKPOINT_INTERVAL_MS } from "../../../src/control/audit-checkpoints.ts";
import { auditCheckpointIntervalMs } from "../../../src/cli/run/start-command.ts";

const checkpointing = { AUDIT_CHECKPOINT_ENV, AUDIT_CHECKPOINT_INTERVAL_MS };
const saved = process.env[AUDIT_CHECKPOINT_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[AUDIT_CHECKPOINT_ENV];
  else process.env[AUDIT_CHECKPOINT_ENV] = saved;
});

test("unset: the default, 5 minutes; set: that many milliseconds", () => {
  delete process.env[AUDIT_CHECKPOINT_ENV];
  assert.equal(auditCheckpointIntervalMs(checkpointing, "start"), 300_000);
  process.env[AUDIT_CHECKPOINT_ENV] = "60000";
  assert.equal(auditCheckpointIntervalMs(checkpointing, "demo"), 60_000);
});

test("a value that is not a whole number of at least 1000 ms is a usage error naming the command, the variable and the fix", () => {
  for (const value of ["5m", "999", "1500.5", "-1"]) {
    process.env[AUDIT_CHECKPOINT_ENV] = value;
    assert.throws(() => auditCheckpointIntervalMs(checkpointing, "demo"), (error: Error & { code?: string; fix?: string }) => {
      assert.equal(error.code, "cli-usage");
      assert.ok(error.message.startsWith(`demo: ${AUDIT_CHECKPOINT_ENV}=${JSON.stringify(value)} is not a number of milliseconds of at least 1000.`), error.message);
      assert.match(error.fix ?? "", /^unset it \(the default is 300000, 5 minutes\), or set a whole number such as MOAT_AUDIT_CHECKPOINT_MS=60000$/);
      return true;
    });
  }
});
