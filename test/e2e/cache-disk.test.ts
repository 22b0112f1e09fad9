// The disk tier across a restart: entries survive, damaged ones are dropped and never served; invalidations reach a running edge (library and CLI).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { appendInvalidation } from "../../src/cache/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { runMoat } from "../cli/moat-process.ts";
import { answer, createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

/** The body file of the stored entry for `path`, found through its metadata file. */
async function bodyFileOf(cacheDir: string, path: string): Promise<string> {
  const entries = join(cacheDir, "entries");
  for (const sub of await readdir(entries)) {
    for (const name of (await readdir(join(entries, sub))).filter((n) => n.endsWith(".meta"))) {
      const [json = ""] = (await readFile(join(entries, sub, name), "utf8")).split("\n");
      const stored = JSON.parse(json) as { bodyId: string; meta: { key: string } };
      if (stored.meta.key.split("\n")[1] === path) return join(entries, sub, `${name.slice(0, -5)}.${stored.bodyId}.body`);
    }
  }
  throw new Error(`no stored entry for ${path}`);
}

describe("edge cache on disk", { timeout: 90_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  const config = (url: string) => ({ distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url }] }] });

  async function get(path: string) {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    try {
      return await viewerRequest(client, { path, host: "shop.test" });
    } finally {
      await client.close();
    }
  }

  /** A memory hit means the disk commit (which comes first) is done. */
  async function getUntilHit(path: string): Promise<void> {
    for (let i = 0; i < 50; i++) if ((await get(path)).headers["x-cache"] === "Hit from moat") return;
    assert.fail(`${path} never became a hit`);
  }

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    for (const path of ["/keep", "/damaged", "/cut", "/inv/a", "/inv/b", "/cli"]) origin.script(path, answer({ "cache-control": "max-age=3600" }, `body of ${path}`));
    edge = await startTestEdge(origin.ca, config(origin.origin.url), { clock, keepDataDir: true });
  });

  after(async () => {
    await edge.close();
    await origin.close();
    await rm(edge.dataDir, { recursive: true, force: true });
  });

  test("entries survive a restart; a corrupt or truncated one is dropped, never served", async () => {
    for (const path of ["/keep", "/damaged", "/cut"]) await getUntilHit(path);
    await edge.close();
    const cacheDir = join(edge.dataDir, "cache");
    const damaged = await bodyFileOf(cacheDir, "/damaged");
    const text = await readFile(damaged, "utf8");
    await writeFile(damaged, text.replace("body", "BODY")); // same size: only the digest tells
    await truncate(await bodyFileOf(cacheDir, "/cut"), 3);
    edge = await startTestEdge(origin.ca, config(origin.origin.url), { clock, keepDataDir: true, dataDir: edge.dataDir, masterKey: edge.masterKey });
    // The index loads in the background: until this line, a stored entry is still a miss.
    const loaded = await edge.waitForLog((line) => line.msg === "cache disk index loaded");
    assert.equal(loaded.entries, 3);

    const kept = await get("/keep");
    assert.equal(kept.headers["x-cache"], "Hit from moat");
    assert.equal(kept.body, "body of /keep");
    const refetched = await get("/damaged");
    assert.equal(refetched.body, "body of /damaged");
    assert.equal(refetched.headers["x-cache"], "Miss from moat");
    assert.equal((await get("/cut")).body, "body of /cut");
    assert.deepEqual([origin.count("/keep"), origin.count("/damaged"), origin.count("/cut")], [1, 2, 2]);
    const drops = edge.logs.filter((line) => line.msg === "dropped a damaged cache entry").map((line) => String(line.reason));
    assert.ok(drops.some((reason) => reason.includes("digest mismatch")), drops.join("; "));
    assert.ok(drops.some((reason) => reason.includes("truncated")), drops.join("; "));
  });

  test("a fill is committed before its response ends: an immediate repeat of a no-cache response is revalidated, not fetched as if never stored", async () => {
    const conditional: (string | undefined)[] = [];
    origin.script("/no-cache-repeat", (req, res, count) => {
      if (count > 1) conditional.push(req.headers["if-none-match"] as string | undefined);
      if (req.headers["if-none-match"] === '"r1"') return void res.writeHead(304, { etag: '"r1"', "cache-control": "no-cache" }).end();
      answer({ "cache-control": "no-cache", etag: '"r1"' }, "repeat body")(req, res, count);
    });
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await viewerRequest(client, { path: "/no-cache-repeat", host: "shop.test" })).body, "repeat body");
    } finally {
      await client.close();
    }
    assert.deepEqual(conditional, ['"r1"', '"r1"', '"r1"', '"r1"'], "every repeat found the stored entry and revalidated it");
  });

  test("an invalidation by wildcard reaches the running edge and applies on the next request", async () => {
    await getUntilHit("/inv/a");
    await getUntilHit("/inv/b");
    await getUntilHit("/keep");
    const before = [origin.count("/inv/a"), origin.count("/inv/b"), origin.count("/keep")];
    await appendInvalidation(edge.dataDir, "shop", ["/inv/*"]);
    await edge.waitForLog((line) => line.msg === "cache invalidation applied");
    await get("/inv/a");
    await get("/inv/b");
    await get("/keep");
    assert.deepEqual([origin.count("/inv/a"), origin.count("/inv/b"), origin.count("/keep")], [before[0]! + 1, before[1]! + 1, before[2]]);
  });

  test("moat cache invalidate waits until the running edge has applied it", async () => {
    await getUntilHit("/cli");
    const before = origin.count("/cli");
    const run = await runMoat(["cache", "invalidate", "--distribution", "shop", "--data-dir", edge.dataDir, "/cli"], { cwd: edge.dataDir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /has applied it/);
    await get("/cli");
    assert.equal(origin.count("/cli"), before + 1);
    const refused = await runMoat(["cache", "invalidate", "--distribution", "shop", "--data-dir", edge.dataDir, "/a*b"], { cwd: edge.dataDir });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /only at the end/);
  });
});
