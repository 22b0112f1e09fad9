// expiryWarning: the tightest of the 30/7/1-day thresholds reached, at and around each boundary.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expiryWarning } from "../../../src/pki/index.ts";
import { DAY_MS, HOUR_MS } from "./import-fixtures.ts";

const now = new Date("2030-06-01T12:00:00Z");
const left = (ms: number) => expiryWarning(new Date(now.getTime() + ms), now);

test("more than 30 days left: no warning", () => {
  assert.equal(left(31 * DAY_MS), null);
  assert.equal(left(30 * DAY_MS + 1), null);
});

test("30 days left, exactly and down to just over 7: the 30-day warning", () => {
  assert.deepEqual(left(30 * DAY_MS), { thresholdDays: 30, daysLeft: 30 });
  assert.deepEqual(left(30 * DAY_MS - 1), { thresholdDays: 30, daysLeft: 29 });
  assert.deepEqual(left(7 * DAY_MS + 1), { thresholdDays: 30, daysLeft: 7 });
});

test("7 days left down to just over 1: the 7-day warning", () => {
  assert.deepEqual(left(7 * DAY_MS), { thresholdDays: 7, daysLeft: 7 });
  assert.deepEqual(left(2 * DAY_MS), { thresholdDays: 7, daysLeft: 2 });
  assert.deepEqual(left(DAY_MS + 1), { thresholdDays: 7, daysLeft: 1 });
});

test("1 day or less, and after expiry: the 1-day warning, days left rounded down", () => {
  assert.deepEqual(left(DAY_MS), { thresholdDays: 1, daysLeft: 1 });
  assert.deepEqual(left(12 * HOUR_MS), { thresholdDays: 1, daysLeft: 0 });
  assert.deepEqual(left(0), { thresholdDays: 1, daysLeft: 0 });
  assert.deepEqual(left(-HOUR_MS), { thresholdDays: 1, daysLeft: -1 });
});
