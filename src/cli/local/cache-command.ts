// `moat cache invalidate`: records an invalidation in a store, the data directory or over the admin API, where running edges pick it up, and waits until they (every worker of each) have.
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { appendInvalidation, appliedInvalidations, invalidationRequestIssues } from "../../cache/index.ts";
import { isDataDirInEnvironment, loadConfigFile, resolveDataDir, resolveStoreAddress } from "../../config/index.ts";
import type { ConfigIssue } from "../../errors.ts";
import { CliUsageError, InvalidationNotAppliedError, InvalidationRequestInvalidError } from "../../errors.ts";
import { API_FLAGS, isOverApi } from "../over-api/api-connection.ts";
import { parseWaitFlags, WAIT_FLAGS } from "../over-api/api-wait.ts";
import { parseCliArgs } from "../cli-args.ts";

export async function runCacheInvalidate(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "cache invalidate",
    args,
    {
      distribution: { type: "string", short: "d" },
      "data-dir": { type: "string" },
      config: { type: "string", short: "c" },
      store: { type: "string" },
      json: { type: "boolean" },
      ...WAIT_FLAGS,
      ...API_FLAGS,
    },
    true,
  );
  if (values.distribution === undefined) throw new CliUsageError("cache invalidate: --distribution is required (the id of the distribution whose paths to invalidate).");
  refuseIssues(invalidationRequestIssues({ distribution: values.distribution, paths: positionals }));
  if (values.store !== undefined && (values.config !== undefined || values["data-dir"] !== undefined)) {
    throw new CliUsageError("cache invalidate: give --store ADDRESS, or --data-dir DIR / --config FILE, not both.", { fix: "an edge run from a store (`moat start --store`) takes invalidations from the store; one run from a file, from its data directory" });
  }
  // --store, --data-dir or --config (or MOAT_STORE, MOAT_DATA_DIR when no --api or --context is given) is local; otherwise the API.
  const isLocalNamed = values.store !== undefined || values["data-dir"] !== undefined || values.config !== undefined;
  if (await isOverApi("cache invalidate", values, { isNamed: isLocalNamed, isInEnvironment: isDataDirInEnvironment() || resolveStoreAddress(undefined) !== undefined })) {
    const wait = parseWaitFlags("cache invalidate", values, "30s");
    return (await import("../over-api/invalidate-api-command.ts")).runCacheInvalidateOverApi(values, values.distribution, positionals, wait);
  }
  if (values.json) throw new CliUsageError("cache invalidate: --json prints the admin API's answer; the local forms print text.", { fix: "give --api URL (or MOAT_API, or a context), or leave --json out" });
  const { ms: waitMs, text: waited } = parseWaitFlags("cache invalidate", values, "10s");
  const storeAddress = values.config === undefined && values["data-dir"] === undefined ? resolveStoreAddress(values.store) : undefined;
  if (storeAddress !== undefined) {
    const { invalidateInStore } = await import("./cache-store-invalidate.ts");
    return invalidateInStore({ address: storeAddress, distribution: values.distribution, paths: positionals, wait: waited, waitMs });
  }
  const config = values.config ? await loadConfigFile(resolve(values.config)) : null;
  if (config) refuseIssues(invalidationRequestIssues({ distribution: values.distribution, paths: positionals }, { distributions: config.distributions.map((d) => d.id), where: config.source }));
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

/** The first issue, as every refusal of this command reads: the words `POST /invalidations` answers with. */
export function refuseIssues(issues: readonly ConfigIssue[]): void {
  const first = issues[0];
  if (first) throw new CliUsageError(`cache invalidate: ${first.message}.`);
}

/** The store's refusal (a distribution removed since, checked under its write lock) in the same words. */
export function refuseInvalid(error: unknown): never {
  if (error instanceof InvalidationRequestInvalidError) refuseIssues(error.issues);
  throw error;
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
