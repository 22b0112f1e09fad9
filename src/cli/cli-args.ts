// Parses a command's flags with node:util parseArgs and turns its errors into CliUsageError.
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { CliUsageError } from "../errors.ts";

/**
 * @example
 * const { values } = parseCliArgs("ca init", args, { "data-dir": { type: "string" } });
 */
export function parseCliArgs<O extends NonNullable<ParseArgsConfig["options"]>>(command: string, args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw new CliUsageError(`${command}: ${(error as Error).message}`, { fix: `run \`moat ${command} --help\`` });
  }
}
