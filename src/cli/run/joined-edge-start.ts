// `moat start --store` on a joined edge's data directory: who it is (its join record), and its CA, which sends CSRs to the CA node through the store.
import { resolveDataDir, resolveStoreAddress } from "../../config/index.ts";
import { JoinDataDirError, StoreUnavailableError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";
import { createCsrCertificateAuthority, KEY_ALGORITHMS, readJoinedEdge, writeJoinedCa } from "../../pki/index.ts";
import type { CertificateAuthority, JoinedEdgeRecord, KeyAlgorithm, MasterKey, PublicCaCertificates } from "../../pki/index.ts";
import type { Store } from "../../store/index.ts";

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

/** The CA a joined edge issues with: the store's newest published certificates (written to its data directory when they changed), and the store as its channel to the CA node. */
export async function openJoinedCa(joined: JoinedEdgeStart, masterKey: MasterKey, store: Store | undefined, log: Logger): Promise<CertificateAuthority> {
  if (masterKey.id !== joined.edge.sealingKeyId) {
    throw new JoinDataDirError(joined.dataDir, `was joined with the sealing key ${joined.edge.sealingKeyId}, and this start loaded ${masterKey.id} (${masterKey.source})`, "point MOAT_MASTER_KEY_FILE at the key file `moat edge join --key-file` wrote for this edge");
  }
  let ca = joined.ca;
  const published = await store?.certificateRequests.readCa();
  if (published && (KEY_ALGORITHMS as readonly string[]).includes(published.keyAlgorithm)) {
    const fresh: PublicCaCertificates = { ...published, keyAlgorithm: published.keyAlgorithm as KeyAlgorithm };
    if (fresh.bundlePem !== ca.bundlePem || fresh.intermediatePem !== ca.intermediatePem) {
      await writeJoinedCa(joined.dataDir, fresh);
      log.info({ updatedAt: published.updatedAt }, "took the CA certificates the CA node published");
    }
    ca = fresh;
  }
  const { storeSigningChannel } = await import("../../control/certificate-requests.ts");
  const channel = store
    ? storeSigningChannel({ store, edge: joined.edge.name, log: log.child({ part: "certificate-requests" }) })
    : {
        sign: async () => {
          throw new StoreUnavailableError(joined.edge.store, "a joined edge reaches the CA node through the store, which did not answer at start", { fix: "the certificates already on disk serve meanwhile; restart once the store answers to renew" });
        },
      };
  return createCsrCertificateAuthority(ca, channel);
}
