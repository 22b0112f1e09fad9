// Whether a fleet trusts a new root: the live edges (ok, behind) that report it in their bundle, and those that hold a rollover back.
import { CaRolloverHeldBackError } from "../errors.ts";
import type { EdgeHoldingBack } from "../errors.ts";
import type { EdgeRecord, EdgeStore } from "./edge-store.ts";
import type { EdgeStanding } from "./edge-health.ts";

/** The fleet against one root: who trusts it, who does not yet, and who is not waited for (silent or gone). */
export interface FleetTrust {
  /** The root asked about (SHA-256, colon-separated upper-case hex). */
  fingerprint256: string;
  /** Live edges whose bundle holds it, by name. */
  trusting: string[];
  /** Live edges whose bundle does not (or that never reported one). */
  holdingBack: EdgeHoldingBack[];
  /** Edges that do not report (silent, gone): a rollover does not wait for them; they pick the bundle up when they come back. */
  notWaitedFor: { name: string; health: string }[];
}

// Fingerprints compare without their colons and case: `AB:CD…` and `abcd…` name the same certificate.
const bare = (fingerprint: string) => fingerprint.replaceAll(":", "").toLowerCase();

/** Sorts the fleet by whether each live edge trusts `rootFingerprint256`. Pure: GET /ca shows it, the gate below refuses on it. */
export function fleetTrustOf(items: readonly (EdgeRecord & Pick<EdgeStanding, "health">)[], rootFingerprint256: string): FleetTrust {
  const wanted = bare(rootFingerprint256);
  const trust: FleetTrust = { fingerprint256: rootFingerprint256, trusting: [], holdingBack: [], notWaitedFor: [] };
  for (const edge of items) {
    if (edge.health !== "ok" && edge.health !== "behind") trust.notWaitedFor.push({ name: edge.name, health: edge.health });
    else if (edge.caTrust?.roots.some((root) => bare(root) === wanted)) trust.trusting.push(edge.name);
    else trust.holdingBack.push({ name: edge.name, health: edge.health, roots: edge.caTrust?.roots ?? null });
  }
  return trust;
}

/**
 * The fleet gate of a root rollover's activation: resolves when every live edge of the store trusts the new root,
 * else throws CaRolloverHeldBackError naming those that do not. An edge store with no live edge lets it through.
 * @example
 * await requireFleetTrusts(store.edges, { serialHex, fingerprint256 }, new Date());
 */
export async function requireFleetTrusts(edges: EdgeStore, newRoot: { serialHex: string; fingerprint256: string }, now: Date): Promise<FleetTrust> {
  const fleet = await edges.fleet({ now });
  const trust = fleetTrustOf(fleet.items, newRoot.fingerprint256);
  if (trust.holdingBack.length > 0) throw new CaRolloverHeldBackError(newRoot, trust.holdingBack);
  return trust;
}
