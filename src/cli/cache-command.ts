// `moat cache invalidate`: records an invalidation in the data directory, where running edges pick it up, and waits until one has.
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { appendInvalidation, appliedInvalidations, invalidationPathProblem } from "../cache/index.ts";
import { loadConfigFile, parseDuration, resolveDataDir } from "../config/index.ts";
import { CliUsageError, InvalidDurationError } from "../errors.ts";
import { parseCliArgs } from "./cli-args.ts";

export async function runCacheInvalidate(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "cache invalidate",
    args,
    {
      distribution: { type: "string", short: "d" },
      "data-dir": { type: "string" },
      config: { type: "string", short: "c" },
      wait: { type: "string", default: "10s" },
    },
    true,
  );
  if (values.distribution === undefined) throw new CliUsageError("cache invalidate: --distribution is required (the id of the distribution whose paths to invalidate).");
  if (positionals.length === 0) throw new CliUsageError("cache invalidate: give at least one PATH, such as /index.html or /images/*.");
  for (const path of positionals) {
    const problem = invalidationPathProblem(path);
    if (problem) throw new CliUsageError(`cache invalidate: ${problem}.`);
  }
  const config = values.config ? await loadConfigFile(resolve(values.config)) : null;
  if (config && !config.distributions.some((d) => d.id === values.distribution)) {
    throw new CliUsageError(`cache invalidate: ${config.source} has no distribution "${values.distribution}".`, { fix: `use one of ${config.distributions.map((d) => d.id).join(", ")}` });
  }
  const waitMs = parseWait(values.wait);
  const dataDir = config?.dataDir ?? resolveDataDir(values["data-dir"]);
  const { request, seq } = await appendInvalidation(dataDir, values.distribution, positionals);
  process.stdout.write(`Invalidation ${request.id} (#${seq}) recorded for ${values.distribution}: ${positionals.join(" ")}\n`);
  // Edges apply it when they see the file change; applied.json says how far they are.
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if ((await appliedInvalidations(dataDir)) >= seq) {
      process.stdout.write("The running edge has applied it: the next request for these paths goes to the origin.\n");
      return 0;
    }
    await sleep(50);
  }
  process.stdout.write(
    waitMs === 0 ? "Not waiting for the edge (--wait 0s).\n" : `No running edge on ${dataDir} applied it within ${values.wait}; an edge applies it when it starts.\n`,
  );
  return 0;
}

function parseWait(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new CliUsageError(`cache invalidate: --wait ${error.message}`);
    throw error;
  }
}
