// `moat cache invalidate`: records an invalidation in the data directory (or over the admin API), where running edges pick it up, and waits until the edge (every worker of it) has.
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { appendInvalidation, appliedInvalidations, invalidationPathProblem } from "../cache/index.ts";
import { isDataDirInEnvironment, loadConfigFile, resolveDataDir } from "../config/index.ts";
import { CliUsageError, InvalidationNotAppliedError } from "../errors.ts";
import { API_FLAGS, isOverApi } from "./api-connection.ts";
import { parseWaitFlags, WAIT_FLAGS } from "./api-wait.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runCacheInvalidate(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "cache invalidate",
    args,
    {
      distribution: { type: "string", short: "d" },
      "data-dir": { type: "string" },
      config: { type: "string", short: "c" },
      json: { type: "boolean" },
      ...WAIT_FLAGS,
      ...API_FLAGS,
    },
    true,
  );
  if (values.distribution === undefined) throw new CliUsageError("cache invalidate: --distribution is required (the id of the distribution whose paths to invalidate).");
  if (positionals.length === 0) throw new CliUsageError("cache invalidate: give at least one PATH, such as /index.html or /images/*.");
  for (const path of positionals) {
    const problem = invalidationPathProblem(path);
    if (problem) throw new CliUsageError(`cache invalidate: ${problem}.`);
  }
  // --data-dir or --config (or MOAT_DATA_DIR, when no --api or --context is given) records it in the data directory; otherwise the API.
  if (await isOverApi("cache invalidate", values, { isNamed: values["data-dir"] !== undefined || values.config !== undefined, isInEnvironment: isDataDirInEnvironment() })) {
    const wait = parseWaitFlags("cache invalidate", values, "30s");
    return (await import("./invalidate-api-command.ts")).runCacheInvalidateOverApi(values, values.distribution, positionals, wait);
  }
  if (values.json) throw new CliUsageError("cache invalidate: --json prints the admin API's answer; the data directory's form prints text.", { fix: "give --api URL (or MOAT_API, or a context), or leave --json out" });
  const config = values.config ? await loadConfigFile(resolve(values.config)) : null;
  if (config && !config.distributions.some((d) => d.id === values.distribution)) {
    throw new CliUsageError(`cache invalidate: ${config.source} has no distribution "${values.distribution}".`, { fix: `use one of ${config.distributions.map((d) => d.id).join(", ")}` });
  }
  const { ms: waitMs, text: waited } = parseWaitFlags("cache invalidate", values, "10s");
  const dataDir = config?.dataDir ?? resolveDataDir(values["data-dir"]);
  const { request, seq } = await appendInvalidation(dataDir, values.distribution, positionals);
  process.stdout.write(`Invalidation ${request.id} (#${seq}) recorded for ${values.distribution}: ${positionals.join(" ")}\n`);
  // Edges apply it when they see the file change; applied.json says how far they are (under workers, the slowest worker).
  const deadline = Date.now() + waitMs;
  let applied = await appliedInvalidations(dataDir);
  while (Date.now() < deadline) {
    if (applied.applied >= seq) {
      const who = applied.workers ? `all ${applied.workers.length} workers of the running edge have` : "the running edge has";
      process.stdout.write(`${capitalised(who)} applied it: the next request for these paths goes to the origin.\n`);
      return 0;
    }
    await sleep(50);
    applied = await appliedInvalidations(dataDir);
  }
  if (waitMs === 0) {
    process.stdout.write(`Not waiting for the edge (${values["no-wait"] ? "--no-wait" : "--wait 0s"}).\n`);
    return 0;
  }
  // A worker that is running and has not applied it serves what it should not: that is a failure, and it is named.
  const lagging = (applied.workers ?? []).filter((worker) => worker.applied < seq && isRunning(worker.pid));
  if (lagging.length > 0) throw new InvalidationNotAppliedError({ seq, waited, lagging, dataDir });
  process.stdout.write(`No running edge on ${dataDir} applied it within ${waited}; an edge applies it when it starts.\n`);
  return 0;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Whether a process with this pid exists (signal 0 only checks). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
