// `moat cache invalidate --store`: records the invalidation in the store in one transaction, then waits until the edges that follow the store have applied it.
import { setTimeout as sleep } from "node:timers/promises";
import { invalidationRequestIssues } from "../cache/index.ts";
import { InvalidationNotAppliedByEdgesError } from "../errors.ts";
import type { StoredInvalidation } from "../store/index.ts";
import { osUser } from "./apply-command.ts";
import { refuseInvalid } from "./cache-command.ts";
import { openCommandStore } from "./store-flags.ts";

// Edges poll the store every second: a status read this often sees each one within a poll of its applying it.
const STATUS_POLL_MS = 200;

/**
 * The edges waited for: those that applied the invalidation before this one (they follow the store now), or any
 * edge at all for the first. An edge that left the fleet stops holding the command up once it missed one.
 */
function waitedFor(previous: StoredInvalidation | undefined, current: StoredInvalidation): string[] {
  if (!previous) return current.edges.map((edge) => edge.edge);
  return previous.edges.filter((edge) => edge.appliedAt !== null).map((edge) => edge.edge);
}

/** @example await invalidateInStore({ address: "postgres://moat@db/moat", distribution: "shop", paths: ["/a"], wait: "10s", waitMs: 10_000 }); */
export async function invalidateInStore(request: { address: string; distribution: string; paths: readonly string[]; wait: string; waitMs: number }): Promise<number> {
  const store = await openCommandStore("cache invalidate", request.address);
  try {
    const created = await store.invalidations
      .create({
        distribution: request.distribution,
        paths: request.paths,
        actor: `cli:${osUser()}`,
        now: new Date(),
        check: (distributions) => invalidationRequestIssues(request, { distributions, where: `the store ${store.label}` }),
      })
      .catch(refuseInvalid);
    process.stdout.write(`Invalidation #${created.seq} recorded in ${store.label} for ${request.distribution}: ${request.paths.join(" ")}\n`);
    if (request.waitMs === 0) {
      process.stdout.write("Not waiting for the edges (--wait 0s).\n");
      return 0;
    }
    const previous = created.seq > 1 ? await store.invalidations.get(created.seq - 1) : undefined;
    const deadline = Date.now() + request.waitMs;
    for (let status = created; ; status = (await store.invalidations.get(created.seq)) ?? status) {
      const edges = waitedFor(previous, status);
      const pending = edges.filter((edge) => status.edges.find((item) => item.edge === edge)?.appliedAt == null);
      if (edges.length > 0 && pending.length === 0) {
        process.stdout.write(`Applied by ${edges.length === 1 ? `the edge ${edges[0]}` : `all ${edges.length} edges (${edges.join(", ")})`}: the next request for these paths goes to the origin.\n`);
        return 0;
      }
      if (Date.now() >= deadline) {
        if (edges.length === 0) {
          process.stdout.write(`No edge applied it within ${request.wait}; an edge run from ${store.label} applies it when it starts.\n`);
          return 0;
        }
        throw new InvalidationNotAppliedByEdgesError({ id: created.seq, waited: request.wait, pending, store: store.label });
      }
      await sleep(STATUS_POLL_MS);
    }
  } finally {
    await store.close();
  }
}
