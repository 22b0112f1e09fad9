// `moat cache invalidate` over the admin API: creates the invalidation, then shows the edges' progress until every edge run from the API's store has applied it (or the --wait deadline).
import type { Invalidation } from "../../sdk/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { waitUntilDone } from "./api-wait.ts";
import { notWaitedFor } from "./invalidations-command.ts";
import { printResult } from "../table-output.ts";

/** The silent edges it does not wait for, as a clause; empty when there are none. */
function notWaitedClause(item: Invalidation): string {
  const skipped = item.edges.filter((edge) => edge.status === "not-waited-for");
  return skipped.length === 0 ? "" : `; not waited for: ${skipped.map(notWaitedFor).join(", ")}`;
}

/** Where each edge is with it, for a progress line: those that applied it, those waited for, those not. */
function progress(item: Invalidation): string {
  const counted = item.edges.filter((edge) => edge.status !== "not-waited-for");
  if (counted.length === 0) return `waiting for a live edge run from the API's store to apply it (none reports now)${notWaitedClause(item)}`;
  const applied = counted.filter((edge) => edge.status === "applied").map((edge) => edge.edge);
  const pending = counted.filter((edge) => edge.status === "pending").map((edge) => edge.edge);
  const done = applied.length === 0 ? "" : ` (${applied.join(", ")})`;
  return `${applied.length} of ${counted.length} live edges applied it${done}; waiting for ${pending.join(", ")}${notWaitedClause(item)}`;
}

/** Who has applied it, for the last line. */
function appliedBy(item: Invalidation): string {
  const names = item.edges.filter((edge) => edge.status === "applied").map((edge) => edge.edge);
  return names.length === 1 ? `Edge ${names[0]} has` : `All ${names.length} edges (${names.join(", ")}) have`;
}

export async function runCacheInvalidateOverApi(values: ApiFlagValues & { json?: boolean | undefined }, distribution: string, paths: string[], wait: { ms: number; text: string }): Promise<number> {
  const command = "cache invalidate";
  return withApi(command, values, async (moat) => {
    const created = (await moat.POST("/invalidations", { body: { distribution, paths } })).data as Invalidation;
    // The store's ids are the decimal of seq: then the number alone names it, as `--store` prints it.
    const name = created.id === String(created.seq) ? `#${created.seq}` : `${created.id} (#${created.seq})`;
    const recorded = `Invalidation ${name} recorded for ${distribution}: ${paths.join(" ")}`;
    if (wait.ms === 0) {
      printResult(values.json, created, `${recorded}\nNot waiting for the edges (--no-wait); its status: moat invalidations show ${created.id}.\n`);
      return 0;
    }
    process.stderr.write(`moat: ${recorded.charAt(0).toLowerCase()}${recorded.slice(1)}\n`);
    const applied = await waitUntilDone<Invalidation>({
      what: `the edges to apply invalidation ${created.id}`,
      wait,
      check: `moat invalidations show ${created.id}`,
      poll: async () => {
        const item = (await moat.GET("/invalidations/{id}", { params: { path: { id: created.id } } })).data as Invalidation;
        return item.status === "applied" ? { isDone: true, value: item } : { isDone: false, state: progress(item) };
      },
    });
    const skipped = applied.edges.filter((edge) => edge.status === "not-waited-for");
    const notWaited = skipped.length === 0 ? "" : `Not waited for: ${skipped.map(notWaitedFor).join(", ")}; an edge applies every invalidation when it comes back.\n`;
    printResult(values.json, applied, `${recorded}\n${appliedBy(applied)} applied it on every worker: the next request for these paths goes to the origin.\n${notWaited}`);
    return 0;
  });
}
