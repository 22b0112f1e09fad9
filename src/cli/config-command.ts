// `moat config check FILE`: validates a config file and reports every problem with its path.
import { loadConfigFile } from "../config/index.ts";
import { CliUsageError } from "../errors.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runConfigCheck(args: string[]): Promise<number> {
  const { positionals } = parseCliArgs("config check", args, {}, true);
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new CliUsageError("config check: give exactly one config file.");
  const config = await loadConfigFile(file);
  const origins = config.distributions.reduce((n, d) => n + d.origins.length, 0);
  process.stdout.write(`${file}: valid (${config.distributions.length} distribution(s), ${origins} origin(s); data dir ${config.dataDir})\n`);
  return 0;
}
