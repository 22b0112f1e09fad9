// Where an edge's store is and the name the edge goes by there, from flags and the environment; no schema here, so `moat start` reads them without loading zod.
import { hostname } from "node:os";
import { DEFAULTS } from "./defaults.ts";

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

/** `--store ADDRESS` wins over MOAT_STORE; undefined when neither is set. */
export function resolveStoreAddress(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined && flag !== "") return flag;
  const fromEnv = env[DEFAULTS.storeEnv];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
