// The invalidation request file is compacted once all of it is applied, keeps its numbers, and loses no request appended by another process meanwhile.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { appendInvalidation, appliedInvalidations } from "../../src/cache/index.ts";
import { compactInvalidations, readInvalidations } from "../../src/cache/invalidation-file.ts";
import { createInvalidationRules, watchInvalidations } from "../../src/cache/invalidations.ts";
import { createLogger } from "../../src/observe/index.ts";

const log = createLogger({ level: "info", destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }) });
const lines = async (dataDir: string) => (await readFile(join(dataDir, "invalidations", "requests.jsonl"), "utf8")).split("\n").filter(Boolean).length;

describe("invalidation request file", () => {
  it("is compacted once every request is applied: the newest request per path stays, with its number, and rebuilt rules match", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "moat-inv-"));
    try {
      for (const path of ["/a", "/b", "/a", "/a", "/c*"]) await appendInvalidation(dataDir, "shop", [path]);
      const rules = createInvalidationRules();
      const watcher = await watchInvalidations({ dataDir, rules, log });
      watcher.stop();
      assert.equal(rules.mark, 5);
      assert.deepEqual(await appliedInvalidations(dataDir), { applied: 5 });
      assert.equal(await lines(dataDir), 3, "the two older /a requests are gone");
      assert.deepEqual((await readInvalidations(dataDir)).map((request) => request.seq), [2, 4, 5]);
      // The next start rebuilds the same rules from the compacted file: same mark, same answers.
      const rebuilt = createInvalidationRules();
      rebuilt.append(await readInvalidations(dataDir));
      assert.equal(rebuilt.mark, 5);
      for (const [path, mark] of [["/a", 3], ["/b", 1], ["/b", 2], ["/c/d", 4], ["/d", 0]] as const) {
        assert.equal(rebuilt.isInvalidated("shop", path, mark), rules.isInvalidated("shop", path, mark), `${path} at mark ${mark}`);
      }
      // An append after compaction is numbered after the last request.
      assert.equal((await appendInvalidation(dataDir, "shop", ["/e"])).seq, 6);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("is not compacted while a request in it is not applied yet", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "moat-inv-"));
    try {
      for (const path of ["/a", "/a", "/a"]) await appendInvalidation(dataDir, "shop", [path]);
      assert.equal(await compactInvalidations(dataDir, 2), 0);
      assert.equal(await lines(dataDir), 3);
      assert.equal(await compactInvalidations(dataDir, 3), 2);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("loses no request that other processes append while the edge applies and compacts", { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "moat-inv-"));
    const module = new URL("../../src/cache/index.ts", import.meta.url).href;
    const writers = 4;
    const each = 25;
    try {
      const rules = createInvalidationRules();
      const watcher = await watchInvalidations({ dataDir, rules, log });
      // Every other request names a shared path, so that compaction has lines to remove while writers append.
      const script = `import { appendInvalidation } from ${JSON.stringify(module)};
        const [dir, writer] = process.argv.slice(1);
        for (let i = 0; i < ${each}; i++) await appendInvalidation(dir, "shop", [i % 2 === 0 ? "/shared" : "/w" + writer + "/" + i]);`;
      const run = promisify(execFile);
      const children = Array.from({ length: writers }, (_, writer) => run(process.execPath, ["--input-type=module", "-e", script, dataDir, String(writer)]));
      // The edge's side, as fast as it can meanwhile: apply and compact in a loop until the writers are done.
      let isDone = false;
      const edge = (async () => {
        while (!isDone) {
          await watcher.catchUp();
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await Promise.all(children);
      isDone = true;
      await edge;
      await watcher.catchUp();
      watcher.stop();
      assert.equal(rules.mark, writers * each, "every request applied, none lost");
      for (let writer = 0; writer < writers; writer++) {
        for (let i = 1; i < each; i += 2) assert.equal(rules.isInvalidated("shop", `/w${writer}/${i}`, 0), true, `/w${writer}/${i}`);
      }
      assert.ok((await lines(dataDir)) < writers * each, "compacted");
      const rebuilt = createInvalidationRules();
      rebuilt.append(await readInvalidations(dataDir));
      assert.equal(rebuilt.mark, writers * each);
      for (let writer = 0; writer < writers; writer++) {
        for (let i = 1; i < each; i += 2) assert.equal(rebuilt.isInvalidated("shop", `/w${writer}/${i}`, 0), true);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
