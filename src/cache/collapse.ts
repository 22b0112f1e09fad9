// Collapsed forwarding: while one request for a key is on its way to the origin, others for that key wait for it (bounded) and read its body as it is filled.

import type { FillingBodyReader } from "./filling-body.ts";
import type { AgeFacts, FreshnessRules } from "./freshness.ts";

export type FillOutcome = "stored" | "not-stored";

/** A fill whose response is being stored: its headers are known, its body is being written. */
export interface StreamingFill {
  readonly kind: "streaming";
  /** The full key (with Vary values) the response will be stored under. */
  readonly key: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly rules: FreshnessRules;
  readonly age: AgeFacts;
  /** The body's length when known in advance (Content-Length, not compressed by the edge). */
  readonly bodyBytes: number | null;
  readonly invalidationMark: number;
  readonly body: FillingBodyReader;
  /** True once an unsafe request invalidated the key: the response will not be stored and must not be joined. */
  isAbandoned(): boolean;
  /** How the fill ended: for a request that could not join the stream. */
  readonly outcome: Promise<FillOutcome>;
}

export interface Fill {
  /** Set when an unsafe request invalidated the key meanwhile: the fill must not be stored. */
  isAbandoned: boolean;
  /** Releases the waiting requests at once with a response that is being stored; they read its body as it is written. */
  publish(stream: Omit<StreamingFill, "kind" | "outcome" | "isAbandoned">): void;
  finish(outcome: FillOutcome): void;
}

export interface Collapser {
  /**
   * The fill in progress for `key`, to wait on; null when there is none. The wait is bounded (collapseTimeout)
   * until the fill publishes its response headers or ends; after that a request streams the body with it.
   */
  pending(key: string): Promise<FillOutcome | StreamingFill | "timeout"> | null;
  /** Registers the caller as the one request that goes forward for `key`; null if another already is. */
  begin(key: string): Fill | null;
  abandon(key: string): void;
}

/** @example const collapser = createCollapser(5000); const fill = collapser.begin(key); … fill.publish(stream); … fill.finish("stored"); */
export function createCollapser(timeoutMs: number): Collapser {
  const fills = new Map<string, { fill: Fill; ready: Promise<FillOutcome | StreamingFill> }>();
  return {
    pending(key) {
      const entry = fills.get(key);
      if (!entry) return null;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      return Promise.race([entry.ready, timeout]).finally(() => clearTimeout(timer));
    },
    begin(key) {
      if (fills.has(key)) return null;
      const done = Promise.withResolvers<FillOutcome>();
      const ready = Promise.withResolvers<FillOutcome | StreamingFill>();
      const fill: Fill = {
        isAbandoned: false,
        publish(stream) {
          ready.resolve({ ...stream, kind: "streaming", outcome: done.promise, isAbandoned: () => fill.isAbandoned });
        },
        finish(outcome) {
          if (fills.get(key)?.fill === fill) fills.delete(key);
          done.resolve(outcome);
          ready.resolve(outcome);
        },
      };
      fills.set(key, { fill, ready: ready.promise });
      return fill;
    },
    abandon(key) {
      const entry = fills.get(key);
      if (entry) entry.fill.isAbandoned = true;
    },
  };
}
