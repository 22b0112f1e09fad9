// `moat start --config FILE | --store ADDRESS`: runs an edge from a config file or a store until SIGTERM, in one process or as a primary and its workers.
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { resolveStoreAddress, validateStoredDocument } from "../config/index.ts";
import type { MoatConfig } from "../config/index.ts";
import { runEdge } from "../edge/index.ts";
import { CliUsageError } from "../errors.ts";
import { createLogger } from "../observe/index.ts";
import type { LoggerOptions } from "../observe/index.ts";
import { openCertificateAuthority } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";
import { describeMasterKey, loadCommandMasterKey, logKeyFileEncrypted } from "./master-key.ts";
import { createFileConfigSource } from "./config-source.ts";
import type { ConfigSource } from "./config-source.ts";
import { holdStopSignals, serveEdge } from "./serve-edge.ts";
import { startWorkerGroup } from "./worker-group.ts";

/** `auto`: one per core, as nginx's `worker_processes auto`. */
export function workerCount(workers: MoatConfig["workers"]): number {
  return workers === "auto" ? availableParallelism() : workers;
}

export async function runStart(args: string[]): Promise<number> {
  const { values } = parseCliArgs("start", args, { config: { type: "string", short: "c" }, store: { type: "string" }, "log-level": { type: "string" } });
  const source = await openConfigSource(values.config, values.store);
  try {
    return await runFrom(source, await source.load(), values["log-level"]);
  } catch (error) {
    // A start that fails lets go of the store (a PostgreSQL pool would keep the process up); once serving, serveEdge closes it.
    await source.close().catch(() => undefined);
    throw error;
  }
}

async function runFrom(source: ConfigSource, config: MoatConfig, logLevelFlag: string | undefined): Promise<number> {
  // The flag wins over the config's log.level, which wins over info.
  const logLevel = (logLevelFlag ?? config.log.level ?? "info") as NonNullable<LoggerOptions["level"]>;
  const workers = workerCount(config.workers);
  const log = createLogger({ level: logLevel, worker: workers > 1 ? 0 : undefined });
  // From here on a stop signal is held until the edge can drain (before this, nothing runs that needs draining).
  const heldSignals = holdStopSignals(log);
  const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
  log.info({ masterKey: describeMasterKey(masterKey) }, "master key loaded");
  const ca = await openCertificateAuthority({ dataDir: config.dataDir, masterKey, onKeyFileEncrypted: logKeyFileEncrypted(log) });
  if (workers === 1) {
    const edge = await runEdge({ config, ca, masterKey, log });
    await serveEdge({ edge, source, log, heldSignals });
    return 0;
  }
  // The primary issues and renews every certificate before any worker builds: workers find them in the store.
  let group: Awaited<ReturnType<typeof startWorkerGroup>> | undefined;
  const edge = await runEdge({ config, ca, masterKey, log, role: "primary", onApplied: (applied, ticketKeys) => group?.apply(applied, ticketKeys!) });
  try {
    group = await startWorkerGroup({ count: workers, config, ticketKeys: edge.ticketKeys()!, log, logLevel });
  } catch (error) {
    await edge.stop();
    throw error;
  }
  const running = group;
  void running.failed.catch(async (error: Error) => {
    await Promise.all([running.stop(), edge.stop()]);
    // serveEdge's file watch and signal handlers would keep the primary up: a group that cannot serve exits, non-zero.
    process.stderr.write(`moat: ${error.message}\n`);
    process.exit(1);
  });
  // "config reloaded" is logged once every worker serves the new config, as a lone edge logs it once it does.
  const groupEdge = {
    ...edge,
    apply: async (next: MoatConfig) => {
      const snapshot = await edge.apply(next);
      await running.settled();
      return snapshot;
    },
    // The primary's "edge stopped" comes after every worker has drained and exited.
    stop: async () => {
      await running.stop();
      await edge.stop();
    },
  };
  // Logged last, as a lone edge logs it: serveEdge handles signals and reloads from its first synchronous step.
  log.info({ workers, httpsPort: running.httpsPort, httpPort: running.httpPort }, "edge listening");
  await serveEdge({ edge: groupEdge, source, log, heldSignals });
  return 0;
}

/** `--config FILE`, or a store from `--store` or MOAT_STORE (a flag beats the variable: `--config` wins over MOAT_STORE). */
async function openConfigSource(configFlag: string | undefined, storeFlag: string | undefined): Promise<ConfigSource> {
  if (configFlag !== undefined && storeFlag !== undefined) {
    throw new CliUsageError("start: give --config FILE or --store ADDRESS, not both.", { fix: "a file is one source and a store another; `moat apply -f FILE --store ADDRESS` puts a file into a store" });
  }
  if (configFlag !== undefined) return createFileConfigSource(resolve(configFlag));
  const address = resolveStoreAddress(storeFlag);
  if (address === undefined) {
    throw new CliUsageError("start: --config FILE or --store ADDRESS is required.", { fix: "run `moat start --config ./moat.yaml`, `moat start --store /var/lib/moat`, or `npm start` for the demo" });
  }
  // Loaded only for a store: an edge run from a file loads neither Kysely nor pg.
  const [{ openStore, parseStoreAddress }, { createStoreConfigSource }] = await Promise.all([import("../store/index.ts"), import("./store-config-source.ts")]);
  const store = await openStore({ address, validate: validateStoredDocument });
  return createStoreConfigSource({ store, dataDir: parseStoreAddress(address).dataDir });
}
