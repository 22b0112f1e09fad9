// Renewal points: a fraction of the life less a stable per-serial jitter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { renewalTime, renewsAt } from "../../src/pki/index.ts";

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

test("the bounds a fleet relies on: at the highest renewal fraction allowed (0.95), a renewal still falls at least 5% of the life before expiry, and never more than 10% before the fraction", () => {
  const life = 90 * dayMs;
  const start = new Date("2026-03-01T00:00:00Z");
  const end = new Date(start.getTime() + life);
  let earliest = Infinity;
  let latest = -Infinity;
  for (let i = 0; i < 1_000; i++) {
    const at = renewalTime({ notBefore: start, notAfter: end, serialHex: (0x10000 + i * 7919).toString(16) }, 0.95).getTime() - start.getTime();
    earliest = Math.min(earliest, at);
    latest = Math.max(latest, at);
    assert.ok(at <= life * 0.95 && at <= life - life * 0.05, `serial ${i}: renews ${life - at} ms before expiry`);
    assert.ok(at >= life * (0.95 - 0.1), `serial ${i}: renews too early (${at})`);
  }
  // A fleet's certificates of one lifetime spread over most of the window rather than bunching at one instant.
  assert.ok(latest - earliest > life * 0.1 * 0.9, `spread ${latest - earliest} ms of a ${life * 0.1} ms window`);
});

test("renewsAt: the renewal time of an issued certificate still to be used; null for an imported one and a retired, revoked or expired one", () => {
  const base = { notBefore, notAfter, serialHex: "0a1b2c" };
  const due = renewalTime(base, 0.75).getTime();
  for (const state of ["active", "next", "not-yet-valid"]) assert.equal(renewsAt({ ...base, source: "issued", state }, 0.75)?.getTime(), due, state);
  for (const state of ["retired", "revoked", "expired"]) assert.equal(renewsAt({ ...base, source: "issued", state }, 0.75), null, state);
  assert.equal(renewsAt({ ...base, source: "imported", state: "active" }, 0.75), null);
});
