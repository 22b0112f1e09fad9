// An edge whose stdout is a pipe that nobody reads keeps serving: its log lines past a bounded queue are dropped, counted and reported, never waited for.
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import type { Socket } from "node:net";
import { test } from "node:test";

const CHILD = new URL("./slow-stdout-edge-child.ts", import.meta.url).pathname;
const DEADLINE_MS = 60_000;

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test("requests are served while the reader of stdout reads nothing; dropped lines are counted and reported once it reads again", { timeout: 180_000 }, async () => {
  const requests = 40;
  const child = fork(CHILD, ["24000", String(requests)], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const exited = once(child, "exit") as Promise<[number | null]>;
  const stdout = child.stdout as Socket;
  try {
    // Nothing is read from stdout until the requests are answered: a log write that waited for the reader would
    // stall the edge's event loop, and no request would be.
    const [served] = (await withDeadline(once(child, "message"), "the edge to answer its requests while its stdout is not read")) as [{ statuses: number[] }];
    assert.deepEqual(served.statuses, Array.from({ length: requests }, () => 200));
    let out = "";
    const reported = new Promise<void>((resolve) => {
      stdout.setEncoding("utf8").on("data", (text: string) => {
        out += text;
        if (out.includes("log lines dropped")) resolve();
      });
    });
    await withDeadline(reported, "the report of dropped lines");
    child.send("stop");
    const [code] = await withDeadline(exited, "the edge's exit");
    assert.equal(code, 0);
    if (!stdout.readableEnded) await withDeadline(once(stdout, "end"), "the end of the edge's stdout");
    // Every line arrived whole: each parses.
    const lines = out.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { msg: string; index?: number; dropped?: number; level: number });
    const notice = lines.find((line) => line.msg === "log lines dropped: stdout's reader fell behind");
    assert.equal(notice?.level, 40);
    assert.ok((notice?.dropped ?? 0) > 0, "a count of dropped lines");
    const filler = lines.filter((line) => line.msg === "filler").map((line) => line.index as number);
    assert.ok(filler.length > 0 && filler[0] === 0);
    for (let position = 1; position < filler.length; position++) assert.ok((filler[position] as number) > (filler[position - 1] as number), "in order");
    assert.ok(lines.some((line) => line.msg === "edge stopped"), "a line logged after the reader caught up is written");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
