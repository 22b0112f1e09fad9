// Distributions are built a few at a time, in config order as far as anything can see: results in order, at most `limit` at once, and the error of the earliest failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEach } from "../../../src/edge/snapshot/build-each.ts";

/** A build whose items finish when the test says, each recording that it started. */
function controlledBuild() {
  const started: number[] = [];
  const finish = new Map<number, { resolve: (value: string) => void; reject: (error: Error) => void }>();
  const waiters: Array<() => void> = [];
  const build = (item: string, index: number) =>
    new Promise<string>((resolve, reject) => {
      started.push(index);
      finish.set(index, { resolve: () => resolve(item.toUpperCase()), reject });
      for (const wake of waiters.splice(0)) wake();
    });
  /** Resolves once `count` items have started. */
  const startedCount = async (count: number) => {
    while (started.length < count) await new Promise<void>((wake) => waiters.push(wake));
  };
  return { build, started, finish, startedCount };
}

test("results come in item order whatever order the builds finish in, with at most `limit` under way", async () => {
  const { build, started, finish, startedCount } = controlledBuild();
  const items = ["a", "b", "c", "d", "e"];
  const all = buildEach(items, 2, build);
  await startedCount(2);
  assert.deepEqual(started, [0, 1], "two at a time");
  finish.get(1)!.resolve("");
  await startedCount(3);
  assert.deepEqual(started, [0, 1, 2], "the next starts when one finishes");
  finish.get(2)!.resolve("");
  finish.get(0)!.resolve("");
  await startedCount(5);
  finish.get(4)!.resolve("");
  finish.get(3)!.resolve("");
  assert.deepEqual(await all, ["A", "B", "C", "D", "E"]);
});

test("after a failure nothing new starts, and the earliest failed item's error is thrown even when a later one failed first", async () => {
  const { build, started, finish, startedCount } = controlledBuild();
  const all = buildEach(["a", "b", "c", "d", "e", "f"], 3, build);
  all.catch(() => {});
  await startedCount(3);
  finish.get(2)!.reject(new Error("item 2"));
  finish.get(1)!.reject(new Error("item 1"));
  finish.get(0)!.resolve("");
  await assert.rejects(all, /^Error: item 1$/);
  assert.deepEqual(started, [0, 1, 2], "items 3 to 5 never started");
});

test("no items, no builds", async () => {
  assert.deepEqual(await buildEach([], 16, async () => assert.fail("built")), []);
});
