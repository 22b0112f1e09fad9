// The Moat version this process runs, read once from package.json: what an edge reports in the store and the admin API's OpenAPI document states.
import { readFileSync } from "node:fs";

function readVersion(): string {
  // package.json ships beside src/ (packaging/docker copies it): one source of truth for the version.
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const version = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== "string" || version === "") throw new Error("package.json states no version");
  return version;
}

/** `version` of package.json, e.g. "0.1.0". */
export const MOAT_VERSION: string = readVersion();
