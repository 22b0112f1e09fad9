// One string for each header value that stored responses repeat (a Content-Type, a Cache-Control, the Server, the Date of one second): a million entries hold a few thousand strings instead of several million copies, and a hit reads values already in the CPU's cache rather than one cold string per field.

/** Values longer than this are kept as they came (a long Content-Security-Policy is shared only if it fits). */
const VALUE_CHARS_MAX = 1024;
/** A generation of the table ends after this many values or this many characters, whichever comes first. */
const VALUES_PER_GENERATION = 16_384;
const CHARS_PER_GENERATION = 1 << 20;

/*
 * Two generations, so that the table stays bounded whatever the origins send (a unique ETag per response, a Date per
 * second) while a value that keeps coming stays the same string: a lookup that finds it in the previous generation
 * carries that very string into the current one. A value seen once ages out after two generations.
 */
let current = new Map<string, string>();
let previous = new Map<string, string>();
let currentChars = 0;

/**
 * The table's string equal to `value` (the same characters; one object for every caller), entered if there is none yet.
 * @example
 * headers["content-type"] = sharedValue(headers["content-type"]); // the one "text/css" every entry points at
 */
export function sharedValue(value: string): string {
  if (value.length > VALUE_CHARS_MAX) return value;
  let shared = current.get(value);
  if (shared !== undefined) return shared;
  shared = previous.get(value) ?? value;
  if (current.size >= VALUES_PER_GENERATION || currentChars + shared.length > CHARS_PER_GENERATION) {
    previous = current;
    current = new Map();
    currentChars = 0;
  }
  current.set(shared, shared);
  currentChars += shared.length;
  return shared;
}

/** How many values the table holds (both generations): at most 2 × 16,384. */
export function sharedValueCount(): number {
  return current.size + previous.size;
}

/**
 * Replaces each value of `headers` with the table's equal string, in place (the fields, their order and every value
 * compare the same: only which string object holds the characters changes), and returns the same object.
 * @example
 * shareHeaderValues(meta.headers); // then keep meta: its values are the table's
 */
export function shareHeaderValues<T extends Readonly<Record<string, string | readonly string[]>>>(headers: T): T {
  // A frozen object (none the cache makes) is left as it is rather than thrown on.
  if (Object.isFrozen(headers)) return headers;
  const fields = headers as Record<string, string | string[]>;
  for (const name in fields) {
    const value = fields[name];
    if (typeof value === "string") fields[name] = sharedValue(value);
    else if (Array.isArray(value) && !Object.isFrozen(value)) for (let index = 0; index < value.length; index++) value[index] = sharedValue(value[index] as string);
  }
  return headers;
}
