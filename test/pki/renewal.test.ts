// Renewal points: a fraction of the life less a stable per-serial jitter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { renewalTime } from "../../src/pki/index.ts";

const notBefore = new Date("2026-01-01T00:00:00Z");
const notAfter = new Date("2026-01-02T00:00:00Z");
const dayMs = 86_400_000;

test("the renewal time falls between fraction − 10% and fraction of the life", () => {
  for (let i = 0; i < 200; i++) {
    const at = renewalTime({ notBefore, notAfter, serialHex: i.toString(16) }, 2 / 3).getTime() - notBefore.getTime();
    assert.ok(at > dayMs * (2 / 3 - 0.1) && at <= dayMs * (2 / 3), `serial ${i}: ${at}`);
  }
});

test("the same serial always gets the same time; different serials spread out", () => {
  const a = renewalTime({ notBefore, notAfter, serialHex: "0a1b2c" }, 0.75);
  assert.equal(renewalTime({ notBefore, notAfter, serialHex: "0a1b2c" }, 0.75).getTime(), a.getTime());
  const times = new Set(Array.from({ length: 50 }, (_, i) => renewalTime({ notBefore, notAfter, serialHex: `ff${i}` }, 0.75).getTime()));
  assert.ok(times.size > 45, "jitter spreads renewals");
});
