// `npm run bench:in-process`: starts CA, origin and edge in-process, runs every scenario, prints the results, exits 1 if any request failed.
import { BENCH_HELP, parseBenchArgs } from "./bench-args.ts";
import { startBenchFixture } from "./bench-fixture.ts";
import { formatCacheIndex, measureCacheIndex } from "./cache-index.ts";
import { formatDiskRestart, measureDiskRestart } from "./disk-restart.ts";
import { buildReport, formatReport } from "./report.ts";
import { runScenarios } from "./scenarios.ts";
import type { ScenarioOutcome } from "./scenarios.ts";
import { CliUsageError, MoatError } from "../src/errors.ts";

async function main(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv);
  if (args.wantsHelp) {
    process.stdout.write(`${BENCH_HELP}\n`);
    return 0;
  }
  const fixture = await startBenchFixture();
  let outcomes: ScenarioOutcome[];
  try {
    // Progress goes to stderr so that --json leaves stdout to the JSON alone.
    outcomes = await runScenarios(fixture, args, (title) => process.stderr.write(`bench: ${title}…\n`));
  } finally {
    // Every scenario has closed its clients by now, so the edge's drain does not wait on the bench.
    await fixture.close();
  }
  const report = buildReport(outcomes, args);
  process.stderr.write("bench: cache index at a million entries…\n");
  const cacheIndex = measureCacheIndex();
  process.stderr.write("bench: disk tier restart…\n");
  const diskRestart = await measureDiskRestart();
  process.stdout.write(
    args.isJson ? `${JSON.stringify({ ...report, cacheIndex, diskRestart }, null, 2)}\n` : formatReport(report) + formatCacheIndex(cacheIndex) + formatDiskRestart(diskRestart),
  );
  return report.totalErrors > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof MoatError) {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exitCode = error instanceof CliUsageError ? 2 : 1;
      return;
    }
    process.stderr.write(`bench: failed (a bug in the bench or the edge):\n${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
