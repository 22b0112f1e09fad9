#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --max-semi-space-size=8
// The `moat` command: parses the subcommand, runs it, and turns user errors into clean messages.
import { MoatError, CliUsageError } from "../errors.ts";
import { commands } from "./commands.ts";

const usage = `moat — a self-hosted CDN edge with end-to-end mutual TLS

Usage: moat <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(Math.max(...commands.map((command) => command.name.length)))} ${c.summary}`).join("\n")}

Examples:
  moat demo                                   the demo (what \`npm start\` runs)
  moat ca init --data-dir /var/lib/moat       create the private CA once
  moat start --config ./moat.yaml             run an edge
  moat apply -f ./moat.yaml --store DIR       put a config into a store; \`moat start --store DIR\` serves it

Run \`moat <command> --help\` for a command's options and an example.`;

// The exit code of a failure of the command being run, when it has one of its own (see CliCommand.failureExitCode).
let failureExitCode = 1;

async function main(argv: string[]): Promise<number> {
  const wantsHelp = argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help";
  if (wantsHelp) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  // The longest name wins: "edge token create" before "ca init" before "start".
  const command = [3, 2, 1].map((words) => commands.find((c) => c.name === argv.slice(0, words).join(" "))).find((found) => found !== undefined);
  if (!command) {
    // "moat ca" alone, or "moat ca nope": name the subcommands of that group.
    const group = commands.filter((c) => c.name.startsWith(`${argv[0]} `)).map((c) => c.name);
    const known = group.length ? `the ${argv[0]} commands are: ${group.join(", ")}` : "run `moat --help` for the list of commands";
    throw new CliUsageError(`unknown command "${argv.slice(0, 2).join(" ")}".`, { fix: known });
  }
  failureExitCode = command.failureExitCode ?? 1;
  const rest = argv.slice(command.name.split(" ").length);
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof MoatError) {
      // A user's mistake or an environment problem: the message says what and how to fix; no stack.
      process.stderr.write(`moat: ${error.message}\n`);
      process.exitCode = error instanceof CliUsageError ? 2 : failureExitCode;
      return;
    }
    process.stderr.write(`moat: internal error (a bug; please report it with this trace):\n${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 70;
  },
);
