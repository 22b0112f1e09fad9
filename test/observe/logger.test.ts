import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createBatchedDestination, FLUSH_AT_BYTES } from "../../src/observe/logger.ts";

const CHILD = new URL("./logger-child.ts", import.meta.url).pathname;
const DEADLINE_MS = 60_000;

type StdoutKind = "pipe" | "file" | "socket";

interface Writing {
  kind: string;
  isNonBlocking: boolean;
}

/**
 * The child's stdout is a pipe (as under a container runtime), a Unix socket (as under journald), or a file
 * (`moat start > access.log`: its writes are synchronous).
 */
async function runChild(how: string, count: number, to: StdoutKind = "pipe"): Promise<{ code: number | null; lines: { index: number }[]; writing: Writing | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), "moat-logger-"));
  try {
    let fd: number | undefined;
    let socket: Socket | undefined;
    let reader: Readable | undefined;
    if (to === "file") fd = openSync(join(dir, "stdout"), "w", 0o600);
    if (to === "socket") {
      const server = createServer();
      server.listen(join(dir, "stdout.sock"));
      await once(server, "listening");
      const accepted = once(server, "connection") as Promise<[Socket]>;
      socket = connect(join(dir, "stdout.sock"));
      await once(socket, "connect");
      [reader] = await accepted;
      server.close();
    }
    const child = fork(CHILD, [how, String(count)], { stdio: ["ignore", fd ?? socket ?? "pipe", "inherit", "ipc"] });
    // The child has its own copy: the stream ends when the child's does.
    if (fd !== undefined) closeSync(fd);
    socket?.destroy();
    reader ??= child.stdout ?? undefined;
    let out = "";
    reader?.setEncoding("utf8").on("data", (text: string) => (out += text));
    const ended: Promise<unknown> = reader === undefined ? Promise.resolve() : once(reader, "end");
    const exited = once(child, "exit") as Promise<[number | null]>;
    let writing: Writing | undefined;
    if (how === "sigterm") {
      const [ready] = (await withDeadline(once(child, "message"), "the child's ready message")) as [Writing];
      writing = { kind: ready.kind, isNonBlocking: ready.isNonBlocking };
      child.kill("SIGTERM");
    }
    const [code] = await withDeadline(exited, "the child's exit");
    await withDeadline(ended, "the end of the child's stdout");
    if (to === "file") out = readFileSync(join(dir, "stdout"), "utf8");
    const lines = out.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { index: number });
    return { code, lines, writing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withDeadline<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
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
    const { code, lines, writing } = await runChild("sigterm", 5000);
    assert.equal(code, 0);
    assertAllInOrder(lines, 5001);
    assert.deepEqual(writing, { kind: "pipe", isNonBlocking: true }, "a pipe is written without blocking");
  });

  it("writes every line, in order, to a socket (as journald's), on exit, when the loop runs dry and on SIGTERM", async () => {
    const exited = await runChild("exit", 300, "socket");
    assert.equal(exited.code, 0);
    assertAllInOrder(exited.lines, 300);
    const dry = await runChild("natural", 3, "socket");
    assert.equal(dry.code, 0);
    assertAllInOrder(dry.lines, 3);
    const stopped = await runChild("sigterm", 5000, "socket");
    assert.equal(stopped.code, 0);
    assertAllInOrder(stopped.lines, 5001);
    assert.deepEqual(stopped.writing, { kind: "pipe", isNonBlocking: true }, "a socket is written without blocking");
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
    assert.equal(stopped.writing?.kind, "file");
  });

  it("never blocks on a pipe whose reader reads nothing: past the bounded queue whole lines are dropped, counted and reported", async () => {
    // 24,000 lines of about 1 KiB: more than the pipe, what the reader's stream buffers and the 16 MiB queue hold.
    const count = 24_000;
    const child = fork(CHILD, ["slow", String(count)], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
    const exited = once(child, "exit") as Promise<[number | null]>;
    try {
      // Nothing is read yet: had a write blocked, the child would never get to say it has logged them all.
      const [writing] = (await withDeadline(once(child, "message"), "the child to log every line while its reader reads nothing")) as [Writing];
      assert.deepEqual({ kind: writing.kind, isNonBlocking: writing.isNonBlocking }, { kind: "pipe", isNonBlocking: true });
      // Now read: what waited arrives, then the report of what was dropped.
      let out = "";
      const reported = new Promise<void>((resolve) => {
        (child.stdout as Socket).setEncoding("utf8").on("data", (text: string) => {
          out += text;
          if (out.includes("log lines dropped")) resolve();
        });
      });
      await withDeadline(reported, "the report of dropped lines");
      child.send("stop");
      const [code] = await withDeadline(exited, "the child's exit");
      assert.equal(code, 0);
      if (!(child.stdout as Socket).readableEnded) await withDeadline(once(child.stdout as Socket, "end"), "the end of the child's stdout");
      const lines = out.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { index?: number; msg: string; dropped?: number; level: number });
      const notices = lines.filter((line) => line.msg === "log lines dropped: stdout's reader fell behind");
      assert.equal(notices.length, 1, "one report");
      assert.equal(notices[0]?.level, 40);
      const written = lines.filter((line) => line.msg === "request").map((line) => line.index as number);
      const dropped = notices[0]?.dropped ?? 0;
      assert.ok(dropped > 0, "some lines were dropped");
      assert.ok(written.length >= 12_000, `what the 16 MiB queue held was written: ${written.length} lines`);
      assert.equal(written.length + dropped, count, "every line is either written or counted as dropped");
      // In order, whole batches missing: a gap, never a line out of place (each line parsed whole above).
      for (let position = 1; position < written.length; position++) assert.ok((written[position] as number) > (written[position - 1] as number));
      assert.equal(written[0], 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("hands lines on as one write once 256 KiB wait, with the number of lines in it", () => {
    const writes: string[] = [];
    const counts: number[] = [];
    const target = {
      // Copied, not kept: the destination writes its next batch into the same buffer.
      write: (bytes: Buffer, lines: number) => (writes.push(bytes.toString("utf8")), counts.push(lines), false),
      flushSync: (rest: Buffer | undefined, lines: number) => void (rest && (writes.push(rest.toString("utf8")), counts.push(lines))),
    };
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
    assert.deepEqual(counts, [256, 1]);
  });

  it("gathers the next batch in a new buffer while the target keeps the last one (a pipe's queue)", () => {
    const kept: Buffer[] = [];
    const destination = createBatchedDestination({ write: (bytes: Buffer) => (kept.push(bytes), true), flushSync: () => {} });
    const line = `${"y".repeat(1023)}\n`;
    for (let index = 0; index < 512; index++) destination.write(index < 256 ? line : line.replace("y", "z"));
    assert.equal(kept.length, 2);
    assert.equal(kept[0]?.toString("utf8"), line.repeat(256), "the first batch is intact after the second was gathered");
    assert.equal(kept[1]?.toString("utf8"), line.replace("y", "z").repeat(256));
  });

  it("keeps text outside ASCII whole, and a line larger than a batch follows what waited, in order", () => {
    const writes: string[] = [];
    const target = { write: (bytes: Buffer) => (writes.push(bytes.toString("utf8")), false), flushSync: (rest: Buffer | undefined) => void (rest && writes.push(rest.toString("utf8"))) };
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
