// The fleet page's order: trouble first (silent, then behind, then gone), then the soonest certificate expiry.
import type { EdgeList } from "../api/types.ts";

const HEALTH_ORDER: Readonly<Record<string, number>> = { silent: 0, behind: 1, gone: 2, ok: 3 };

export type Edge = EdgeList["items"][number];

/** Trouble first (silent, then behind, then gone), then the soonest certificate expiry. */
export function orderEdges(edges: readonly Edge[]): Edge[] {
  return [...edges].sort(
    (a, b) =>
      (HEALTH_ORDER[a.health] ?? 9) - (HEALTH_ORDER[b.health] ?? 9) ||
      (a.certificatesExpireAt ? Date.parse(a.certificatesExpireAt) : Infinity) - (b.certificatesExpireAt ? Date.parse(b.certificatesExpireAt) : Infinity) ||
      a.name.localeCompare(b.name),
  );
}
