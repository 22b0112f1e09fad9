// `moat edge join`: spends a one-time join token in the fleet's store and makes this host a joined edge: its own sealing key, the CA's public certificates, never the master key.
import { readFile } from "node:fs/promises";
import { resolveDataDir, resolveStoreAddress } from "../../config/index.ts";
import { resolveMasterKeySource } from "../../config/master-key-source.ts";
import { CliUsageError, JoinDataDirError } from "../../errors.ts";
import { checkNoCaKeys, KEY_ALGORITHMS, loadMasterKey, openOrCreateMasterKeyFile, readJoinedEdge, writeJoinedCa, writeJoinedEdge } from "../../pki/index.ts";
import type { KeyAlgorithm, MasterKey } from "../../pki/index.ts";
import { parseStoreAddress } from "../../store/index.ts";
import { parseCliArgs } from "../cli-args.ts";
import { openCommandStore } from "../store-flags.ts";

const COMMAND = "edge join";
const TOKEN_ENV = "MOAT_JOIN_TOKEN";

/** The token from --token, --token-file or MOAT_JOIN_TOKEN (a file or the variable keep it out of `ps`). */
async function joinToken(values: { token?: string | undefined; "token-file"?: string | undefined }): Promise<string> {
  if (values.token !== undefined && values["token-file"] !== undefined) throw new CliUsageError(`${COMMAND}: give --token or --token-file, not both.`);
  if (values["token-file"] !== undefined) {
    try {
      return (await readFile(values["token-file"], "utf8")).trim();
    } catch (error) {
      throw new CliUsageError(`${COMMAND}: cannot read --token-file ${values["token-file"]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
    }
  }
  const token = values.token ?? process.env[TOKEN_ENV];
  if (!token) throw new CliUsageError(`${COMMAND}: the join token is required: --token TOKEN, --token-file FILE or ${TOKEN_ENV}.`, { fix: "create one where the admin API runs: `moat edge token create --name NAME`" });
  return token.trim();
}

/** The edge's own sealing key: the file --key-file (else MOAT_MASTER_KEY_FILE) names, created here when it does not exist. */
async function sealingKey(flagFile: string | undefined, dataDir: string): Promise<{ masterKey: MasterKey; undo: () => Promise<void>; created: boolean }> {
  const source = resolveMasterKeySource({ ...(flagFile !== undefined ? { flagFile } : {}) });
  if (source === null) {
    throw new CliUsageError(`${COMMAND}: --key-file FILE is required (or MOAT_MASTER_KEY_FILE): the edge's own key, which seals its private keys at rest.`, { fix: "name a path outside the data directory, e.g. --key-file /etc/moat/edge.key: it is created (0600) if it does not exist" });
  }
  if (source.kind === "env") return { masterKey: await loadMasterKey(source, { dataDir }), undo: async () => undefined, created: false };
  return openOrCreateMasterKeyFile(source.path, { dataDir, from: source.from === "--master-key-file" ? "--key-file" : source.from });
}

export async function runEdgeJoin(args: string[]): Promise<number> {
  const { values } = parseCliArgs(COMMAND, args, {
    store: { type: "string" },
    token: { type: "string" },
    "token-file": { type: "string" },
    "data-dir": { type: "string" },
    "key-file": { type: "string" },
    name: { type: "string" },
    region: { type: "string" },
  });
  const address = resolveStoreAddress(values.store);
  if (address === undefined || parseStoreAddress(address).engine !== "postgres") {
    throw new CliUsageError(`${COMMAND}: --store postgres://… is required (or MOAT_STORE): an edge joins a fleet's PostgreSQL store.`, { fix: "give the fleet's store, e.g. --store postgres://moat@db.internal:5432/moat" });
  }
  if (values.region !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(values.region)) {
    throw new CliUsageError(`${COMMAND}: --region ${JSON.stringify(values.region)} is not a region name: 1 to 63 letters, digits, '.', '_' or '-'.`);
  }
  const token = await joinToken(values);
  const dataDir = resolveDataDir(values["data-dir"]);
  // Checked before anything is spent or written: a CA's directory, or one that joined already, is not joined.
  checkNoCaKeys(dataDir);
  const already = await readJoinedEdge(dataDir);
  if (already) throw new JoinDataDirError(dataDir, `joined the fleet already, as ${already.edge.name} (${already.edge.joinedAt})`, "start it (`moat start --store ADDRESS`); to join as another edge, use an empty data directory");
  const store = await openCommandStore(COMMAND, address);
  try {
    const published = await store.certificateRequests.readCa();
    if (!published || !(KEY_ALGORITHMS as readonly string[]).includes(published.keyAlgorithm)) {
      throw new JoinDataDirError(dataDir, "cannot be joined yet: no CA node has published the CA's certificates in the store", "start the CA node first (`moat start --store ADDRESS --ca` where the master key and the CA are), then join; the token is not spent");
    }
    const key = await sealingKey(values["key-file"], dataDir);
    let joined;
    try {
      joined = await store.joins.join(token, new Date(), { ...(values.name !== undefined ? { name: values.name } : {}), ...(values.region !== undefined ? { region: values.region } : {}) });
    } catch (error) {
      await key.undo();
      throw error;
    }
    await writeJoinedCa(dataDir, { ...published, keyAlgorithm: published.keyAlgorithm as KeyAlgorithm });
    await writeJoinedEdge(dataDir, { name: joined.name, region: joined.region, store: store.label, joinedAt: joined.joinedAt, sealingKeyId: key.masterKey.id });
    process.stdout.write(
      `Joined the fleet as ${joined.name}${joined.region ? ` (${joined.region})` : ""}: ${dataDir} holds the CA's public certificates and no CA key.\n` +
        `Its private keys are made on this host, sealed with ${key.masterKey.source}${key.created ? " (created now)" : ""}; only CSRs leave it.\n` +
        `Start it: MOAT_DATA_DIR=${dataDir} MOAT_MASTER_KEY_FILE=<that key file> moat start --store ${store.label}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
