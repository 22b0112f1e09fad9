// Keeps one of Node's tick objects alive for the life of the process, so that V8's feedback for the literal that builds them stays monomorphic.
//
// Why: process.nextTick builds each tick object with a literal of computed keys (its async-id symbols), and V8 keeps
// that literal's feedback as one map or, once it meets another, as megamorphic for good. A collection that reduces
// memory while the process is idle (the edge's idle release, edge/runtime/idle-memory.ts, and V8's own memory
// reducer, in the edge and in the guard) finds no tick object alive, so the maps of that shape die; the next tick builds them again as new maps, and from
// then on every nextTick (about six per HTTP/1.1 request, in Node's http and streams) defines its properties through
// V8's runtime. Measured from dist/ under wrk: a 1 KiB hit took 23 µs of edge CPU before the first idle collection
// and 26.5 µs after it, for the rest of the process's life (docs/BENCHMARKS.md, "An idle collection that slowed every
// later request"). One object held keeps its map, and through the map's back pointers the whole shape, alive.
import { createHook } from "node:async_hooks";

let heldTick: object | undefined;

function tickToHold(): void {}

/**
 * Takes one tick object (Node hands it to an async hook's init) and keeps it; idempotent. The hook is enabled only
 * for the one nextTick, so no request ever runs with async hooks on.
 * @example
 * holdTickObjectShape(); // once, before serving
 */
export function holdTickObjectShape(): void {
  if (heldTick !== undefined) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === "TickObject") heldTick = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(tickToHold);
  } finally {
    hook.disable();
  }
}

/** Whether a tick object is held (for tests). */
export function isTickObjectShapeHeld(): boolean {
  return heldTick !== undefined;
}
