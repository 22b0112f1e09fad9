// Defensive reads of a document that has not been validated yet: anything malformed reads as absent, because the schema reports it.

export type Mapping = Record<string, unknown>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value under `key`, or undefined when `value` is not a mapping. */
export function fieldOf(value: unknown, key: string): unknown {
  return isMapping(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

/** The list under `key`, or [] when it is absent or not a list. */
export function listOf(value: unknown, key: string): readonly unknown[] {
  const list = fieldOf(value, key);
  return Array.isArray(list) ? list : [];
}

/** The string under `key`, or undefined. */
export function stringOf(value: unknown, key: string): string | undefined {
  const text = fieldOf(value, key);
  return typeof text === "string" ? text : undefined;
}
