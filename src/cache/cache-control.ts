// Parses Cache-Control (RFC 9111 §5.2) into directives: names lowercased, quoted values unquoted.

export type Directives = ReadonlyMap<string, string | true>;

type HeaderValue = string | string[] | undefined;

/**
 * The result is shared between callers that give the same text: a ReadonlyMap, never changed.
 *
 * RFC 9111 §5.2: `Cache-Control = #cache-directive`, `cache-directive = token [ "=" ( token / quoted-string ) ]`.
 * Several field lines are one list (RFC 9110 §5.3). A directive that repeats keeps its first value;
 * a malformed member is skipped, as §4.2.1 allows ("a cache ... SHOULD consider ... invalid").
 * @example
 * parseCacheControl('max-age=60, no-cache="set-cookie"'); // Map { "max-age" => "60", "no-cache" => "set-cookie" }
 */
export function parseCacheControl(value: HeaderValue): Directives {
  const text = Array.isArray(value) ? value.join(",") : value;
  if (!text) return NO_DIRECTIVES;
  // Origins send the same few values over and over ("no-store", "public, max-age=3600"): each is parsed once.
  let directives = parsedByText.get(text);
  if (directives === undefined) {
    directives = parseText(text);
    if (parsedByText.size < PARSED_TEXTS) parsedByText.set(text, directives);
  }
  return directives;
}

// Bounded: an origin sending a new value every time fills it once, then those values are parsed each time.
const PARSED_TEXTS = 512;
const parsedByText = new Map<string, Directives>();
const NO_DIRECTIVES: Directives = new Map();

function parseText(text: string): Directives {
  const directives = new Map<string, string | true>();
  for (const member of splitList(text)) {
    const eq = member.indexOf("=");
    const rawName = eq === -1 ? member : member.slice(0, eq);
    const name = rawName.trim().toLowerCase();
    if (name === "" || directives.has(name)) continue;
    if (eq === -1) {
      directives.set(name, true);
      continue;
    }
    let argument = member.slice(eq + 1);
    // The grammar has no whitespace around "=": "max-age =60" or "max-age= 60" is malformed, not max-age (cache-tests cc-parse).
    if (/\s$/.test(rawName) || /^\s/.test(argument)) continue;
    argument = argument.trim();
    if (argument.startsWith('"') && argument.endsWith('"') && argument.length >= 2) argument = argument.slice(1, -1).replace(/\\(.)/g, "$1");
    directives.set(name, argument);
  }
  return directives;
}

/** Splits a list on commas outside quoted strings. */
function splitList(text: string): string[] {
  const members: string[] = [];
  let current = "";
  let isQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && isQuoted) {
      current += ch + (text[i + 1] ?? "");
      i++;
    } else if (ch === '"') {
      isQuoted = !isQuoted;
      current += ch;
    } else if (ch === "," && !isQuoted) {
      members.push(current);
      current = "";
    } else current += ch;
  }
  members.push(current);
  return members.map((m) => m.trim()).filter(Boolean);
}

/**
 * A delta-seconds argument (RFC 9111 §1.2.2), or null when it is missing or malformed.
 * "If a cache receives a delta-seconds value greater than the greatest integer it can represent ... it
 * MUST consider the value to be 2147483648."
 */
export function deltaSeconds(directives: Directives, name: string): number | null {
  const value = directives.get(name);
  if (typeof value !== "string" || !/^\d+$/.test(value)) return null;
  return Math.min(Number(value), 2_147_483_648);
}
