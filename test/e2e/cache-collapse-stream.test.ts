// Collapsed forwarding streams the body being filled to the requests waiting on it: one origin request, first bytes before the origin finishes, failures visible.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Client } from "undici";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";
import { createMovableClock, startScriptedOrigin } from "../cache/cache-origin.ts";
import type { MovableClock, ScriptedOrigin } from "../cache/cache-origin.ts";

const MIB = 1024 * 1024;

/** A body whose bytes differ by position, so that a reordered or shifted stream is caught. */
function patterned(bytes: number): Buffer {
  const body = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) body.writeUInt32BE(i, i);
  return body;
}

/** A viewer's response read as it arrives: `firstBytes` resolves on its first body bytes, `done` with the whole body or the error that cut it. */
interface Watched {
  status: Promise<number>;
  headers: Promise<Record<string, string | string[] | undefined>>;
  firstBytes: Promise<void>;
  done: Promise<Buffer>;
}

function watch(client: Client, path: string, headers: Record<string, string> = {}): Watched {
  const response = client.request({ path, method: "GET", headers: { host: "shop.test", ...headers } });
  let gotBytes: () => void = () => {};
  const firstBytes = new Promise<void>((resolve) => (gotBytes = resolve));
  const done = response.then(
    (res) =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.body.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          gotBytes();
        });
        res.body.on("end", () => resolve(Buffer.concat(chunks)));
        res.body.on("error", reject);
      }),
  );
  done.catch(() => {});
  return { status: response.then((res) => res.statusCode), headers: response.then((res) => res.headers), firstBytes, done };
}

/** Fails the test if `promise` has not settled after `ms` (a bound, not a wait: the tests wait on events). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** A script that sends the first half of `body`, then the rest once `release` is called (or cuts the connection instead). */
function halves(body: Buffer, headers: Record<string, string>) {
  let release: (how: "rest" | "cut") => void = () => {};
  const released = new Promise<"rest" | "cut">((resolve) => (release = resolve));
  const half = Math.floor(body.length / 2);
  const script = (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "cache-control": "max-age=600", ...headers });
    res.write(body.subarray(0, half));
    void released.then((how) => (how === "rest" ? res.end(body.subarray(half)) : res.socket?.destroy()));
  };
  return { script, release };
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("collapsed forwarding streams the fill to its waiters", { timeout: 90_000 }, () => {
  let clock: MovableClock;
  let origin: ScriptedOrigin;
  let edge: TestEdge;
  const clients: Client[] = [];
  const newClient = () => {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: origin.ca.bundlePem, servername: "shop.test" });
    clients.push(client);
    return client;
  };

  before(async () => {
    clock = createMovableClock();
    origin = await startScriptedOrigin(clock);
    // A long collapseTimeout: a waiter that only gets the body once it is whole would get nothing before the origin finishes.
    const cache = { memory: { maxObjectSize: "1MiB" }, maxObjectSize: "64MiB", collapseTimeout: "60s" };
    edge = await startTestEdge(origin.ca, { cache, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.origin.url }] }] }, { clock, logLevel: "debug" });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await edge.close();
    await origin.close();
  });

  // On disk (tailing the temporary file), in memory (the fill's chunks), and chunked (from memory, then from disk once it outgrows memory).
  const cases = [
    { path: "/large", bytes: 6 * MIB, isChunked: false },
    { path: "/medium", bytes: 512 * 1024, isChunked: false },
    { path: "/large-chunked", bytes: 3 * MIB, isChunked: true },
  ];
  for (const { path, bytes, isChunked } of cases) {
    test(`${path}: N viewers, one origin request, first bytes before the origin has finished, identical whole bodies`, async () => {
      const body = patterned(bytes);
      const { script, release } = halves(body, isChunked ? {} : { "content-length": String(bytes), etag: '"big"' });
      origin.script(path, script);
      const filler = watch(newClient(), path);
      await origin.waitForCount(path, 1);
      const waiters = Array.from({ length: 5 }, () => watch(newClient(), path));
      // A conditional and a range waiter: answered from the fill's headers and its first half.
      const conditional = isChunked ? null : watch(newClient(), path, { "if-none-match": '"big"' });
      const ranged = isChunked ? null : watch(newClient(), path, { range: "bytes=1000-1999" });
      await within(Promise.all([filler, ...waiters].map((w) => w.firstBytes)), 10_000, "every viewer receives bytes while the origin holds the second half");
      if (conditional) assert.equal(await within(conditional.status, 20_000, "the conditional waiter's answer"), 304);
      if (ranged) {
        assert.equal(await ranged.status, 206);
        assert.deepEqual(await within(ranged.done, 20_000, "the range waiter's body"), body.subarray(1000, 2000));
      }
      assert.equal(origin.count(path), 1);
      release("rest");
      const bodies = await within(Promise.all([filler, ...waiters].map((w) => w.done)), 30_000, "whole bodies");
      for (const received of bodies) {
        assert.equal(received.length, bytes);
        assert.equal(sha256(received), sha256(body));
      }
      const statuses = await Promise.all(waiters.map((w) => w.headers));
      assert.ok(statuses.every((h) => String(h["cache-status"]).includes("collapsed")), "each waiter says it was collapsed");
      if (!isChunked) assert.ok(statuses.every((h) => h["content-length"] === String(bytes)));
      assert.equal(origin.count(path), 1);
      // Stored: the next request is a hit.
      const next = await viewerRequest(newClient(), { path, host: "shop.test" });
      assert.equal(next.headers["x-cache"], "Hit from moat");
      assert.equal(origin.count(path), 1);
    });
  }

  for (const isChunked of [false, true]) {
    test(`the origin cuts the body short mid-fill (${isChunked ? "chunked" : "Content-Length"}): the filler and every streaming waiter see their response fail, nothing is stored`, async () => {
      const path = isChunked ? "/cut-chunked" : "/cut";
      const bytes = 2 * MIB;
      const body = patterned(bytes);
      const { script, release } = halves(body, isChunked ? {} : { "content-length": String(bytes) });
      origin.script(path, script);
      const filler = watch(newClient(), path);
      await origin.waitForCount(path, 1);
      const waiters = Array.from({ length: 3 }, () => watch(newClient(), path));
      const all = [filler, ...waiters];
      await within(Promise.all(all.map((w) => w.firstBytes)), 10_000, "every viewer receives bytes before the cut");
      release("cut");
      for (const w of all) await within(assert.rejects(w.done), 20_000, "each response fails visibly");
      assert.equal(origin.count(path), 1);
      // Nothing stored: the next request goes to the origin, and is answered whole this time.
      origin.script(path, (_req, res) => void res.writeHead(200, { "cache-control": "max-age=600", "content-length": String(bytes) }).end(body));
      const next = await viewerRequest(newClient(), { path, host: "shop.test" });
      assert.equal(next.headers["x-cache"], "Miss from moat");
      assert.equal(origin.count(path), 2);
    });
  }
});
