// How the console writes times, durations and counts: absolute times in UTC (as the API and logs give them), with how long ago or ahead.

const UNITS: readonly [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["min", 60_000],
  ["s", 1_000],
];

/** `3 d 4 h`, `12 min`, `now`: the two largest units. */
export function formatDuration(ms: number): string {
  let rest = Math.abs(ms);
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  return parts.length === 0 ? "now" : parts.join(" ");
}

/** `in 3 d 4 h`, `12 min ago`. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const delta = new Date(iso).getTime() - now;
  if (Math.abs(delta) < 1_000) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`;
}

/** `2026-12-06 04:05 UTC`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function formatCount(value: number, digits = 0): string {
  return value.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatPercent(ratio: number | undefined): string {
  return ratio === undefined || Number.isNaN(ratio) ? "—" : `${(ratio * 100).toFixed(1)} %`;
}
