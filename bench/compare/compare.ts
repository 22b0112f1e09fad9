// `npm run bench`: Moat beside nginx and a bare Node server, each its own process on loopback, loaded by wrk and h2load; prints a table (or --json).
import { startScene } from "./bench-scene.ts";
import type { Scene } from "./bench-scene.ts";
import { COMPARE_ARGS_EXIT_USAGE, COMPARE_HELP, parseCompareArgs } from "./compare-args.ts";
import { COMPARE_CASES } from "./compare-cases.ts";
import { buildCompareReport, formatCompareReport } from "./compare-report.ts";
import { estimateSeconds, runRounds } from "./compare-rounds.ts";
import { describeMachine } from "./machine.ts";
import { ProcessGroup } from "./processes.ts";
import { findBenchTools } from "./tools.ts";
import { CliUsageError, MoatError } from "../../src/errors.ts";

async function main(argv: string[]): Promise<number> {
  const args = parseCompareArgs(argv);
  if (args.wantsHelp) {
    process.stdout.write(`${COMPARE_HELP}\n`);
    return 0;
  }
  const found = findBenchTools();
  if (!found.ok) {
    process.stderr.write(`bench: ${found.hint}\n`);
    return COMPARE_ARGS_EXIT_USAGE;
  }
  const { tools } = found;
  const machine = describeMachine(tools);
  const durationS = args.durationMs / 1000;
  const unknownCases = args.caseIds.filter((id) => !COMPARE_CASES.some((compareCase) => compareCase.id === id));
  if (unknownCases.length > 0) {
    process.stderr.write(`bench: unknown case ${unknownCases.join(", ")}; the cases are ${COMPARE_CASES.map((compareCase) => compareCase.id).join(", ")}\n`);
    return COMPARE_ARGS_EXIT_USAGE;
  }
  const cases = args.caseIds.length === 0 ? COMPARE_CASES : COMPARE_CASES.filter((compareCase) => args.caseIds.includes(compareCase.id));
  const startedAt = performance.now();
  process.stderr.write(`bench: about ${estimateSeconds(cases, args.rounds, durationS)} s in all (${args.rounds} rounds × ${durationS} s per case and peer); Ctrl-C stops everything it started\n`);

  const group = new ProcessGroup();
  let scene: Scene | null = null;
  let isStopping = false;
  // Ctrl-C or a supervisor's SIGTERM: stop every process started (each leads its own process group), remove the temp files, exit.
  const onSignal = (signal: NodeJS.Signals) => {
    isStopping = true;
    process.stderr.write(`bench: ${signal}: stopping what it started\n`);
    void Promise.all([group.stopAll(), scene?.close()]).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => group.killAllNow());

  try {
    process.stderr.write("bench: starting the origin, the edges and the ceiling…\n");
    scene = await startScene({ tools, workers: args.workers, group }).catch((error: unknown) => {
      if (args.workers > 1) (error as Error).message += `\n(--workers ${args.workers}: Moat gets \`workers: ${args.workers}\` in its config; an edge that does not support workers refuses it)`;
      throw error;
    });
    const { samples, memory } = await runRounds({
      tools,
      group,
      scene,
      cases,
      rounds: args.rounds,
      durationS,
      connections: args.connections,
      ratePerSecond: args.ratePerSecond,
      onProgress: (text) => process.stderr.write(`bench: ${text}\n`),
    });
    const report = buildCompareReport({
      cases,
      samples,
      memory,
      machine,
      args,
      edgeCpu: scene.edgeCpu,
      loadCpu: scene.loadCpu,
      elapsedS: (performance.now() - startedAt) / 1000,
      command: `npm run bench -- ${argv.join(" ")}`.trim(),
    });
    process.stdout.write(args.isJson ? `${JSON.stringify(report, null, 2)}\n` : formatCompareReport(report));
    return report.totalErrors > 0 ? 1 : 0;
  } catch (error) {
    // A load generator the signal handler stopped fails its run: not worth a stack trace.
    if (isStopping) return new Promise<number>(() => {});
    throw error;
  } finally {
    await scene?.close();
    await group.stopAll();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof MoatError) {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exitCode = error instanceof CliUsageError ? COMPARE_ARGS_EXIT_USAGE : 1;
      return;
    }
    process.stderr.write(`bench: failed:\n${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
