// Deep-freezes a validated config: the validator's last step, and a worker's first with the config its primary validated (which arrives as a structured clone, not frozen).

/**
 * A snapshot is shared by every request in flight; freezing it makes an accidental write throw (in strict mode) rather than leak into them.
 * No schema here: a worker imports this file alone, not config/index.ts, and so never loads zod or yaml (see test/cli/run/start-imports.test.ts).
 * @example
 * const config = deepFreeze(message.config);
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
