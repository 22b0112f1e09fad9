// The primary's side of its workers' caches: relays each worker's cache deletions to the others, and keeps applied.json at the lowest invalidation mark of its workers.
// The invalidation files alone, not cache/index.ts: the primary serves nothing and must not load the cache's tiers.
import { writeAppliedInvalidations } from "../../cache/invalidations.ts";
import type { AppliedInvalidations } from "../../cache/invalidations.ts";
import type { Logger } from "../../observe/index.ts";
import type { FromWorker, ToWorker } from "./worker-messages.ts";

export interface GroupCacheRelay {
  /** Handles a worker's cache messages (the others are not its business). */
  onMessage(worker: number, pid: number, message: FromWorker): void;
  /** A worker exited: nobody waits for it any more, and its mark no longer holds applied.json back. */
  onExit(worker: number): void;
}

/**
 * Each worker has a memory tier of its own over the shared disk tier: a deletion made in one (an unsafe request through
 * it) must reach the others' memory, or they serve what was deleted. The deleting worker waits for the answer to its
 * batch, which comes once every other listening worker has deleted the keys (or exited).
 * @example
 * const relay = createGroupCacheRelay({ dataDir, log, send: (n, message) => sendTo(n, message), listening: () => [1, 2] });
 */
export function createGroupCacheRelay(options: {
  dataDir: string;
  log: Logger;
  /** Sends to worker `n`; false when it cannot be reached (exited, its channel closed). */
  send(worker: number, message: ToWorker): boolean;
  /** The workers that serve now: a worker still starting has an empty memory tier and reads the disk afresh. */
  listening(): readonly number[];
  /** Run from a store: where the group's applied state goes instead of applied.json (the store's feed records it). */
  onApplied?(summary: AppliedInvalidations): void;
}): GroupCacheRelay {
  const { log } = options;
  let nextRelay = 1;
  const relays = new Map<number, { from: number; batch: number; waitingFor: Set<number> }>();
  const marks = new Map<number, { pid: number; applied: number }>();
  let lastWritten = "";
  let writing = Promise.resolve();

  function answerIfDone(id: number): void {
    const relay = relays.get(id);
    if (!relay || relay.waitingFor.size > 0) return;
    relays.delete(id);
    options.send(relay.from, { type: "cache-deletion-relayed", batch: relay.batch });
  }

  function relayDeletion(from: number, batch: number, primaryKeys: readonly string[]): void {
    const id = nextRelay++;
    const relay = { from, batch, waitingFor: new Set<number>() };
    relays.set(id, relay);
    for (const worker of options.listening()) {
      if (worker !== from && options.send(worker, { type: "drop-cache-keys", relay: id, primaryKeys })) relay.waitingFor.add(worker);
    }
    log.debug({ from, keys: primaryKeys.length, to: [...relay.waitingFor] }, "cache deletion relayed to the other workers");
    answerIfDone(id);
  }

  // One writer of applied.json for the group: each worker's own mark would overwrite the others' (the file would say
  // the fastest worker's, or go back to a slower one's).
  function recordApplied(): void {
    if (marks.size === 0) return;
    const workers = [...marks].map(([worker, { pid, applied }]) => ({ worker, pid, applied })).sort((a, b) => a.worker - b.worker);
    const summary: AppliedInvalidations = { applied: Math.min(...workers.map((worker) => worker.applied)), workers };
    const text = JSON.stringify(summary);
    if (text === lastWritten) return;
    lastWritten = text;
    if (options.onApplied) return options.onApplied(summary);
    writing = writing
      .then(() => writeAppliedInvalidations(options.dataDir, summary))
      .catch((error: Error) => log.error({ error: { message: error.message } }, "writing applied.json failed: `moat cache invalidate` cannot tell that the workers applied an invalidation"));
  }

  return {
    onMessage(worker, pid, message) {
      if (message.type === "cache-deleted") relayDeletion(worker, message.batch, message.primaryKeys);
      if (message.type === "cache-keys-dropped") {
        relays.get(message.relay)?.waitingFor.delete(worker);
        answerIfDone(message.relay);
      }
      if (message.type === "invalidations-applied") {
        marks.set(worker, { pid, applied: message.mark });
        recordApplied();
      }
    },
    onExit(worker) {
      for (const [id, relay] of relays) {
        if (relay.from === worker) relays.delete(id);
        else if (relay.waitingFor.delete(worker)) answerIfDone(id);
      }
      // Its successor reads every invalidation when it opens its cache, and reports then.
      if (marks.delete(worker)) recordApplied();
    },
  };
}
