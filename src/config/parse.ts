// Validates a parsed document (schema, then cross-references), normalises it and freezes the result.

import { resolve } from "node:path";
import { ConfigInvalidError, type ConfigIssue } from "../errors.ts";
import { deepFreeze } from "./freeze.ts";
import { configErrorMap, toConfigIssues } from "./issues.ts";
import { masterKeyFileIssues } from "./master-key-source.ts";
import { normaliseConfig } from "./normalise.ts";
import { checkReferences } from "./references.ts";
import { configSchema } from "./schema.ts";
import type { MoatConfig } from "./types.ts";

export interface ParseConfigOptions {
  /** The file path or a label, used in messages and kept as MoatConfig.source. */
  source: string;
  /** Relative paths in the document (dataDir, certificates, CA bundles) resolve against it. */
  baseDir: string;
  /** Defaults to process.env; config is the only part of Moat that reads it. */
  env?: NodeJS.ProcessEnv;
}

export type ValidationResult = { ok: true; config: MoatConfig } | { ok: false; issues: ConfigIssue[] };

/** Every issue of the document at once, or the normalised, deep-frozen config. */
export function validateConfig(document: unknown, options: ParseConfigOptions): ValidationResult {
  const parsed = configSchema.safeParse(document, { error: configErrorMap });
  const issues = [...(parsed.success ? [] : toConfigIssues(parsed.error.issues)), ...checkReferences(document)];
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  const config = normaliseConfig(parsed.data, {
    source: options.source,
    baseDir: resolve(options.baseDir),
    env: options.env ?? process.env,
  });
  // Needs the resolved dataDir (which MOAT_DATA_DIR may decide), so it runs after normalising.
  const keyIssues = masterKeyFileIssues(config);
  if (keyIssues.length > 0) return { ok: false, issues: keyIssues };
  return { ok: true, config: deepFreeze(config) };
}

export function parseConfig(document: unknown, options: ParseConfigOptions): MoatConfig {
  const result = validateConfig(document, options);
  if (!result.ok) throw new ConfigInvalidError(options.source, result.issues);
  return result.config;
}
