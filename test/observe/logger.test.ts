import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createBatchedDestination, FLUSH_AT_BYTES } from "../../src/observe/logger.ts";

const CHILD = new URL("./logger-child.ts", import.meta.url).pathname;

/** The child's stdout is a pipe (as under a container runtime), or a file (`moat start > access.log`): then its writes are synchronous. */
async function runChild(how: string, count: number, to: "pipe" | "file" = "pipe"): Promise<{ code: number | null; lines: { index: number }[] }> {
  const dir = to === "file" ? mkdtempSync(join(tmpdir(), "moat-logger-")) : undefined;
  const file = dir === undefined ? undefined : join(dir, "stdout");
  const fd = file === undefined ? undefined : openSync(file, "w", 0o600);
  const child = fork(CHILD, [how, String(count)], { stdio: ["ignore", fd ?? "pipe", "inherit", "ipc"] });
  if (fd !== undefined) closeSync(fd);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (out += text));
  if (how === "sigterm") {
    await once(child, "message");
    child.kill("SIGTERM");
  }
  const [code] = (await once(child, "exit")) as [number | null];
  if (child.stdout && !child.stdout.readableEnded) await once(child.stdout, "end");
  if (file !== undefined) {
    out = readFileSync(file, "utf8");
    rmSync(dir as string, { recursive: true, force: true });
  }
  const lines = out.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { index: number });
  return { code, lines };
}

function assertAllInOrder(lines: { index: number }[], count: number): void {
  assert.equal(lines.length, count);
  lines.forEach((line, position) => assert.equal(line.index, position));
}

describe("the batched stdout destination", () => {
  it("writes every line, in order, when the process exits with lines still waiting", async () => {
    // Fewer than a batch: all of them are still waiting when process.exit runs.
    const { code, lines } = await runChild("exit", 300);
    assert.equal(code, 0);
    assertAllInOrder(lines, 300);
  });

  it("writes every line when the event loop runs dry", async () => {
    const { code, lines } = await runChild("natural", 3);
    assert.equal(code, 0);
    assertAllInOrder(lines, 3);
  });

  it("writes every line, the last one logged on SIGTERM included, on a clean stop", async () => {
    // Several batches, more than a pipe holds: writes are in flight when the signal comes.
    const { code, lines } = await runChild("sigterm", 5000);
    assert.equal(code, 0);
    assertAllInOrder(lines, 5001);
  });

  it("writes every line, in order, to a file (written synchronously) on exit, when the loop runs dry and on SIGTERM", async () => {
    const exited = await runChild("exit", 300, "file");
    assert.equal(exited.code, 0);
    assertAllInOrder(exited.lines, 300);
    const dry = await runChild("natural", 3, "file");
    assert.equal(dry.code, 0);
    assertAllInOrder(dry.lines, 3);
    const stopped = await runChild("sigterm", 5000, "file");
    assert.equal(stopped.code, 0);
    assertAllInOrder(stopped.lines, 5001);
  });

  it("hands lines on as one write once 256 KiB wait", () => {
    const writes: string[] = [];
    const target = { write: (bytes: Buffer) => writes.push(bytes.toString("utf8")), flushSync: () => {}, minLength: 0 };
    const destination = createBatchedDestination(target);
    const line = `${"x".repeat(1023)}\n`;
    const count = FLUSH_AT_BYTES / line.length;
    assert.equal(count, 256);
    for (let index = 0; index < count; index++) destination.write(line);
    assert.equal(writes.length, 1);
    assert.equal(writes[0], line.repeat(count));
    destination.write(line);
    destination.flushSync();
    assert.deepEqual(writes.slice(1), [line]);
  });

  it("keeps text outside ASCII whole, and a line larger than a batch follows what waited, in order", () => {
    const writes: string[] = [];
    const target = { write: (bytes: Buffer) => writes.push(bytes.toString("utf8")), flushSync: () => {}, minLength: 0 };
    const destination = createBatchedDestination(target);
    // 3 bytes per character in UTF-8, 1 UTF-16 unit: the batch must make room by bytes, not by characters.
    const wide = `${"€".repeat(40_000)}\n`;
    const huge = `${"é".repeat(FLUSH_AT_BYTES)}\n`;
    destination.write("first\n");
    destination.write(wide);
    destination.write(wide);
    destination.write(huge);
    destination.write("last\n");
    destination.flushSync();
    assert.equal(writes.join(""), `first\n${wide}${wide}${huge}last\n`);
    assert.ok(writes.every((text) => !text.includes("\ufffd")), "no character cut between two writes");
  });
});
