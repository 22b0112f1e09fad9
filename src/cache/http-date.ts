// Parses an HTTP-date strictly (RFC 9110 §5.6.7): IMF-fixdate by fixed positions, the two obsolete forms as a fallback; no Date.parse.
//
// Date.parse accepts "UTC", missing commas, dashes, one-digit hours and more; RFC 9111 §5.3 says that
// such an Expires must count as already expired, so the cache needs to know a date is invalid.

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The time an HTTP-date names, in ms, or null when the value is not exactly one HTTP-date (a field sent
 * twice, a list, a near miss). `nowMs` places an rfc850-date's two-digit year (§5.6.7: "more than 50 years
 * in the future" means the most recent past year with those digits).
 * @example
 * httpDateMs("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * httpDateMs("Sun, 06 Nov 1994 08:49:37 UTC"); // null
 */
export function httpDateMs(value: string | readonly string[] | undefined, nowMs: number = Date.now()): number | null {
  if (value === undefined) return null;
  let text: string;
  if (typeof value === "string") text = value;
  else if (value.length === 1) text = value[0] as string;
  else return null;
  // RFC 9110 §5.5: leading and trailing whitespace is not part of a field value.
  text = text.trim();
  if (text.length === 29) return imfFixdate(text);
  if (text.length === 24) return asctimeDate(text);
  return rfc850Date(text, nowMs);
}

// IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT: "Sun, 06 Nov 1994 08:49:37 GMT".
function imfFixdate(text: string): number | null {
  if (text[3] !== "," || text[4] !== " " || text[7] !== " " || text[11] !== " " || text[16] !== " " || text[25] !== " " || !text.endsWith("GMT")) return null;
  if (!DAYS.includes(text.slice(0, 3))) return null;
  return timestamp(digits(text, 12, 4), MONTHS.indexOf(text.slice(8, 11)), digits(text, 5, 2), text, 17);
}

// asctime-date = day-name SP month SP ( 2DIGIT / ( SP DIGIT )) SP time-of-day SP year: "Sun Nov  6 08:49:37 1994".
function asctimeDate(text: string): number | null {
  if (text[3] !== " " || text[7] !== " " || text[10] !== " " || text[19] !== " " || !DAYS.includes(text.slice(0, 3))) return null;
  const day = text[8] === " " ? digits(text, 9, 1) : digits(text, 8, 2);
  return timestamp(digits(text, 20, 4), MONTHS.indexOf(text.slice(4, 7)), day, text, 11);
}

// rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT: "Sunday, 06-Nov-94 08:49:37 GMT".
function rfc850Date(text: string, nowMs: number): number | null {
  const comma = text.indexOf(",");
  if (comma < 6 || !LONG_DAYS.includes(text.slice(0, comma))) return null;
  const rest = text.slice(comma);
  if (rest.length !== 24 || rest[1] !== " " || rest[4] !== "-" || rest[8] !== "-" || rest[11] !== " " || rest[20] !== " " || !rest.endsWith("GMT")) return null;
  const twoDigits = digits(rest, 9, 2);
  if (twoDigits < 0) return null;
  const nowYear = new Date(nowMs).getUTCFullYear();
  let year = nowYear - (nowYear % 100) + twoDigits;
  const ms = timestamp(year, MONTHS.indexOf(rest.slice(5, 8)), digits(rest, 2, 2), rest, 12);
  if (ms === null) return null;
  // §5.6.7: "MUST interpret a timestamp that appears to be more than 50 years in the future as representing
  // the most recent year in the past that had the same last two digits".
  if (ms <= nowMs + 50 * 365.25 * 86_400_000) return ms;
  year -= 100;
  return timestamp(year, MONTHS.indexOf(rest.slice(5, 8)), digits(rest, 2, 2), rest, 12);
}

/** Checks the ranges (the day against its month) and the "HH:MM:SS" at `timeAt`. */
function timestamp(year: number, month: number, day: number, text: string, timeAt: number): number | null {
  if (text[timeAt + 2] !== ":" || text[timeAt + 5] !== ":") return null;
  const hour = digits(text, timeAt, 2);
  const minute = digits(text, timeAt + 3, 2);
  // §5.6.7: second = 2DIGIT; a leap second (60) is allowed by the grammar and taken as the next second.
  const second = digits(text, timeAt + 6, 2);
  if (year < 0 || month < 0 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  if (day > daysIn(year, month)) return null;
  // Date.UTC reads years 0–99 as 1900–1999: set the full year explicitly.
  const date = new Date(Date.UTC(2000, month, day, hour, minute, second));
  date.setUTCFullYear(year);
  return date.getTime();
}

function daysIn(year: number, month: number): number {
  if (month === 1) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}

/** The `count` ASCII digits at `at` as a number, or -1 when any is not a digit. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return -1;
    value = value * 10 + code;
  }
  return value;
}
