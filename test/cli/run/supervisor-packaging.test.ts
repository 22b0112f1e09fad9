// The shipped ways to supervise the edge (systemd unit, Dockerfile, npm scripts) start node directly on `moat start` with the edge's V8 flags and malloc settings, stop it with SIGTERM within the drain limit, and confine it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { EDGE_MALLOC_ENV, EDGE_NODE_FLAGS } from "../../../src/cli/run/edge-runtime.ts";
import { DRAIN_LIMIT_MS } from "../../../src/cli/run/serve-edge.ts";
import { repoRoot } from "../moat-process.ts";

const run = promisify(execFile);

/** `Key=value` lines of one section of a unit file; a key may repeat. */
function unitSection(text: string, section: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    if (current !== section) continue;
    const at = line.indexOf("=");
    const key = line.slice(0, at);
    entries.set(key, [...(entries.get(key) ?? []), line.slice(at + 1)]);
  }
  return entries;
}

/** Seconds of a systemd time span such as "40s", "1min 30s" or "40". */
function seconds(span: string): number {
  let total = 0;
  for (const [, amount, unit] of span.matchAll(/(\d+)\s*(min|s)?/g)) total += Number(amount) * (unit === "min" ? 60 : 1);
  return total;
}

/** The command a process manager would run: an exec-form line's argv, never through a shell or npm, with the edge's node flags. */
function assertDirectNodeCommand(argv: string[], where: string): void {
  assert.match(argv[0] ?? "", /(^|\/)node$/, `${where}: the first word is the node binary`);
  const flags = argv.slice(1, argv.findIndex((word, i) => i > 0 && !word.startsWith("-")));
  assert.deepEqual(flags, EDGE_NODE_FLAGS, `${where}: node gets the edge's flags (src/cli/run/edge-runtime.ts)`);
  const rest = argv.slice(1 + flags.length);
  assert.match(rest[0] ?? "", /dist\/cli\/main\.js$/, `${where}: node runs the compiled moat command`);
  assert.equal(rest[1], "start", `${where}: runs moat start`);
  for (const word of argv) assert.doesNotMatch(word, /^(npm|npx|sh|bash|\/bin\/sh)$|^-c$/, `${where}: no npm or shell between the supervisor and node (${argv.join(" ")})`);
}

test("the systemd unit runs node directly as a dedicated user, stops it with SIGTERM after the drain limit, and confines it", async () => {
  const text = await readFile(join(repoRoot, "packaging/systemd/moat.service"), "utf8");
  const service = unitSection(text, "Service");
  const one = (key: string) => {
    const values = service.get(key);
    assert.equal(values?.length, 1, `exactly one ${key}=`);
    return values[0]!;
  };
  assert.match(one("Type"), /^(exec|simple)$/);
  assertDirectNodeCommand(one("ExecStart").split(/\s+/), "ExecStart");
  assert.equal(one("KillSignal"), "SIGTERM");
  assert.ok(seconds(one("TimeoutStopSec")) * 1000 > DRAIN_LIMIT_MS, `TimeoutStopSec (${one("TimeoutStopSec")}) must outlast the edge's drain limit (${DRAIN_LIMIT_MS} ms)`);
  assert.match(one("User"), /^(?!root$|0$)\w+/, "a dedicated unprivileged user");
  assert.equal(one("NoNewPrivileges"), "yes");
  assert.equal(one("ProtectSystem"), "strict");
  assert.equal(one("ReadWritePaths"), "/var/lib/moat", "the data directory is the one writable path");
  assert.equal(one("CapabilityBoundingSet"), "", "no capability unless a port below 1024 needs one");
  assert.equal(service.get("AmbientCapabilities"), undefined);
  const environment = service.get("Environment") ?? [];
  assert.ok(environment.some((line) => /^MOAT_MASTER_KEY_FILE=%d\//.test(line)), "the master key comes as a credential, not in the unit");
  assertMallocEnv(environment.flatMap((line) => line.split(/\s+/)), "Environment");

  // systemd's own parser, where this machine has it: it names any line it cannot use.
  if (existsSync("/usr/bin/systemd-analyze")) {
    const { stderr } = await run("/usr/bin/systemd-analyze", ["verify", join(repoRoot, "packaging/systemd/moat.service")]).catch((error: { stderr: string }) => ({ stderr: error.stderr }));
    assert.doesNotMatch(stderr, /moat\.service:\d+/, stderr);
  }
});

test("the Dockerfile's command is node on the compiled moat start in exec form, as a non-root user, with SIGTERM to stop", async () => {
  const text = await readFile(join(repoRoot, "packaging/docker/Dockerfile"), "utf8");
  const instructions = text.split("\n").filter((line) => /^[A-Z]+\s/.test(line));
  const finalStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith("FROM ")));
  const cmd = finalStage.filter((line) => line.startsWith("CMD ") || line.startsWith("ENTRYPOINT "));
  assert.equal(cmd.length, 1, "one CMD (no ENTRYPOINT wrapper)");
  const argv = JSON.parse(cmd[0]!.replace(/^CMD\s+/, "")) as string[];
  assert.ok(Array.isArray(argv), "exec form: a JSON array, so Docker runs no /bin/sh -c and SIGTERM reaches node");
  assertDirectNodeCommand(argv, "CMD");
  assertMallocEnv(finalStage.filter((line) => line.startsWith("ENV ")).flatMap((line) => line.split(/\s+/).slice(1)), "ENV");
  const user = finalStage.filter((line) => line.startsWith("USER ")).at(-1);
  assert.ok(user && !/^USER\s+(root|0)(:|$)/.test(user), `the final stage runs as a non-root user (${user})`);
  assert.ok(finalStage.includes("STOPSIGNAL SIGTERM"));
  // What it copies from the build context exists in the repository.
  for (const line of instructions.filter((l) => l.startsWith("COPY ") && !l.includes("--from="))) {
    for (const source of line.split(/\s+/).slice(1, -1)) assert.ok(existsSync(join(repoRoot, source)), `${source} (${line})`);
  }
});

/** `NAME=value` words include every malloc setting of src/cli/run/edge-runtime.ts, with its value. */
function assertMallocEnv(assignments: string[], where: string): void {
  for (const [name, value] of Object.entries(EDGE_MALLOC_ENV)) assert.ok(assignments.includes(`${name}=${value}`), `${where}: sets ${name}=${value} (${assignments.join(" ")})`);
}

test("npm's scripts exec node with the edge's flags and malloc settings, so that a signal npm forwards reaches the edge and not a shell", async () => {
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
  for (const name of ["start", "moat"]) {
    const script = manifest.scripts[name] ?? "";
    const match = /^((?:\w+=\S+ )*)exec node ((?:-\S+ )*)src\/cli\/main\.ts\b/.exec(script);
    assert.ok(match, `${name}: ${script}`);
    assertMallocEnv(match[1]!.trim().split(" "), name);
    assert.deepEqual(match[2]!.trim().split(" "), EDGE_NODE_FLAGS, name);
  }
});
