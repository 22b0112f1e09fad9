// Collapsed forwarding: while one request for a key is on its way to the origin, others for that key wait for it (bounded).

export type FillOutcome = "stored" | "not-stored";

export interface Fill {
  /** Set when an unsafe request invalidated the key meanwhile: the fill must not be stored. */
  isAbandoned: boolean;
  finish(outcome: FillOutcome): void;
}

export interface Collapser {
  /** The fill in progress for `key`, to wait on; null when there is none. */
  pending(key: string): Promise<FillOutcome | "timeout"> | null;
  /** Registers the caller as the one request that goes forward for `key`; null if another already is. */
  begin(key: string): Fill | null;
  abandon(key: string): void;
}

/** @example const collapser = createCollapser(5000); const fill = collapser.begin(key); … fill.finish("stored"); */
export function createCollapser(timeoutMs: number): Collapser {
  const fills = new Map<string, { fill: Fill; done: Promise<FillOutcome> }>();
  return {
    pending(key) {
      const entry = fills.get(key);
      if (!entry) return null;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      return Promise.race([entry.done, timeout]).finally(() => clearTimeout(timer));
    },
    begin(key) {
      if (fills.has(key)) return null;
      let resolveDone: (outcome: FillOutcome) => void = () => {};
      const done = new Promise<FillOutcome>((resolve) => (resolveDone = resolve));
      const fill: Fill = {
        isAbandoned: false,
        finish(outcome) {
          if (fills.get(key)?.fill === fill) fills.delete(key);
          resolveDone(outcome);
        },
      };
      fills.set(key, { fill, done });
      return fill;
    },
    abandon(key) {
      const entry = fills.get(key);
      if (entry) entry.fill.isAbandoned = true;
    },
  };
}
