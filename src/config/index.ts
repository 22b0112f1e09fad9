// Moat's config: read a YAML/JSON file, validate it with errors that name their path, and hand out a normalised, deep-frozen snapshot.

import { loadConfigDocument as loadDocument, loadConfigFile as load, readConfigDocument as readDocument } from "./load.ts";
import { parseConfig as parse, type ParseConfigOptions } from "./parse.ts";
import type { MoatConfig } from "./types.ts";

export type {
  BehaviorConfig,
  CaRotationConfig,
  CertificateSource,
  ConnectionsConfig,
  DistributionConfig,
  HttpMethod,
  ImportedCertificateSource,
  StoredCertificateSource,
  KeyAlgorithm,
  ListenConfig,
  MasterKeySource,
  MetricsConfig,
  MoatConfig,
  OriginConfig,
  OriginGroupConfig,
  OriginMtlsConfig,
  PkiConfig,
  ShieldConfig,
  TlsVersion,
  TracingConfig,
  OtlpExportConfig,
  TrustStoreConfig,
  UnderscoreHeaders,
  ViewerMtlsConfig,
  ViewerMtlsMode,
  WebSocketConfig,
} from "./types.ts";
export type { ParseConfigOptions } from "./parse.ts";
export type { CacheKeyConfig, CachePolicyConfig, CacheStorageConfig, CompressionConfig } from "./cache-types.ts";
export { DEFAULT_CACHE_POLICY } from "./cache-normalise.ts";
export { parseDuration } from "./duration.ts";
export { parseListenAddress } from "./metrics-schema.ts";
export type { ListenAddress } from "./metrics-schema.ts";
/** Freezes a config received from another process (a worker's, cloned over IPC) as the validator froze it. */
export { deepFreeze as freezeConfig } from "./freeze.ts";
/**
 * Connection deadlines and caps when nothing is configured: `viewerConnections` (the edge), `guardConnections`, `enrolConnections`.
 *
 * @example
 * startGuard({ ...options, connections: { ...CONNECTION_DEFAULTS.guardConnections, idleMs: 30_000 } });
 */
export { CONNECTION_DEFAULTS } from "./defaults.ts";
export { isDataDirInEnvironment, resolveDataDir } from "./data-dir.ts";
export { resolveMasterKeySource } from "./master-key-source.ts";
/**
 * The store's document validator (schema, cross-references, every path absolute), and `--store` or MOAT_STORE.
 *
 * @example
 * const store = await openStore({ address: resolveStoreAddress(flag)!, validate: validateStoredDocument });
 */
export { validateStoredDocument } from "./stored-document.ts";
export { givenEdgeName, resolveEdgeName, resolveStoreAddress } from "./store-address.ts";
/**
 * A copy of a document with its relative paths resolved against a directory: what `moat apply` stores.
 *
 * @example
 * withAbsolutePaths(await readConfigDocument("/etc/moat/moat.yaml"), "/etc/moat");
 */
export { withAbsolutePaths } from "./document-paths.ts";
export type { MasterKeySourceOptions } from "./master-key-source.ts";

/**
 * Reads, validates and normalises a config file: YAML, or JSON when the name ends in .json.
 * Relative paths in it resolve against the file's directory, and every file it names
 * (imported certificates and keys, CA bundles) must exist and be readable.
 * Throws ConfigUnreadableError (cannot read or parse; names the line and column) or
 * ConfigInvalidError (lists every issue with its path).
 *
 * @example
 * const config = await loadConfigFile("/etc/moat/moat.yaml");
 * config.distributions[0]?.origins[0]?.timeouts.connectMs; // 5000 unless the file says otherwise
 */
export function loadConfigFile(file: string, env?: NodeJS.ProcessEnv): Promise<MoatConfig> {
  return load(file, env);
}

/**
 * Validates and normalises a document that is already parsed, without touching the
 * filesystem: relative paths resolve against `options.baseDir` but are not checked.
 * Throws ConfigInvalidError listing every issue with its path.
 *
 * @example
 * const config = parseConfig(
 *   { distributions: [{ id: "shop", aliases: ["shop.example.test"], origins: [{ id: "api", url: "https://api.internal:9443" }] }] },
 *   { source: "demo", baseDir: process.cwd() },
 * );
 * config.distributions[0]?.behaviors; // [{ path: "*", target: "api", allowedMethods: [...] }]
 */
export function parseConfig(input: unknown, options: ParseConfigOptions): MoatConfig {
  return parse(input, options);
}

/**
 * A config file's document, parsed (YAML, or JSON for .json) but not validated: what `moat apply` and `moat diff`
 * compare with a store. Throws ConfigUnreadableError.
 *
 * @example
 * const document = await readConfigDocument("./moat.yaml");
 */
export function readConfigDocument(file: string): Promise<unknown> {
  return readDocument(file);
}

/**
 * Validates a parsed document as loadConfigFile does once it has parsed the file (schema, cross-references, every
 * named file readable); with `isStored`, every path must also be absolute. A store revision takes this path.
 * Throws ConfigInvalidError naming `source` and every issue's path.
 *
 * @example
 * const config = await loadConfigDocument(read.document, { source: `${store.label} revision ${read.revision}`, baseDir: "/", isStored: true });
 */
export function loadConfigDocument(document: unknown, options: ParseConfigOptions & { isStored?: boolean }): Promise<MoatConfig> {
  return loadDocument(document, options);
}

/**
 * The schema of a config document (zod), its messages and path naming: what the admin API validates request bodies
 * with and generates its OpenAPI document from, so that the API and `moat config check` say the same thing.
 *
 * @example
 * const result = configSchema.shape.distributions.element.safeParse(body, { error: configErrorMap });
 * if (!result.success) toConfigIssues(result.error.issues); // [{ path: "origins[0].url", message: "must be an https:// URL …" }]
 */
export { configSchema } from "./schema.ts";
export { configErrorMap, formatPath, toConfigIssues } from "./issues.ts";
export { closedObject } from "./closed-object.ts";
export { id as idSchema } from "./fields.ts";
/** Every issue of a document at once, or the normalised, frozen config: the store's validator is built on it. */
export { validateConfig } from "./parse.ts";

/**
 * The admin API's connection settings from the environment, and the contexts file (`moat context`) of named ones.
 *
 * @example
 * const { settings, context, contextsFile } = readApiEnvironment();
 * const contexts = await readApiContexts(contextsFile);
 */
export { readApiContexts, readApiEnvironment, writeApiContexts } from "./api-contexts.ts";
export type { ApiConnectionSettings, ApiContext, ApiContexts, ApiEnvironment } from "./api-contexts.ts";
