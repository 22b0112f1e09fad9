// Where Moat keeps its state (CA, keys, certificates): the one place that reads MOAT_DATA_DIR.

import { resolve } from "node:path";
import { DEFAULTS } from "./defaults.ts";

/**
 * An explicit directory (from a config file or a --data-dir flag) wins, resolved against
 * `baseDir`; then MOAT_DATA_DIR, so that one config file can serve several installs; then
 * ./.moat. The last two resolve against the working directory, as a shell user expects.
 *
 * @example
 * resolveDataDir("/var/lib/moat"); // "/var/lib/moat"
 * resolveDataDir(undefined, { MOAT_DATA_DIR: "/srv/moat" }); // "/srv/moat"
 * resolveDataDir("state", {}, "/etc/moat"); // "/etc/moat/state"
 */
export function resolveDataDir(dataDir?: string, env: NodeJS.ProcessEnv = process.env, baseDir: string = process.cwd()): string {
  if (dataDir !== undefined && dataDir !== "") return resolve(baseDir, dataDir);
  return resolve(process.cwd(), env[DEFAULTS.dataDirEnv] || DEFAULTS.dataDir);
}

/** Whether MOAT_DATA_DIR names a data directory: the commands with a local and an API form then stay local unless --api or --context is given. */
export function isDataDirInEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env[DEFAULTS.dataDirEnv] ?? "") !== "";
}
