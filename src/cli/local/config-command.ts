// `moat config check FILE`: validates a config file and reports every problem with its path.
import { loadConfigFile } from "../../config/index.ts";
import type { MoatConfig } from "../../config/index.ts";
import { checkImportedCertificates, checkTrustStores } from "../../edge/index.ts";
import type { MasterKey } from "../../pki/index.ts";
import { CliUsageError, MasterKeyMissingError } from "../../errors.ts";
import { parseCliArgs } from "../cli-args.ts";
import { loadCommandMasterKey } from "../master-key.ts";

/** Whether the config names a certificate imported through the admin API, which lives in its data directory. */
function namesStoredImports(config: MoatConfig): boolean {
  return config.distributions.some((d) => d.viewerCertificate.kind === "stored" || d.origins.some((o) => o.mtls.clientCertificate.kind === "stored"));
}

export async function runConfigCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("config check", args, { "master-key-file": { type: "string" } }, true);
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new CliUsageError("config check: give exactly one config file.");
  const config = await loadConfigFile(file);
  // Only a config that names { imported: NAME } needs the key: its sealed key is opened to check it as the edge would.
  let masterKey: MasterKey | undefined;
  if (namesStoredImports(config)) {
    masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, flagFile: values["master-key-file"], config }).catch((error: unknown) => {
      if (error instanceof MasterKeyMissingError) return undefined;
      throw error;
    });
  }
  const checked = await edgeRefusals(file, config, { stored: { masterKey } });
  if (checked.refusals !== null) {
    process.stderr.write(checked.refusals);
    return 1;
  }
  const origins = config.distributions.reduce((n, d) => n + d.origins.length, 0);
  process.stdout.write(`${file}: valid (${config.distributions.length} distribution(s), ${origins} origin(s); data dir ${config.dataDir})\n`);
  if (checked.unopened.length > 0) {
    process.stdout.write(
      `Not checked in full: ${checked.unopened.join(", ")} (imported through the admin API: found in ${config.dataDir}, its key sealed; give --master-key-file, MOAT_MASTER_KEY_FILE or MOAT_MASTER_KEY to check it as the edge will).\n`,
    );
  }
  return 0;
}

/**
 * What the edge would refuse in a config that passed the schema, as `moat config check` prints it: imported
 * certificates (key, chain, usage, validity, names) and trust stores, checked as the edge checks them; null when none.
 */
export async function edgeRefusals(file: string, config: MoatConfig, options: Parameters<typeof checkImportedCertificates>[1] = {}): Promise<{ refusals: string | null; unopened: string[] }> {
  const { problems, unopened } = await checkImportedCertificates(config, options);
  if (problems.length > 0) return { refusals: `moat: ${file}: ${problems.length} imported certificate(s) would be refused:\n${problems.map((p) => `  ${p}`).join("\n")}\n`, unopened };
  const storeProblems = await checkTrustStores(config, new Date());
  if (storeProblems.length > 0) return { refusals: `moat: ${file}: ${storeProblems.length} trust store(s) would be refused:\n${storeProblems.map((p) => `  ${p}`).join("\n")}\n`, unopened };
  return { refusals: null, unopened };
}
