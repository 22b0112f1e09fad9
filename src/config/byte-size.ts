// Sizes as written in a config ("64KiB", "256MiB", "10GB") and their value in bytes.

const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/;

/**
 * Bytes, or what is wrong with the text. A bare number is refused like a bare duration: "512"
 * could be bytes or MiB. Units: B, KiB, MiB, GiB, TiB (powers of 1024) and KB, MB, GB, TB (of 1000).
 * @example
 * parseByteSize("256MiB"); // 268435456
 * parseByteSize("1.5KB");  // 1500
 * parseByteSize("512");    // "a unit is needed (B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
 */
export function parseByteSize(text: string): number | string {
  const match = SIZE.exec(text.trim());
  if (!match) return "expected a number followed by a unit, such as 256MiB";
  const [, amount = "", unit = ""] = match;
  if (unit === "") return "a unit is needed (B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)";
  const perUnit = BYTES_PER_UNIT[unit.toLowerCase()];
  if (perUnit === undefined) return `unknown unit "${unit}"; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB`;
  const bytes = Math.floor(Number(amount) * perUnit);
  if (!Number.isSafeInteger(bytes)) return "is too large";
  return bytes;
}

/** Writes bytes back in the largest binary unit that divides them, for messages ("1GiB", "1500B"). */
export function formatByteSize(bytes: number): string {
  for (const unit of ["TiB", "GiB", "MiB", "KiB"] as const) {
    const size = BYTES_PER_UNIT[unit.toLowerCase()] ?? 1;
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
