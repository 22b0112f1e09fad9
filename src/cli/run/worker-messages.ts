// What a `moat start` primary and its workers say to each other over the cluster IPC channel (structured clones).
import type { NumberedInvalidation } from "../../cache/index.ts";
import type { MoatConfig } from "../../config/index.ts";
import type { LoggerOptions } from "../../observe/index.ts";
import type { ProcessMetricsJson } from "../../observe/metrics-registry.ts";

export type ToWorker =
  /** The first message: which worker this is, the config the primary validated and issued certificates for, and the group's session ticket keys. */
  | { type: "start"; worker: number; workers: number; config: MoatConfig; edgeName: string | null; logLevel: NonNullable<LoggerOptions["level"]>; ticketKeys: Uint8Array; storeInvalidations?: readonly NumberedInvalidation[]; metrics?: boolean }
  /** Run from a store: invalidations the primary read from it, for the cache's one applier (the start message carried the earlier ones). */
  | { type: "invalidations"; requests: readonly NumberedInvalidation[] }
  /** The primary applied a snapshot (reload, renewal, CA rotation, revocation, a configured file): rebuild from this config. */
  | { type: "apply"; seq: number; config: MoatConfig; ticketKeys: Uint8Array }
  /** Drain like a lone edge on SIGTERM, then exit. */
  | { type: "stop" }
  /** A sibling deleted these primary keys (relay `relay`): delete them here too, tell no one else, then say "cache-keys-dropped". */
  | { type: "drop-cache-keys"; relay: number; primaryKeys: readonly string[] }
  /** Every other worker has deleted the keys of this worker's batch `batch`: the requests that wait for it go on. */
  | { type: "cache-deletion-relayed"; batch: number }
  /** A scrape of the primary's metrics endpoint: answer "metrics" with this id (the primary leaves out a worker that does not answer in time). */
  | { type: "metrics-request"; id: number };

export type FromWorker =
  | { type: "listening"; httpsPort: number; httpPort: number | null }
  | { type: "failed"; error: { code?: string; message: string } }
  /** The worker has swapped to (or refused) the config of apply `seq`: the primary's "config reloaded" waits for every worker's. */
  | { type: "applied"; seq: number }
  /** The worker deleted these primary keys (batch `batch`): the primary relays them to every other worker. */
  | { type: "cache-deleted"; batch: number; primaryKeys: readonly string[] }
  /** The worker has deleted the keys of the primary's relay `relay`. */
  | { type: "cache-keys-dropped"; relay: number }
  /** The worker has applied the invalidations up to `mark`: the primary records the lowest of all (applied.json, or the store). */
  | { type: "invalidations-applied"; mark: number }
  /** This worker's metrics (prom-client's JSON form), for the primary's scrape `id`. */
  | { type: "metrics"; id: number; metrics: ProcessMetricsJson };

// Our own message types only: prom-client's cluster messages (prom-client:getMetricsReq/Res) are never sent (no
// AggregatorRegistry is made, so it listens for none), and would be ignored here if they were.
export function isToWorker(message: unknown): message is ToWorker {
  return typeof message === "object" && message !== null && ["start", "apply", "stop", "drop-cache-keys", "cache-deletion-relayed", "invalidations", "metrics-request"].includes((message as { type?: string }).type ?? "");
}

export function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === "object" && message !== null && ["listening", "failed", "applied", "cache-deleted", "cache-keys-dropped", "invalidations-applied", "metrics"].includes((message as { type?: string }).type ?? "");
}
