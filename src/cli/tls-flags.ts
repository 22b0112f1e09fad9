// The --tls-ciphers and --tls-ecdh-curves flags of `moat guard` and `moat enrol serve`: a listener's cipher policy, checked as the config's listen.tls is.
import { CliUsageError } from "../errors.ts";
import { cipherListProblem, defaultTlsPolicy, groupListProblem } from "../tls/index.ts";
import type { TlsPolicy } from "../tls/index.ts";

export const TLS_FLAGS = {
  "tls-ciphers": { type: "string" },
  "tls-ecdh-curves": { type: "string" },
} as const;

function list(text: string): string[] {
  return text.split(":").map((name) => name.trim()).filter((name) => name !== "");
}

/**
 * @example
 * const tls = parseTlsFlags("guard", { "tls-ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256" }); // defaults for what is not given
 */
export function parseTlsFlags(command: string, values: { "tls-ciphers"?: string | undefined; "tls-ecdh-curves"?: string | undefined }): TlsPolicy {
  const defaults = defaultTlsPolicy();
  const ciphers = values["tls-ciphers"] === undefined ? defaults.ciphers : list(values["tls-ciphers"]);
  const ecdhCurves = values["tls-ecdh-curves"] === undefined ? defaults.ecdhCurves : list(values["tls-ecdh-curves"]);
  const cipherProblem = ciphers.length === 0 ? "names no cipher" : cipherListProblem(ciphers);
  if (cipherProblem) throw new CliUsageError(`${command}: --tls-ciphers: ${cipherProblem}.`);
  const groupProblem = ecdhCurves.length === 0 ? "names no group" : groupListProblem(ecdhCurves);
  if (groupProblem) throw new CliUsageError(`${command}: --tls-ecdh-curves: ${groupProblem}.`);
  return { ciphers, ecdhCurves };
}
