// The shipped ways to supervise the edge (systemd unit, Dockerfile, npm scripts) start node directly on `moat start`, stop it with SIGTERM within the drain limit, and confine it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { DRAIN_LIMIT_MS } from "../../src/cli/serve-edge.ts";
import { repoRoot } from "./moat-process.ts";

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

/** The command a process manager would run: an exec-form line's argv, never through a shell or npm. */
function assertDirectNodeCommand(argv: string[], where: string): void {
  assert.match(argv[0] ?? "", /(^|\/)node$/, `${where}: the first word is the node binary`);
  assert.match(argv[1] ?? "", /dist\/cli\/main\.js$/, `${where}: node runs the compiled moat command`);
  assert.equal(argv[2], "start", `${where}: runs moat start`);
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
  assert.match(one("Environment"), /^MOAT_MASTER_KEY_FILE=%d\//, "the master key comes as a credential, not in the unit");

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
  const user = finalStage.filter((line) => line.startsWith("USER ")).at(-1);
  assert.ok(user && !/^USER\s+(root|0)(:|$)/.test(user), `the final stage runs as a non-root user (${user})`);
  assert.ok(finalStage.includes("STOPSIGNAL SIGTERM"));
  // What it copies from the build context exists in the repository.
  for (const line of instructions.filter((l) => l.startsWith("COPY ") && !l.includes("--from="))) {
    for (const source of line.split(/\s+/).slice(1, -1)) assert.ok(existsSync(join(repoRoot, source)), `${source} (${line})`);
  }
});

test("npm's scripts exec node, so that a signal npm forwards reaches the edge and not a shell", async () => {
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
  for (const name of ["start", "moat"]) assert.match(manifest.scripts[name] ?? "", /^exec node src\/cli\/main\.ts\b/, name);
});
