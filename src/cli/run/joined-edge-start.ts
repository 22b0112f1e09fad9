// `moat start --store` on a joined edge's data directory: who it is (its join record), and its CA, which sends CSRs to the CA node through the store.
import { resolveDataDir, resolveStoreAddress } from "../../config/index.ts";
import { CliUsageError, JoinDataDirError, StoreUnavailableError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";
import { createCsrCertificateAuthority, KEY_ALGORITHMS, readJoinedEdge, writeJoinedCa } from "../../pki/index.ts";
import type { CertificateAuthority, JoinedEdgeRecord, KeyAlgorithm, MasterKey, PublicCaCertificates } from "../../pki/index.ts";
import type { Store } from "../../store/index.ts";

/** How often a joined edge asks the store for the CA the CA node published (default 60 s; at least 1000). */
export const CA_FOLLOW_ENV = "MOAT_JOINED_CA_POLL_MS";

/** MOAT_JOINED_CA_POLL_MS, checked; undefined when unset (the default). */
export function caFollowIntervalMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[CA_FOLLOW_ENV];
  if (!text) return undefined;
  const ms = Number(text);
  if (!(Number.isInteger(ms) && ms >= 1_000)) {
    throw new CliUsageError(`start: ${CA_FOLLOW_ENV}=${JSON.stringify(text)} is not a number of milliseconds of at least 1000.`, { fix: `unset it (the default is 60000), or set a whole number such as ${CA_FOLLOW_ENV}=10000` });
  }
  return ms;
}

export interface JoinedEdgeStart {
  /** The edge's own data directory: where it joined, and what it serves from whatever the document's dataDir says. */
  dataDir: string;
  edge: JoinedEdgeRecord;
  /** The CA's public certificates as the join (or the last start) wrote them. */
  ca: PublicCaCertificates;
}

/** The join recorded in the data directory a start from `storeFlag` knows before it reads the store; undefined: not a joined edge. */
export async function findJoinedEdge(storeFlag: string | undefined): Promise<JoinedEdgeStart | undefined> {
  const address = resolveStoreAddress(storeFlag);
  if (address === undefined) return undefined;
  const { parseStoreAddress } = await import("../../store/index.ts");
  const dataDir = parseStoreAddress(address).dataDir ?? resolveDataDir(undefined);
  const joined = await readJoinedEdge(dataDir);
  return joined && { dataDir, ...joined };
}

/** The CA's certificates the store holds, when a CA node has published them (in a form this Moat reads). */
async function publishedCa(store: Store): Promise<PublicCaCertificates | undefined> {
  const published = await store.certificateRequests.readCa();
  if (!published || !(KEY_ALGORITHMS as readonly string[]).includes(published.keyAlgorithm)) return undefined;
  const { updatedAt: _updatedAt, ...certificates } = published;
  return { ...certificates, keyAlgorithm: published.keyAlgorithm as KeyAlgorithm };
}

function isSameCa(a: PublicCaCertificates, b: PublicCaCertificates): boolean {
  return a.bundlePem === b.bundlePem && a.intermediatePem === b.intermediatePem && a.previousIntermediatePems.join("") === b.previousIntermediatePems.join("") && a.crlBaseUrl === b.crlBaseUrl;
}

/**
 * The CA a joined edge issues with (the store's newest published certificates, written to its data directory when they
 * changed; the store as its channel to the CA node), and `follow`, which the running edge asks for a newer one.
 */
export async function openJoinedCa(joined: JoinedEdgeStart, masterKey: MasterKey, store: Store | undefined, log: Logger): Promise<{ ca: CertificateAuthority; follow?: (current: CertificateAuthority) => Promise<CertificateAuthority | undefined> }> {
  if (masterKey.id !== joined.edge.sealingKeyId) {
    throw new JoinDataDirError(joined.dataDir, `was joined with the sealing key ${joined.edge.sealingKeyId}, and this start loaded ${masterKey.id} (${masterKey.source})`, "point MOAT_MASTER_KEY_FILE at the key file `moat edge join --key-file` wrote for this edge");
  }
  const { storeSigningChannel } = await import("../../control/certificate-requests.ts");
  const channel = store
    ? storeSigningChannel({ store, edge: joined.edge.name, log: log.child({ part: "certificate-requests" }) })
    : {
        sign: async () => {
          throw new StoreUnavailableError(joined.edge.store, "a joined edge reaches the CA node through the store, which did not answer at start", { fix: "the certificates already on disk serve meanwhile; restart once the store answers to renew" });
        },
      };
  let current = joined.ca;
  /** The store's CA when it is not `current`: written to the data directory first (workers and the next start read it there). */
  const newer = async (): Promise<CertificateAuthority | undefined> => {
    const published = store && (await publishedCa(store));
    if (!published || isSameCa(published, current)) return undefined;
    await writeJoinedCa(joined.dataDir, published);
    current = published;
    return createCsrCertificateAuthority(published, channel);
  };
  const atStart = await newer();
  if (atStart) log.info({ dataDir: joined.dataDir }, "took the CA certificates the CA node published");
  return { ca: atStart ?? createCsrCertificateAuthority(current, channel), ...(store ? { follow: () => newer() } : {}) };
}
