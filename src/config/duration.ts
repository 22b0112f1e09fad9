// Durations as written in a config ("250ms", "5s", "24h", "365d") and their value in milliseconds.

import { InvalidDurationError } from "../errors.ts";

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// No sign, no exponent, no spaces, lowercase unit: "5S" or "1e3ms" are more likely typos than intent.
const DURATION = /^(\d+(?:\.\d+)?)([a-z]*)$/;

/**
 * Parses a duration such as "250ms", "5s", "10m", "24h" or "1d" into milliseconds.
 * A bare number is refused: "5" could mean seconds or milliseconds, and guessing wrong
 * turns a 5-second timeout into a 5-millisecond one.
 *
 * @example
 * parseDuration("24h"); // 86_400_000
 * parseDuration("1.5s"); // 1_500
 * parseDuration("5"); // throws InvalidDurationError: needs a unit
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new InvalidDurationError(text, "expected a number followed by a unit");
  const [, amount = "", unit = ""] = match;
  if (unit === "") throw new InvalidDurationError(text, "a unit is needed (ms, s, m, h or d)");
  const msPerUnit = MS_PER_UNIT[unit];
  if (msPerUnit === undefined) {
    throw new InvalidDurationError(text, `unknown unit "${unit}"; a unit is needed: ms, s, m, h or d`);
  }
  return toWholeMs(text, amount, msPerUnit);
}

// Decimal arithmetic in BigInt, because 1.1 * 1000 is 1100.0000000000002 in floating point.
function toWholeMs(text: string, amount: string, msPerUnit: number): number {
  const [whole = "", fraction = ""] = amount.split(".");
  const scale = 10n ** BigInt(fraction.length);
  const scaledMs = BigInt(whole + fraction) * BigInt(msPerUnit);
  if (scaledMs % scale !== 0n) throw new InvalidDurationError(text, "must be a whole number of milliseconds");
  const ms = Number(scaledMs / scale);
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(text, "is too large");
  return ms;
}

/** Writes milliseconds back in the largest unit that divides them, for messages ("90d", "1500ms"). */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = MS_PER_UNIT[unit] ?? 1;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
