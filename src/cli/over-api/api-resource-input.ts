// What the commands that write over the admin API read from the command line: a resource's document from -f FILE, and --if-match.
import { dirname } from "node:path";
import { readConfigDocument, withAbsolutePaths } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";

/**
 * The document in FILE (YAML, or JSON when it ends in .json), as the config file would hold it at `at`, with its
 * relative paths made absolute against FILE's directory, as `moat apply` stores them.
 * @example
 * const distribution = await readResourceFile("dist create", file, (document) => ({ distributions: [document] }), (config) => config.distributions[0]);
 */
export async function readResourceFile<W>(command: string, file: string | undefined, wrap: (document: Record<string, unknown>) => W, unwrap: (wrapped: W) => unknown): Promise<Record<string, unknown>> {
  if (!file) throw new CliUsageError(`${command}: -f FILE is required: the resource as YAML or JSON, as the config file writes it.`, { fix: `run \`moat ${command} --help\`` });
  const document = await readConfigDocument(file);
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new CliUsageError(`${command}: ${file} must hold one resource, a mapping (got ${Array.isArray(document) ? "a list" : typeof document}).`);
  }
  return unwrap(withAbsolutePaths(wrap(document as Record<string, unknown>), dirname(file))) as Record<string, unknown>;
}

/** `--if-match 3` (or `"3"`, as an ETag is written): the version a write must find; undefined without the flag. */
export function parseIfMatch(command: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^"?(\d{1,15})"?$/.exec(value.trim());
  if (!match) throw new CliUsageError(`${command}: --if-match must be a version, a whole number as \`show\` prints it (got ${JSON.stringify(value)}).`);
  return Number(match[1]);
}

/** The one name a command takes as its argument. */
export function oneName(command: string, positionals: readonly string[], what: string): string {
  const [name, ...rest] = positionals;
  if (!name || rest.length > 0) throw new CliUsageError(`${command}: give exactly one ${what}.`, { fix: `run \`moat ${command} --help\`` });
  return name;
}
