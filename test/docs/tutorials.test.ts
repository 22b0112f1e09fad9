// Runs every tutorial's shell and config blocks, in order, as one bash script on loopback: what a reader pastes works.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { codeBlocks, markerValue, pageMarker } from "./markdown-blocks.ts";
import type { CodeBlock } from "./markdown-blocks.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const TUTORIALS = join(ROOT, "docs", "tutorials");
// The ports the tutorials show; each run replaces them with ports the OS says are free.
const SHOWN_PORTS = [8443, 8080, 9443, 9444, 3000];
const RUNNABLE = new Set(["sh", "bash", "shell"]);
const TIMEOUT_MS = 60_000;

/** A port the OS just handed out on loopback (closed again, for a server that cannot take port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function withPorts(text: string, ports: Map<number, number>): string {
  return text.replace(/\b(8443|8080|9443|9444|3000)\b/g, (shown) => String(ports.get(Number(shown)) ?? shown));
}

/** The script lines for one page's blocks; `cleanup` blocks are returned apart, to run last. */
function scriptOf(file: string, ports: Map<number, number>): { body: string[]; cleanup: string[]; expected: string[] } {
  const body: string[] = [];
  const cleanup: string[] = [];
  const expected: string[] = [];
  for (const block of codeBlocks(file)) {
    const wanted = markerValue(block, "output contains");
    if (wanted !== undefined) expected.push(wanted);
    if (block.markers.includes("illustrative")) continue;
    const target = markerValue(block, "file");
    if (target !== undefined) body.push(...writeFileLines(target, block, ports));
    else if (RUNNABLE.has(block.lang)) (block.markers.includes("cleanup") ? cleanup : body).push(`# ${file}:${block.line}`, withPorts(block.code, ports));
  }
  return { body, cleanup, expected };
}

// A page's JavaScript imports the published entry point; in this checkout, that is the source.
function writeFileLines(target: string, block: CodeBlock, ports: Map<number, number>): string[] {
  const text = withPorts(block.code, ports).replaceAll('"moat/guard"', JSON.stringify(join(ROOT, "src/guard/index.ts")));
  return [`cat > ${target} <<'MOAT_TUTORIAL_EOF'`, text.replace(/\n$/, ""), "MOAT_TUTORIAL_EOF"];
}

async function runTutorial(name: string): Promise<void> {
  const file = join(TUTORIALS, name);
  const ports = new Map<number, number>();
  for (const shown of SHOWN_PORTS) ports.set(shown, await freePort());
  const before = pageMarker(file, "continues");
  const first = before === undefined ? { body: [], cleanup: [], expected: [] } : scriptOf(join(TUTORIALS, before), ports);
  const own = scriptOf(file, ports);
  const dir = await mkdtemp(join(tmpdir(), "moat-tutorial-"));
  const script = [
    "set -euo pipefail",
    `moat() { node ${JSON.stringify(join(ROOT, "src/cli/main.ts"))} "$@"; }`,
    ...first.body,
    ...own.body,
    // A page that continues another stops everything itself.
    ...(own.cleanup.length > 0 ? own.cleanup : first.cleanup),
  ].join("\n");
  const child = spawn("bash", ["-c", script], {
    cwd: dir,
    detached: true,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`, MOAT_DATA_DIR: "", MOAT_MASTER_KEY: "", MOAT_MASTER_KEY_FILE: "" },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => killGroup(child.pid), TIMEOUT_MS);
  // Background servers keep the pipes open after bash exits: wait for bash, end them, then for the pipes.
  const closed = new Promise((resolve) => child.on("close", resolve));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  killGroup(child.pid);
  await closed;
  try {
    assert.equal(code, 0, `${name} failed (exit ${code}); its output:\n${output}\nscript:\n${script}`);
    for (const wanted of [...first.expected, ...own.expected]) assert.ok(output.includes(wanted), `${name}: the output lacks ${JSON.stringify(wanted)}:\n${output}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ends whatever the tutorial left running (its background servers), by the process group the test started. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

const pages = (await readdir(TUTORIALS)).filter((name) => name.endsWith(".md") && name !== "index.md").sort();

for (const name of pages) {
  const runnable = codeBlocks(join(TUTORIALS, name)).some((block) => RUNNABLE.has(block.lang) && !block.markers.includes("illustrative"));
  test(`tutorial ${name} runs as written`, { skip: runnable ? false : "no runnable block" }, async (t) => {
    const needs = pageMarker(join(TUTORIALS, name), "requires");
    if (needs !== undefined && !(await hasCommand(needs))) {
      if (process.env.MOAT_REQUIRE_NGINX === "1") assert.fail(`${name} needs ${needs}, and MOAT_REQUIRE_NGINX=1 says it must be installed`);
      t.skip(`${needs} is not installed`);
      return;
    }
    await runTutorial(name);
  });
}

async function hasCommand(name: string): Promise<boolean> {
  const child = spawn("bash", ["-c", `command -v ${name}`], { stdio: "ignore" });
  return (await new Promise<number | null>((resolve) => child.on("close", resolve))) === 0;
}
