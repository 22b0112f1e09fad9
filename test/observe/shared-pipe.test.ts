import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, it } from "node:test";
import { atomicChunkEnd, PIPE_BUF } from "../../src/observe/batch-targets.ts";

describe("a pipe shared by a worker group", () => {
  it("cuts writes after whole lines of at most PIPE_BUF bytes; a longer line goes whole", () => {
    const line = (n: number) => `${"a".repeat(n - 1)}\n`;
    const batch = Buffer.from(line(1000).repeat(10));
    assert.equal(atomicChunkEnd(batch, 0), 4000);
    assert.equal(atomicChunkEnd(batch, 4000), 8000);
    assert.equal(atomicChunkEnd(batch, 8000), 10_000);
    const long = Buffer.from(line(100) + line(PIPE_BUF * 2) + line(100));
    assert.equal(atomicChunkEnd(long, 0), 100);
    assert.equal(atomicChunkEnd(long, 100), 100 + PIPE_BUF * 2);
    assert.equal(atomicChunkEnd(long, 100 + PIPE_BUF * 2), long.length);
  });

  it("two processes writing 64 KiB batches to one slow pipe: every line arrives whole, each process's in order", { timeout: 60_000 }, async () => {
    const writer = join(import.meta.dirname, "shared-pipe-writer.ts");
    // Both writers' stdout is one pipe, read by a reader slower than they write (the pipe fills, writes are partial).
    const script = `(node ${JSON.stringify(writer)} A 40 & node ${JSON.stringify(writer)} B 40 & wait) | (sleep 0.3; cat)`;
    const child = spawn("sh", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0, stderr);
    const written = stderr.trim().split("\n").map(Number);
    const lines = Buffer.concat(chunks).toString("utf8").split("\n");
    assert.equal(lines.pop(), "");
    const next = { A: 0, B: 0 } as Record<string, number>;
    for (const text of lines) {
      const match = /^([AB]) (\d+) (x+) end$/.exec(text);
      assert.ok(match, `a line cut or mixed with another: ${text.slice(0, 80)}…`);
      const [, id, n, xs] = match as unknown as [string, string, string, string];
      assert.equal(Number(n), next[id], `process ${id}'s lines in order`);
      assert.equal(xs.length, 40 + ((Number(n) * 7919) % 960));
      next[id] = Number(n) + 1;
    }
    assert.deepEqual(written.sort(), [next.A, next.B].sort(), "every line each process wrote arrived");
  });
});
