// `moat cache invalidate` over the admin API: creates the invalidation, then shows each worker's progress until the running edge has applied it (or the --wait deadline).
import { ApiProblemError } from "../errors.ts";
import type { Invalidation } from "../sdk/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { waitUntilDone } from "./api-wait.ts";
import { printResult } from "./table-output.ts";

/** Where the edge is with it, for a progress line. */
function progress(item: Invalidation): string {
  if (!item.workers) return "waiting for the running edge to apply it";
  const done = item.workers.filter((worker) => worker.status === "applied").length;
  const pending = item.workers.filter((worker) => worker.status !== "applied").map((worker) => `worker ${worker.worker} (pid ${worker.pid})`);
  return `${done} of ${item.workers.length} workers applied it; waiting for ${pending.join(", ")}`;
}

export async function runCacheInvalidateOverApi(values: ApiFlagValues & { json?: boolean | undefined }, distribution: string, paths: string[], wait: { ms: number; text: string }): Promise<number> {
  const command = "cache invalidate";
  return withApi(command, values, async (moat) => {
    const created = (await moat.POST("/invalidations", { body: { distribution, paths } })).data as Invalidation;
    const recorded = `Invalidation ${created.id} (#${created.seq}) recorded for ${distribution}: ${paths.join(" ")}`;
    if (wait.ms === 0) {
      printResult(values.json, created, `${recorded}\nNot waiting for the edge (--no-wait): \`moat cache invalidate --help\` says how to follow it.\n`);
      return 0;
    }
    process.stderr.write(`moat: ${recorded.charAt(0).toLowerCase()}${recorded.slice(1)}\n`);
    const applied = await waitUntilDone<Invalidation | undefined>({
      what: `the running edge to apply invalidation ${created.id}`,
      wait,
      check: `GET /invalidations/${created.id}`,
      poll: async () => {
        let item: Invalidation;
        try {
          item = (await moat.GET("/invalidations/{id}", { params: { path: { id: created.id } } })).data as Invalidation;
        } catch (error) {
          // The edge compacts an applied invalidation away once a later one names all its paths: gone means applied.
          if (error instanceof ApiProblemError && error.status === 404) return { isDone: true, value: undefined };
          throw error;
        }
        return item.status === "applied" ? { isDone: true, value: item } : { isDone: false, state: progress(item) };
      },
    });
    const who = applied?.workers ? `All ${applied.workers.length} workers of the running edge have` : "The running edge has";
    printResult(values.json, applied ?? created, `${recorded}\n${who} applied it: the next request for these paths goes to the origin.\n`);
    return 0;
  });
}
