// Cache deletions relayed between the processes that share one disk tier (the workers of `moat start`), so that no process keeps serving from its own memory tier what another deleted.
//
// A process that deletes a primary key (RFC 9111 §4.4: a POST, PUT, PATCH or DELETE through it; an origin's answer that
// ends a stored response) tells its peers, which delete it too without telling anyone again. Deletions made in one turn
// of the event loop go as one batch; the deleting request waits until every peer has acknowledged its batch (so that a
// GET sent after the POST's response misses on any worker, as it does on a lone edge), or until `waitLimitMs` passed
// (a stuck peer must not hold every unsafe request: the batch is then logged as given up on).

/** What a process tells its peers: primary keys it deleted, in batch `id`. */
export interface DeletionBatch {
  readonly id: number;
  readonly primaryKeys: readonly string[];
}

export interface DeletionRelay {
  /** Relays these primary keys (deleted here); resolves once every peer has acknowledged, or the wait limit passed. Never rejects. */
  deleted(primaryKeys: readonly string[]): Promise<void>;
  /** Every peer has deleted the keys of batch `id` (the channel's answer to `send`). */
  acknowledged(id: number): void;
  /** Batches sent and not yet acknowledged. */
  readonly pending: number;
}

/**
 * @example
 * const relay = createDeletionRelay({ send: (batch) => process.send?.({ type: "cache-deleted", ...batch }), waitLimitMs: 2000, onGiveUp: (batch) => log.warn(batch) });
 * const store = createCacheStore({ memory, disk, onDeleted: relay.deleted, ... });
 */
export function createDeletionRelay(options: {
  /** Hands a batch to the channel; false when it could not (no peer to reach): the batch counts as acknowledged. */
  send(batch: DeletionBatch): boolean;
  waitLimitMs: number;
  onGiveUp?(batch: DeletionBatch, waitedMs: number): void;
}): DeletionRelay {
  let nextId = 1;
  // The batch being collected this turn: keys in order, each once, and who waits for it.
  let collecting: { keys: Set<string>; done: Promise<void>; resolve(): void } | null = null;
  const waiting = new Map<number, { batch: DeletionBatch; resolve(): void; timer: NodeJS.Timeout }>();

  const flush = () => {
    const current = collecting!;
    collecting = null;
    const batch: DeletionBatch = { id: nextId++, primaryKeys: [...current.keys] };
    const startedAt = Date.now();
    const timer = setTimeout(() => {
      waiting.delete(batch.id);
      options.onGiveUp?.(batch, Date.now() - startedAt);
      current.resolve();
    }, options.waitLimitMs);
    timer.unref();
    waiting.set(batch.id, { batch, resolve: current.resolve, timer });
    if (!options.send(batch)) acknowledged(batch.id);
  };

  function acknowledged(id: number): void {
    const entry = waiting.get(id);
    if (!entry) return;
    waiting.delete(id);
    clearTimeout(entry.timer);
    entry.resolve();
  }

  return {
    deleted(primaryKeys) {
      if (primaryKeys.length === 0) return Promise.resolve();
      if (!collecting) {
        let resolve: () => void = () => {};
        const done = new Promise<void>((settle) => (resolve = settle));
        collecting = { keys: new Set(), done, resolve };
        // After the I/O of this turn: the deletions of requests handled together share one message.
        setImmediate(flush);
      }
      for (const key of primaryKeys) collecting.keys.add(key);
      return collecting.done;
    },
    acknowledged,
    get pending() {
      return waiting.size;
    },
  };
}
