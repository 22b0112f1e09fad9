// The connection flags of `moat guard` and `moat enrol serve`: read over the listener's defaults, bad values refused with the flag's name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connectionLimits } from "../../src/cli/connection-flags.ts";
import { CONNECTION_DEFAULTS } from "../../src/config/index.ts";
import { CliUsageError } from "../../src/errors.ts";

test("flags override the defaults one by one", () => {
  const limits = connectionLimits("guard", { "idle-timeout": "30s", "max-connections-per-address": "64" }, CONNECTION_DEFAULTS.guardConnections);
  assert.deepEqual(limits, { ...CONNECTION_DEFAULTS.guardConnections, idleMs: 30_000, maxConnectionsPerAddress: 64 });
  assert.deepEqual(connectionLimits("enrol serve", {}, CONNECTION_DEFAULTS.enrolConnections), CONNECTION_DEFAULTS.enrolConnections);
});

test("a bad value names its flag and what it needs", () => {
  const refused = (values: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => connectionLimits("guard", values, CONNECTION_DEFAULTS.guardConnections), (error: unknown) => error instanceof CliUsageError && pattern.test(error.message));
  refused({ "first-byte-timeout": "10" }, /^guard: --first-byte-timeout: .*unit/);
  refused({ "request-head-timeout": "1h" }, /--request-head-timeout 1h must be between 1ms and 10m/);
  refused({ "max-connections": "0" }, /--max-connections 0 must be a whole number from 1 to 1000000/);
  refused({ "max-connections-per-address": "ten" }, /--max-connections-per-address ten must be a whole number/);
});
