// The origin side of the edge: pooled mTLS clients per origin, failover groups, and failure classification.
export { createOriginClient, probeOriginClient } from "./origin-client.ts";
/**
 * The edge's certificate probe (a request on a connection of its own), returning the status or the classified failure.
 * @example
 * const answer = await probeOrigin(options, (socket) => (handshake = socket));
 */
export { probeOrigin } from "./origin-client.ts";
export type { OriginProbeAnswer } from "./origin-client.ts";
export type { OriginClient, OriginClientOptions, OriginClientCertificate, OriginRequest, OriginResponse } from "./origin-client.ts";
export { requestTarget, TargetResponse } from "./origin-target.ts";
export type { OriginTarget } from "./origin-target.ts";
export type { Cancellation, CancellationListener } from "./origin-dispatch.ts";
export { classifyOriginError, mayBeRefusalPage, RefusalPageAnswer, REFUSAL_PAGE_PREFIX_BYTES, refusalPageOf } from "./classify-origin-error.ts";
export { upgradeTarget } from "./origin-upgrade.ts";
/**
 * Loads undici (origin pools) now: an edge process that serves calls it at start, so that the first miss does
 * not wait for it; a primary, which never proxies, never loads undici.
 * @example
 * loadUndici();
 */
export { loadUndici } from "./undici-lib.ts";
export type { OriginUpgradeAnswer, OriginUpgradeRequest, TargetUpgrade } from "./origin-upgrade.ts";
