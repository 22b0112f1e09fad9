import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { parseDuration } from "../../src/config/index.ts";
import * as field from "../../src/config/fields.ts";
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

describe("a duration field's JSON Schema (the config reference and the admin API's OpenAPI document)", () => {
  const schema = z.toJSONSchema(z.object({ timeout: field.duration({ min: 0, max: 86_400_000 }) }), { io: "input" }) as unknown as { properties: { timeout: { format?: string; pattern?: string } } };
  const { format, pattern } = schema.properties.timeout;

  it("does not claim JSON Schema's ISO 8601 duration format, which would refuse \"5s\"", () => {
    assert.notEqual(format, "duration");
  });

  it("has a pattern that agrees with parseDuration on the syntax (whole milliseconds and bounds are checked by the schema itself)", () => {
    assert.ok(pattern !== undefined);
    const matcher = new RegExp(pattern);
    for (const text of ["250ms", "5s", "1.5s", "10m", "24h", "365d", "0s", "5", "5S", "1e3ms", "PT5S", " 5s", "5 s", "-1s", "5sec", "1.s", ".5s"]) {
      let parsed: boolean;
      try {
        parseDuration(text);
        parsed = true;
      } catch {
        parsed = false;
      }
      assert.equal(matcher.test(text), parsed, `pattern and parser disagree on ${JSON.stringify(text)}`);
    }
  });
});
