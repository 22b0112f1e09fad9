// The data plane: viewer listeners, the request pipeline, and the snapshots it serves from.
export { runEdge } from "./runtime/run-edge.ts";
export type { EdgeCertificateEvents, RunningEdge, RunEdgeOptions } from "./runtime/run-edge.ts";
export { buildEdgeSnapshot } from "./snapshot/build-snapshot.ts";
export type { BuiltSnapshot } from "./snapshot/build-snapshot.ts";
export { checkImportedCertificates } from "./snapshot/imported-checks.ts";
/** Loads every trust store of a config as the edge would, and lists the refusals: for `moat config check`. */
export { checkTrustStores } from "./snapshot/viewer-mtls-snapshot.ts";
export type { EdgeSnapshot, DistributionRuntime } from "./snapshot/edge-snapshot.ts";
/** An imported certificate's passphrase file, read as the edge reads it (its first line). */
export { readPassphraseFile } from "./snapshot/credentials.ts";
export { createTicketKeys, ticketKeysFrom } from "./viewers/ticket-keys.ts";
/**
 * A joined edge's CA as its data directory holds it (no key: a worker's, which never issues); undefined for any other directory.
 * @example
 * const ca = (await openJoinedCaOnDisk(config.dataDir)) ?? (await openCertificateAuthority({ dataDir: config.dataDir, masterKey }));
 */
export { openJoinedCaOnDisk } from "./runtime/ca-rotation-watch.ts";
/**
 * The options of the edge's client for one origin (server name, trusted CA, timeouts, the client certificate in the store), for `moat doctor`.
 * @example
 * const options = await originClientOptionsFor(config, distribution, origin, "distributions[0].origins[0]", { store, caPem, caBundleFile, memo: createSnapshotMemo(), now: new Date() });
 */
export { originClientOptionsFor } from "./snapshot/origin-entries.ts";
export { createSnapshotMemo } from "./snapshot/snapshot-memo.ts";
