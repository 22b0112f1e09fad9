// A disk that fails (read-only, full) never stores, never hangs a request, degrades the disk tier (logged once) and recovers by itself.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { answer, createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

/** Runs mount(8); false when this machine does not let the test mount (not root, no CAP_SYS_ADMIN, a container). */
function mount(...args: string[]): boolean {
  try {
    execFileSync("mount", args, { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

const root = await mkdtemp(join(tmpdir(), "moat-disk-faults-"));
const probe = join(root, "probe");
await mkdir(probe);
const canMount = mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", probe);
if (canMount) execFileSync("umount", [probe]);
const SKIP = canMount ? false : "mount is not permitted here (needs root with CAP_SYS_ADMIN): the injected-fault tests in test/cache/disk-faults.test.ts cover the same paths";
// Bigger than the 1 MiB tmpfs, and than the memory tier's object limit: only the disk tier could store it.
const BIG = "x".repeat(1536 * 1024);
const BACKOFF_MS = 30_000;

describe("edge cache on a failing disk", { timeout: 90_000, skip: SKIP }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  const dirs = { readOnly: join(root, "ro"), full: join(root, "full") };
  const config = (url: string, dir: string) => ({
    cache: { disk: { dir }, memory: { maxObjectSize: "1KiB" } },
    distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url }] }],
  });
  const get = async (path: string) => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    try {
      return await viewerRequest(client, { path, host: "shop.test" });
    } finally {
      await client.close();
    }
  };

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    for (const path of ["/ro/a", "/ro/b", "/full/a", "/full/small"]) origin.script(path, answer({ "cache-control": "max-age=3600" }, path === "/full/small" ? "small body, bigger than 1KiB ".repeat(60) : BIG));
    await mkdir(dirs.readOnly);
    await mkdir(dirs.full);
  });

  after(async () => {
    await edge?.close();
    await origin.close();
    for (const dir of Object.values(dirs)) execFileSync("umount", ["-l", dir], { stdio: "ignore" });
    await rm(root, { recursive: true, force: true });
  });

  test("EROFS: a read-only cache directory stores nothing, serves every request whole, degrades once, and recovers once writable", async () => {
    assert.ok(mount("--bind", dirs.readOnly, dirs.readOnly));
    edge = await startTestEdge(origin.ca, config(origin.origin.url, dirs.readOnly), { clock });
    assert.ok(mount("-o", "remount,ro,bind", dirs.readOnly));
    const first = await get("/ro/a");
    assert.equal(first.status, 200);
    assert.equal(first.body.length, BIG.length);
    assert.doesNotMatch(String(first.headers["cache-status"]), /stored/, "a fill the disk refused is not stored");
    const collapsed = await Promise.all([get("/ro/a"), get("/ro/a"), get("/ro/a")]);
    for (const later of collapsed) {
      assert.equal(later.status, 200);
      assert.equal(later.body.length, BIG.length, "later requests get the whole body from the origin");
    }
    const degraded = edge.logs.filter((line) => line.msg === "cache disk tier degraded: fills are not stored on disk until a write succeeds");
    assert.equal(degraded.length, 1, "logged once");
    assert.equal(degraded[0]?.errno, "EROFS");
    assert.equal(degraded[0]?.dir, dirs.readOnly);
    assert.match(String(degraded[0]?.fix), /writable/);

    assert.ok(mount("-o", "remount,rw,bind", dirs.readOnly));
    await get("/ro/b");
    assert.equal((await get("/ro/b")).headers["x-cache"], "Miss from moat", "within the back-off, the disk is not tried");
    clock.advance(BACKOFF_MS + 1);
    const retried = await get("/ro/b");
    assert.match(String(retried.headers["cache-status"]), /detail=storing/);
    await edge.waitForLog((line) => line.msg === "cache disk tier recovered");
    const hit = await get("/ro/b");
    assert.equal(hit.headers["x-cache"], "Hit from moat");
    assert.equal(hit.body.length, BIG.length);
    await edge.close();
  });

  test("EROFS at start: an edge started on a read-only cache directory starts, serves what the disk holds, and recovers once writable", async () => {
    // The first test left /ro/b stored on this (bind-mounted) directory.
    assert.ok(mount("-o", "remount,ro,bind", dirs.readOnly));
    edge = await startTestEdge(origin.ca, config(origin.origin.url, dirs.readOnly), { clock });
    const degraded = await edge.waitForLog((line) => String(line.msg).startsWith("cache disk tier degraded"));
    assert.equal(degraded.errno, "EROFS");
    await edge.waitForLog((line) => line.msg === "cache disk index loaded");
    const stored = await get("/ro/b");
    assert.deepEqual([stored.headers["x-cache"], stored.body.length], ["Hit from moat", BIG.length], "a read-only disk still serves");
    // Several ranges of an object only the disk holds: each part streamed from the body file.
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    const parts = await viewerRequest(client, { path: "/ro/b", host: "shop.test", headers: { range: "bytes=0-1, 1000000-1000002" } }).finally(() => client.close());
    assert.equal(parts.status, 206);
    assert.match(String(parts.headers["content-type"]), /^multipart\/byteranges; boundary=/);
    assert.match(parts.body, /Content-Range: bytes 0-1\/1572864\r\n\r\nxx\r\n/);
    assert.match(parts.body, /Content-Range: bytes 1000000-1000002\/1572864\r\n\r\nxxx\r\n/);
    assert.equal(Number(parts.headers["content-length"]), Buffer.byteLength(parts.body));
    origin.script("/ro/c", answer({ "cache-control": "max-age=3600" }, BIG));
    assert.equal((await get("/ro/c")).body.length, BIG.length);
    assert.ok(mount("-o", "remount,rw,bind", dirs.readOnly));
    clock.advance(BACKOFF_MS + 1);
    await get("/ro/c");
    await edge.waitForLog((line) => line.msg === "cache disk tier recovered");
    assert.equal((await get("/ro/c")).headers["x-cache"], "Hit from moat");
    await edge.close();
  });

  test("ENOSPC: a full cache filesystem stores nothing; the requests streaming behind the failing fill are served whole; none hangs", async () => {
    assert.ok(mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", dirs.full));
    edge = await startTestEdge(origin.ca, config(origin.origin.url, dirs.full), { clock, logLevel: "debug" });
    // The origin sends a first part, and the rest (past what the file system holds) once two requests wait behind it.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    origin.script("/full/a", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(BIG.length), "cache-control": "max-age=3600" });
      res.write(BIG.slice(0, 256 * 1024));
      void released.then(() => res.end(BIG.slice(256 * 1024)));
    });
    const leader = get("/full/a");
    await origin.waitForCount("/full/a", 1);
    const waiters = [get("/full/a"), get("/full/a")];
    const isWaiting = (line: Record<string, unknown>) => line.msg === "waiting for the same request already on its way to the origin";
    await edge.waitForLog((line) => isWaiting(line) && edge.logs.filter(isWaiting).length >= 2);
    release();
    // Collapsed behind the fill, the waiters already have their headers when the disk fills up: they go on from
    // what reached the file, then from the chunks kept in memory since.
    const results = await Promise.all([leader, ...waiters]);
    for (const result of results) {
      assert.equal(result.status, 200);
      assert.equal(result.body, BIG, "whole, byte for byte");
    }
    assert.doesNotMatch(String(results[0]?.headers["cache-status"]), /stored/);
    assert.match(String(results[1]?.headers["cache-status"]), /collapsed/);
    assert.equal(origin.count("/full/a"), 1);
    const degraded = await edge.waitForLog((line) => String(line.msg).startsWith("cache disk tier degraded"));
    assert.equal(degraded.errno, "ENOSPC");
    // Degraded: the next fills skip the disk, so every request is served whole.
    const later = await Promise.all([get("/full/a"), get("/full/a"), get("/full/a")]);
    for (const result of later) assert.equal(result.body.length, BIG.length);
    assert.equal(edge.logs.filter((line) => String(line.msg).startsWith("cache disk tier degraded")).length, 1, "logged once");
    await edge.close();
  });
});
