// Where the master key that encrypts private keys at rest comes from: a flag, MOAT_MASTER_KEY, MOAT_MASTER_KEY_FILE or pki.masterKeyFile; the one place that reads those variables.

import { isAbsolute, relative, resolve } from "node:path";
import type { ConfigIssue } from "../errors.ts";
import { DEFAULTS } from "./defaults.ts";
import { issueAt } from "./issues.ts";
import type { MasterKeySource, MoatConfig } from "./types.ts";

export interface MasterKeySourceOptions {
  /** A `--master-key-file` flag, resolved against the working directory; it wins over everything. */
  flagFile?: string;
  /** The config's `pki.masterKeyFile` (already absolute), or null. */
  configuredFile?: string | null;
  /** Names the config in messages, e.g. its path. */
  configSource?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The master key's source, in order: a `--master-key-file` flag, MOAT_MASTER_KEY (base64 of
 * 32 bytes), MOAT_MASTER_KEY_FILE (a path), the config's pki.masterKeyFile; null when none is
 * set. The environment beats the config so that one config file can serve several installs,
 * as with MOAT_DATA_DIR. Only says where the key is: loading and checking it is the pki's job.
 *
 * @example
 * resolveMasterKeySource({ env: { MOAT_MASTER_KEY_FILE: "/etc/moat/master.key" } });
 * // { kind: "file", path: "/etc/moat/master.key", from: "MOAT_MASTER_KEY_FILE" }
 * resolveMasterKeySource({ configuredFile: config.pki.masterKeyFile, configSource: config.source });
 */
export function resolveMasterKeySource(options: MasterKeySourceOptions = {}): MasterKeySource | null {
  const env = options.env ?? process.env;
  if (options.flagFile) return { kind: "file", path: resolve(options.flagFile), from: "--master-key-file" };
  const inline = env[DEFAULTS.masterKeyEnv];
  if (inline) return { kind: "env", name: DEFAULTS.masterKeyEnv, value: () => inline };
  const file = env[DEFAULTS.masterKeyFileEnv];
  if (file) return { kind: "file", path: resolve(file), from: DEFAULTS.masterKeyFileEnv };
  if (options.configuredFile) {
    const from = options.configSource ? `pki.masterKeyFile in ${options.configSource}` : "pki.masterKeyFile";
    return { kind: "file", path: options.configuredFile, from };
  }
  return null;
}

/** True if `path` is `dir` or lies below it (by name; the pki also compares real paths). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * A master key kept in the data directory would be copied by every backup of the
 * data, next to the keys it protects: refused here, with the path, before anything runs.
 */
export function masterKeyFileIssues(config: MoatConfig): ConfigIssue[] {
  const file = config.pki.masterKeyFile;
  if (file === null || !isInside(config.dataDir, file)) return [];
  return [
    issueAt(
      ["pki", "masterKeyFile"],
      `must be outside the data directory ${config.dataDir}, so that a copy of the data never carries its key (got ${file}); move it, e.g. to /etc/moat/master.key`,
    ),
  ];
}
