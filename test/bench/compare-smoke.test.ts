// The side-by-side bench's harness, briefly: every peer answers right through the whole chain (nginx mTLS origin, Moat, nginx edge, Node ceiling), wrk drives each, and closing leaves no process behind. Asserts no rates.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TestContext } from "node:test";
import { fetchOnce, startScene } from "../../bench/compare/bench-scene.ts";
import { parseH2load, parseWrk, runLoad } from "../../bench/compare/load-tools.ts";
import { ProcessGroup } from "../../bench/compare/processes.ts";
import { findBenchTools } from "../../bench/compare/tools.ts";
import type { BenchTools } from "../../bench/compare/tools.ts";
import { withDeadline } from "../support/deadline.ts";

/** The tools, or undefined when the test was skipped; with MOAT_REQUIRE_NGINX=1 (CI) a missing one fails instead. */
function toolsOrSkip(t: TestContext): BenchTools | undefined {
  const found = findBenchTools();
  if (found.ok) return found.tools;
  if (process.env.MOAT_REQUIRE_NGINX === "1") assert.fail(`${found.hint}; MOAT_REQUIRE_NGINX=1 says the bench's tools must be here (.ci/run installs them)`);
  t.skip(found.hint);
  return undefined;
}

function isGone(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

describe("npm run bench: the harness", () => {
  test("each peer answers a cacheable and a no-store body through the whole chain, hits its cache the second time, takes a second of wrk without errors, and closing stops every process", { timeout: 180_000 }, async (t) => {
    const tools = toolsOrSkip(t);
    if (!tools) return;
    const group = new ProcessGroup();
    t.after(() => group.stopAll());
    const scene = await withDeadline("Moat's build and the bench scene to start", startScene({ tools, workers: 1, group }), 120_000);
    const pids = [scene.origin.pid, ...scene.peers.map((peer) => peer.process.pid)];
    try {
      assert.deepEqual(scene.peers.map((peer) => peer.id), ["moat", "moat-info", "nginx", "ceiling"]);
      for (const peer of scene.peers) {
        const first = await fetchOnce(peer.port, "/cache/1024", scene.caPem);
        const second = await fetchOnce(peer.port, "/cache/1024", scene.caPem);
        const large = await fetchOnce(peer.port, "/cache/1048576", scene.caPem);
        const miss = await fetchOnce(peer.port, "/no-store/1024", scene.caPem);
        assert.deepEqual([first.status, first.bytes, second.status, second.bytes], [200, 1024, 200, 1024], peer.label);
        assert.deepEqual([large.status, large.bytes, miss.status, miss.bytes], [200, 1048576, 200, 1024], peer.label);
        // The edges really proxy and cache: the ceiling has no cache to report.
        const isEdge = peer.id !== "ceiling";
        assert.equal(second.headers["cache-control"], "public, max-age=3600", `${peer.label}: the origin's header came through`);
        assert.equal(peer.isCacheHit(second.headers), isEdge ? true : null, `${peer.label}: second request from the cache`);
        assert.equal(peer.isCacheHit(miss.headers), isEdge ? false : null, `${peer.label}: no-store is never a hit`);
        if (peer.id === "nginx") assert.equal(second.headers["x-cache-status"], "HIT");

        const load = await runLoad(tools, group, { kind: "h1", port: peer.port, path: "/cache/1024", durationS: 1, connections: 2, ratePerSecond: 100, cpu: scene.loadCpu });
        assert.ok(load.succeeded > 0, `${peer.label}: wrk got answers:\n${load.output}`);
        assert.equal(load.errors, 0, `${peer.label}: wrk saw no errors:\n${load.output}`);
      }
    } finally {
      await scene.close();
    }
    assert.deepEqual(pids.filter((pid) => !isGone(pid)), [], "no process group of the scene is left");
  });

  test("reads wrk's and h2load's summaries: 2xx answers as successes, everything else as errors", () => {
    const wrk = parseWrk(`Running 1s test @ https://localhost:47001/cache/1024
  1 threads and 2 connections
  Latency Distribution
     50%  155.00us
     75%  279.00us
     90%    1.67ms
     99%   11.71ms
  8097 requests in 1.01s, 9.47MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   8028.34
`);
    assert.deepEqual([wrk.succeeded, wrk.errors, wrk.seconds, wrk.p50Ms, wrk.p99Ms], [8090, 10, 1.01, 0.155, 11.71]);
    const h2load = parseH2load(
      `finished in 1.01s, 2998.00 req/s, 3.04MB/s
requests: 2998 total, 3002 started, 2998 done, 2996 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 3002 2xx, 0 3xx, 0 4xx, 0 5xx
`,
      "1700000000000000\t200\t1500\n1700000000000100\t200\t2500\n1700000000000200\t-1\t900000\n",
    );
    assert.deepEqual([h2load.succeeded, h2load.errors, h2load.seconds, h2load.p50Ms, h2load.p99Ms], [2996, 2, 1.01, 2.5, 2.5]);
  });
});
