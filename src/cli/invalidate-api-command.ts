// `moat cache invalidate` over the admin API: creates the invalidation, then shows the edges' progress until every edge run from the API's store has applied it (or the --wait deadline).
import type { Invalidation } from "../sdk/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { waitUntilDone } from "./api-wait.ts";
import { printResult } from "./table-output.ts";

/** Where the edges are with it, for a progress line. */
function progress(item: Invalidation): string {
  if (item.edges.length === 0) return "waiting for an edge run from the API's store to apply it (none has applied an invalidation from it yet)";
  const done = item.edges.filter((edge) => edge.status === "applied").length;
  const pending = item.edges.filter((edge) => edge.status !== "applied").map((edge) => edge.edge);
  return `${done} of ${item.edges.length} edges applied it; waiting for ${pending.join(", ")}`;
}

/** Who has applied it, for the last line. */
function appliedBy(item: Invalidation): string {
  const names = item.edges.map((edge) => edge.edge);
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
    printResult(values.json, applied, `${recorded}\n${appliedBy(applied)} applied it on every worker: the next request for these paths goes to the origin.\n`);
    return 0;
  });
}
