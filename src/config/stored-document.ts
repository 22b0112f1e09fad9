// A config document as a store holds it: validated by the file's schema, with every path absolute; and where the store is.
import { hostname } from "node:os";
import type { ConfigIssue } from "../errors.ts";
import { DEFAULTS } from "./defaults.ts";
import { relativePathIssues } from "./document-paths.ts";
import { validateConfig } from "./parse.ts";

/**
 * The store's validator (openStore's `validate`): every issue of the schema and cross-references, and every
 * relative path (a stored document has no directory of its own). Files are not looked at: they must exist on the
 * edge that builds the revision, not on the host that writes it.
 */
export function validateStoredDocument(document: Record<string, unknown>): ConfigIssue[] {
  const result = validateConfig(document, { source: "store", baseDir: "/", env: {} });
  return [...(result.ok ? [] : result.issues), ...relativePathIssues(document)];
}

/** `--store ADDRESS` wins over MOAT_STORE; undefined when neither is set. */
/**
 * The name an edge run from a store goes by there (its applied invalidations): `--edge-name`, else MOAT_EDGE_NAME,
 * else the host name. Edges sharing a store need names of their own; two with one name would pass for one.
 */
export function resolveEdgeName(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return givenEdgeName(flag, env) ?? hostname();
}

/**
 * The name the operator gave the edge, `--edge-name` or MOAT_EDGE_NAME, or null: never the host name, which the edge
 * would otherwise tell viewers in its Cache-Status entries.
 */
export function givenEdgeName(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (flag !== undefined && flag !== "") return flag;
  const fromEnv = env[DEFAULTS.edgeNameEnv];
  return fromEnv === undefined || fromEnv === "" ? null : fromEnv;
}

export function resolveStoreAddress(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined && flag !== "") return flag;
  const fromEnv = env[DEFAULTS.storeEnv];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
