import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration } from "../../src/config/index.ts";
import { InvalidDurationError } from "../../src/errors.ts";

describe("parseDuration", () => {
  it("reads every unit into milliseconds", () => {
    assert.equal(parseDuration("250ms"), 250);
    assert.equal(parseDuration("5s"), 5_000);
    assert.equal(parseDuration("10m"), 600_000);
    assert.equal(parseDuration("24h"), 86_400_000);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration("365d"), 31_536_000_000);
    assert.equal(parseDuration("0s"), 0);
  });

  it("reads decimals exactly, without floating-point residue", () => {
    assert.equal(parseDuration("1.5s"), 1_500);
    assert.equal(parseDuration("1.1s"), 1_100);
    assert.equal(parseDuration("0.5d"), 43_200_000);
  });

  it("refuses a bare number, saying a unit is needed", () => {
    assert.throws(() => parseDuration("5"), (error: unknown) => {
      assert.ok(error instanceof InvalidDurationError);
      assert.equal(error.code, "config-duration-invalid");
      assert.match(error.message, /unit is needed/);
      return true;
    });
  });

  it("refuses an unknown unit, naming it and saying a unit is needed", () => {
    assert.throws(() => parseDuration("5w"), /unknown unit "w"; a unit is needed/);
    assert.throws(() => parseDuration("5S"), InvalidDurationError);
    assert.throws(() => parseDuration("5 s"), InvalidDurationError);
  });

  it("refuses what is not a number followed by a unit", () => {
    for (const text of ["", "s", "-5s", "+5s", "1e3ms", "5s ", "1h30m", ".5s"]) {
      assert.throws(() => parseDuration(text), InvalidDurationError, text);
    }
  });

  it("refuses fractions of a millisecond and values beyond a safe integer", () => {
    assert.throws(() => parseDuration("0.5ms"), /whole number of milliseconds/);
    assert.throws(() => parseDuration("99999999999999999d"), /too large/);
  });
});
