// The master key for the commands that open the CA: found by flag, environment or config, loaded, and named in the log (never shown).
// The source rules alone, not config/index.ts: a worker opens the CA without loading the config validator (zod, yaml).
import { resolveMasterKeySource } from "../config/master-key-source.ts";
import type { MoatConfig } from "../config/index.ts";
import type { Logger } from "../observe/index.ts";
import { loadMasterKey } from "../pki/index.ts";
import type { KeyFileEncryptedListener, MasterKey } from "../pki/index.ts";

/**
 * Loads the master key from `--master-key-file`, MOAT_MASTER_KEY, MOAT_MASTER_KEY_FILE or the
 * config's pki.masterKeyFile, in that order. Throws MasterKeyMissingError when none is set.
 *
 * @example
 * const masterKey = await loadCommandMasterKey({ dataDir: config.dataDir, config });
 */
export function loadCommandMasterKey(options: { dataDir: string; flagFile?: string; config?: MoatConfig }): Promise<MasterKey> {
  const source = resolveMasterKeySource({
    flagFile: options.flagFile,
    configuredFile: options.config?.pki.masterKeyFile ?? null,
    configSource: options.config?.source,
  });
  return loadMasterKey(source, { dataDir: options.dataDir });
}

/** What a log line may say about a master key: where it came from and its one-way id. */
export function describeMasterKey(masterKey: MasterKey): { source: string; id: string } {
  return { source: masterKey.source, id: masterKey.id };
}

/** Logs each plaintext key file (from before keys were encrypted) that opening the CA encrypted in place. */
export function logKeyFileEncrypted(log: Logger): KeyFileEncryptedListener {
  return (path) =>
    log.warn({ path }, "encrypted a private key that was stored in plaintext; copies of the old file (backups, snapshots) still hold it in the clear");
}
