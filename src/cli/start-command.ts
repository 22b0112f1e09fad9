// `moat start --config FILE`: runs an edge from a config file until SIGTERM.
import { resolve } from "node:path";
import { loadConfigFile } from "../config/index.ts";
import { runEdge } from "../edge/index.ts";
import { CliUsageError } from "../errors.ts";
import { createLogger } from "../observe/index.ts";
import type { LoggerOptions } from "../observe/index.ts";
import { openCertificateAuthority } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";
import { describeMasterKey, loadCommandMasterKey, logKeyFileEncrypted } from "./master-key.ts";
import { holdStopSignals, serveEdge } from "./serve-edge.ts";

export async function runStart(args: string[]): Promise<number> {
  const { values } = parseCliArgs("start", args, { config: { type: "string", short: "c" }, "log-level": { type: "string" } });
  if (!values.config) throw new CliUsageError("start: --config FILE is required.", { fix: "run `moat start --config ./moat.yaml`, or `npm start` for the demo" });
  const configFile = resolve(values.config);
  const config = await loadConfigFile(configFile);
  // The flag wins over the file's log.level, which wins over info.
  const log = createLogger({ level: (values["log-level"] ?? config.log.level ?? "info") as LoggerOptions["level"] });
  // From here on a stop signal is held until the edge can drain (before this, nothing runs that needs draining).
  const heldSignals = holdStopSignals(log);
  const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
  log.info({ masterKey: describeMasterKey(masterKey) }, "master key loaded");
  const ca = await openCertificateAuthority({ dataDir: config.dataDir, masterKey, onKeyFileEncrypted: logKeyFileEncrypted(log) });
  const edge = await runEdge({ config, ca, masterKey, log });
  await serveEdge({ edge, configFile, log, heldSignals });
  return 0;
}
