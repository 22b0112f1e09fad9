// The fleet page's order: trouble first (silent, then behind, then gone), then edges stopped on purpose, then the soonest certificate expiry.
import type { EdgeList } from "../api/types.ts";

// A stopped edge said so at a clean stop: no trouble, but not serving either.
const HEALTH_ORDER: Readonly<Record<string, number>> = { silent: 0, behind: 1, gone: 2, stopped: 3, ok: 4 };

export type Edge = EdgeList["items"][number];

/** Trouble first (silent, then behind, then gone), then stopped, then the soonest certificate expiry. */
export function orderEdges(edges: readonly Edge[]): Edge[] {
  return [...edges].sort(
    (a, b) =>
      (HEALTH_ORDER[a.health] ?? 9) - (HEALTH_ORDER[b.health] ?? 9) ||
      (a.certificatesExpireAt ? Date.parse(a.certificatesExpireAt) : Infinity) - (b.certificatesExpireAt ? Date.parse(b.certificatesExpireAt) : Infinity) ||
      a.name.localeCompare(b.name),
  );
}
