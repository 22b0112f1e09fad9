// `moat config check FILE`: validates a config file and reports every problem with its path.
import { loadConfigFile } from "../config/index.ts";
import { checkImportedCertificates, checkTrustStores } from "../edge/index.ts";
import { CliUsageError } from "../errors.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runConfigCheck(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs("config check", args, {}, true);
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new CliUsageError("config check: give exactly one config file.");
  const config = await loadConfigFile(file);
  // Imported certificates are checked as the edge will check them: key, chain, usage, validity, names.
  const problems = await checkImportedCertificates(config);
  if (problems.length > 0) {
    process.stderr.write(`moat: ${file}: ${problems.length} imported certificate(s) would be refused:\n${problems.map((p) => `  ${p}`).join("\n")}\n`);
    return 1;
  }
  const storeProblems = await checkTrustStores(config, new Date());
  if (storeProblems.length > 0) {
    process.stderr.write(`moat: ${file}: ${storeProblems.length} trust store(s) would be refused:\n${storeProblems.map((p) => `  ${p}`).join("\n")}\n`);
    return 1;
  }
  const origins = config.distributions.reduce((n, d) => n + d.origins.length, 0);
  process.stdout.write(`${file}: valid (${config.distributions.length} distribution(s), ${origins} origin(s); data dir ${config.dataDir})\n`);
  return 0;
}
