// `moat start --store` on a joined edge's data directory: who it is (its join record), and its CA, which sends CSRs to the CA node through the store.
import { resolveDataDir } from "../../config/data-dir.ts";
import { resolveStoreAddress } from "../../config/store-address.ts";
import { CliUsageError, JoinDataDirError, StoreUnavailableError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";
import { createCsrCertificateAuthority, KEY_ALGORITHMS, readJoinedEdge, readRevocations, writeJoinedCa, writeJoinedRevocations } from "../../pki/index.ts";
import type { CertificateAuthority, CertificateSigningChannel, JoinedEdgeRecord, KeyAlgorithm, MasterKey, PublicCaCertificates } from "../../pki/index.ts";
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
  /** The store address this start was given (`--store`, MOAT_STORE): what it opens again when the store was down at start. */
  address: string;
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
  return joined && { address, dataDir, ...joined };
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

/** A store opened later, when the start could not reach it: each try has a deadline, and a failed one is not tried again before its backoff. */
export const STORE_RETRY = Object.freeze({ openDeadlineMs: 10_000, baseMs: 1_000, maxMs: 10_000 });

/** The store a joined edge's CSRs and CA go through: the one the start opened, or one opened at a later use once the store answers. */
interface JoinedStoreAccess {
  /** The open store; rejects with StoreUnavailableError when it has not answered by `waitUntil` (epoch ms; default: one try if one is due, else at once). */
  get(waitUntil?: number): Promise<Store>;
  close(): Promise<void>;
}

/**
 * Opens the store at the first use, and again at each later one until it answers: a joined edge started while the
 * store was down renews once it is up, without a restart. Tries are spaced by a jittered backoff (1 s doubling to 10 s)
 * so a follow every minute and a renewal retrying do not hammer a store that is down; a certificate request waits for
 * the next tries within its own deadline; each try has a deadline.
 */
export function storeOpenedLater(
  open: () => Promise<Store>,
  label: string,
  log: Logger,
  // store/index.ts's backoffDelay, passed in: this module is loaded by every start, and an edge run from a file loads no store code.
  backoffDelay: (attempt: number, policy: { baseMs: number; maxMs: number }) => number,
  policy: { openDeadlineMs: number; baseMs: number; maxMs: number } = STORE_RETRY,
): JoinedStoreAccess {
  let store: Store | undefined;
  let trying: Promise<Store> | undefined;
  let failures = 0;
  let nextTryAt = 0;
  let isClosed = false;
  const unavailable = (why: string) => new StoreUnavailableError(label, why, { fix: "the certificates already on disk serve meanwhile; this edge asks again once the store answers (no restart needed)" });

  async function attempt(): Promise<Store> {
    const opening = open();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`opening the store took longer than ${policy.openDeadlineMs} ms`)), policy.openDeadlineMs);
    });
    try {
      const opened = await Promise.race([opening, deadline]);
      if (isClosed) {
        await opened.close().catch(() => undefined);
        throw unavailable("the edge is stopping");
      }
      store = opened;
      failures = 0;
      log.info({ store: label }, "store reachable: this joined edge's certificate requests go to the CA node again");
      return opened;
    } catch (error) {
      // One that opens after its deadline is let go: the next try opens its own.
      void opening.then((late) => (late === store ? undefined : late.close())).catch(() => undefined);
      nextTryAt = Date.now() + backoffDelay(failures++, policy);
      throw error instanceof StoreUnavailableError ? error : unavailable(`a joined edge reaches the CA node through the store, which does not answer: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async get(waitUntil = 0) {
      for (;;) {
        if (store) return store;
        if (isClosed) throw unavailable("the edge is stopping");
        if (!trying && Date.now() >= nextTryAt) trying = attempt().finally(() => (trying = undefined));
        if (trying) {
          try {
            return await trying;
          } catch (error) {
            if (Date.now() >= waitUntil) throw error;
            continue;
          }
        }
        if (nextTryAt > waitUntil) throw unavailable(`a joined edge reaches the CA node through the store, which did not answer; it is tried again in ${nextTryAt - Date.now()} ms`);
        await new Promise((resolve) => setTimeout(resolve, nextTryAt - Date.now()).unref());
      }
    },
    async close() {
      isClosed = true;
      await trying?.catch(() => undefined);
      await store?.close();
    },
  };
}

/**
 * The CA a joined edge issues with (the store's newest published certificates, written to its data directory when they
 * changed; the store as its channel to the CA node), and `follow`, which the running edge asks for a newer one. With no
 * store at start (it was down), the channel and `follow` open one at their next use, once it answers; `close` closes that one.
 */
export async function openJoinedCa(
  joined: JoinedEdgeStart,
  masterKey: MasterKey,
  store: Store | undefined,
  log: Logger,
): Promise<{
  ca: CertificateAuthority;
  follow: (current: CertificateAuthority) => Promise<CertificateAuthority | undefined>;
  /** Takes the CA node's newest revocations into the data directory; true when the revoked serials changed (the edge rebuilds then). */
  followRevocations: () => Promise<boolean>;
  close(): Promise<void>;
}> {
  if (masterKey.id !== joined.edge.sealingKeyId) {
    throw new JoinDataDirError(joined.dataDir, `was joined with the sealing key ${joined.edge.sealingKeyId}, and this start loaded ${masterKey.id} (${masterKey.source})`, "point MOAT_MASTER_KEY_FILE at the key file `moat edge join --key-file` wrote for this edge");
  }
  const { CERTIFICATE_REQUEST_DEADLINE_MS, storeSigningChannel } = await import("../../control/certificate-requests.ts");
  const { backoffDelay, openStore } = await import("../../store/index.ts");
  // The store's validator loads zod: only an edge that has a store to open needs it.
  const { validateStoredDocument } = await import("../../config/stored-document.ts");
  const access: JoinedStoreAccess = store
    ? { get: async () => store, close: async () => {} }
    : storeOpenedLater(() => openStore({ address: joined.address, validate: validateStoredDocument }), joined.edge.store, log.child({ part: "certificate-requests" }), backoffDelay);
  const channelLog = log.child({ part: "certificate-requests" });
  // A request waits for the store as long as it would wait for the CA node's answer.
  const channel: CertificateSigningChannel = {
    sign: async (request) => storeSigningChannel({ store: await access.get(Date.now() + CERTIFICATE_REQUEST_DEADLINE_MS), edge: joined.edge.name, log: channelLog }).sign(request),
  };
  let current = joined.ca;
  /** The store's CA when it is not `current`: written to the data directory first (workers and the next start read it there). */
  const newer = async (): Promise<CertificateAuthority | undefined> => {
    const reached = await access.get().catch(() => undefined);
    const published = reached && (await publishedCa(reached));
    if (!published || isSameCa(published, current)) return undefined;
    await writeJoinedCa(joined.dataDir, published);
    current = published;
    return createCsrCertificateAuthority(published, channel);
  };
  // At start only the store the start opened is read: one that was down is not waited for again here.
  const atStart = store ? await newer() : undefined;
  if (atStart) log.info({ dataDir: joined.dataDir }, "took the CA certificates the CA node published");
  // The serials this edge's data directory holds revoked: what a build keeps out of use.
  let revokedHere = (await readRevocations(joined.dataDir)).map((revocation) => revocation.serialHex).sort().join(",");
  let takenRevocations: string | undefined;
  const followRevocations = async (): Promise<boolean> => {
    const reached = await access.get().catch(() => undefined);
    const published = reached && (await reached.certificateRequests.readRevocations());
    // The CA's certificates are part of what was taken: a CRL of an intermediate this edge took later is filed then.
    const taking = JSON.stringify([published, current.bundlePem, current.intermediatePem]);
    if (!published || taking === takenRevocations) return false;
    await writeJoinedRevocations(joined.dataDir, published, current);
    takenRevocations = taking;
    const serials = published.revocations.map((revocation) => revocation.serialHex).sort().join(",");
    const isChanged = serials !== revokedHere;
    revokedHere = serials;
    return isChanged;
  };
  return { ca: atStart ?? createCsrCertificateAuthority(current, channel), follow: () => newer(), followRevocations, close: () => access.close() };
}
