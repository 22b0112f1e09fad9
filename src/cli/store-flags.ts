// The `--store ADDRESS` of the commands that read or change a store (MOAT_STORE when absent), and opening it.
import { existsSync } from "node:fs";
import { resolveStoreAddress, validateStoredDocument } from "../config/index.ts";
import { CliUsageError } from "../errors.ts";
import { openStore, parseStoreAddress } from "../store/index.ts";
import type { Store } from "../store/index.ts";

export const STORE_FLAG = { store: { type: "string" } } as const;

/**
 * Opens the store a command names. A plain path that does not exist is refused rather than created: a data
 * directory not made yet would otherwise become a file of that name.
 * @example
 * const store = await openCommandStore("export", values.store);
 */
export async function openCommandStore(command: string, flag: string | undefined): Promise<Store> {
  const address = resolveStoreAddress(flag);
  if (address === undefined) throw new CliUsageError(`${command}: --store ADDRESS is required (or MOAT_STORE).`, { fix: `run \`moat ${command} --help\`` });
  const parsed = parseStoreAddress(address);
  const isNamedFile = /^sqlite:/i.test(address) || /\.(db|sqlite3?)$/i.test(address);
  if (parsed.engine === "sqlite" && parsed.dataDir === undefined && !isNamedFile && !existsSync(parsed.target)) {
    throw new CliUsageError(`${command}: ${parsed.target} does not exist.`, {
      fix: `create the data directory first (\`moat ca init --data-dir ${parsed.target}\`), or name a store file: --store sqlite:${parsed.target}/moat.db`,
    });
  }
  return openStore({ address, validate: validateStoredDocument });
}
