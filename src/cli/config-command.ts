// `moat config check FILE`: validates a config file and reports every problem with its path.
import { loadConfigFile } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { checkImportedCertificates, checkTrustStores } from "../edge/index.ts";
import { CliUsageError } from "../errors.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runConfigCheck(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs("config check", args, {}, true);
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new CliUsageError("config check: give exactly one config file.");
  const config = await loadConfigFile(file);
  const refusals = await edgeRefusals(file, config);
  if (refusals !== null) {
    process.stderr.write(refusals);
    return 1;
  }
  const origins = config.distributions.reduce((n, d) => n + d.origins.length, 0);
  process.stdout.write(`${file}: valid (${config.distributions.length} distribution(s), ${origins} origin(s); data dir ${config.dataDir})\n`);
  return 0;
}

/**
 * What the edge would refuse in a config that passed the schema, as `moat config check` prints it: imported
 * certificates (key, chain, usage, validity, names) and trust stores, checked as the edge checks them; null when none.
 */
export async function edgeRefusals(file: string, config: MoatConfig): Promise<string | null> {
  const problems = await checkImportedCertificates(config);
  if (problems.length > 0) return `moat: ${file}: ${problems.length} imported certificate(s) would be refused:\n${problems.map((p) => `  ${p}`).join("\n")}\n`;
  const storeProblems = await checkTrustStores(config, new Date());
  if (storeProblems.length > 0) return `moat: ${file}: ${storeProblems.length} trust store(s) would be refused:\n${storeProblems.map((p) => `  ${p}`).join("\n")}\n`;
  return null;
}
