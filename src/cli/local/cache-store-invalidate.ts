// `moat cache invalidate --store`: records the invalidation in the store in one transaction, then waits until the edges that follow the store have applied it.
import { setTimeout as sleep } from "node:timers/promises";
import { invalidationRequestIssues } from "../../cache/index.ts";
import { InvalidationNotAppliedByEdgesError } from "../../errors.ts";
import type { StoredInvalidation } from "../../store/index.ts";
import { osUser } from "./apply-command.ts";
import { refuseInvalid } from "./cache-command.ts";
import { openCommandStore } from "../store-flags.ts";

// Edges poll the store every second: a status read this often sees each one within a poll of its applying it.
const STATUS_POLL_MS = 200;

/** The silent edges it does not wait for, as a sentence; empty when there are none. */
function notWaitedFor(status: StoredInvalidation): string {
  const skipped = status.edges.filter((edge) => !edge.isWaitedFor && edge.appliedAt === null);
  if (skipped.length === 0) return "";
  const named = skipped.map((edge) => `${edge.edge} (${edge.heartbeat === null ? "no heartbeat recorded" : `${edge.heartbeat} since ${edge.lastSeenAt}`})`);
  return `Not waited for: ${named.join(", ")}; an edge applies every invalidation when it comes back.\n`;
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
    // The store's completion rule (invalidation-store.ts): every live edge has applied it, and at least one edge has.
    const deadline = Date.now() + request.waitMs;
    let shown = "";
    for (let status = created; ; status = (await store.invalidations.get(created.seq)) ?? status) {
      const waited = status.edges.filter((edge) => edge.isWaitedFor || edge.appliedAt !== null);
      const applied = waited.filter((edge) => edge.appliedAt !== null).map((edge) => edge.edge);
      const pending = waited.filter((edge) => edge.appliedAt === null).map((edge) => edge.edge);
      if (status.isApplied) {
        process.stdout.write(`Applied by ${applied.length === 1 ? `the edge ${applied[0]}` : `all ${applied.length} edges (${applied.join(", ")})`}: the next request for these paths goes to the origin.\n${notWaitedFor(status)}`);
        return 0;
      }
      const state = waited.length === 0 ? "no live edge has applied it yet" : `${applied.length} of ${waited.length} live edges applied it; waiting for ${pending.join(", ")}`;
      if (state !== shown) process.stderr.write(`moat: ${(shown = state)}\n`);
      if (Date.now() >= deadline) {
        if (pending.length === 0) {
          process.stdout.write(`No live edge applied it within ${request.wait}; an edge run from ${store.label} applies it when it starts.\n${notWaitedFor(status)}`);
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
