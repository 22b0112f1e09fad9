// The scale bench's logic that needs no load: its flags, its ratios and flatness flags, bytes per entry, the wrk scripts, and that its many-distribution config is one Moat accepts. Asserts no rates.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseScaleArgs } from "../../bench/scale/scale-args.ts";
import { randomKeysScript, sumLoads, walkKeysScript } from "../../bench/scale/scale-load.ts";
import { bytesPerEntryBeyondBody, median, summarizeComparison } from "../../bench/scale/scale-report.ts";
import type { EdgeSample } from "../../bench/scale/scale-report.ts";
import { aliasOf, edgeConfig } from "../../bench/scale/scale-scene.ts";
import type { BenchPkiFiles } from "../../bench/compare/bench-pki.ts";
import { validateConfig } from "../../src/config/parse.ts";
import { CliUsageError } from "../../src/errors.ts";

describe("npm run bench:scale: flags", () => {
  test("defaults are the issue's sizes: 1,000 vs 1,000,000 keys, 1 vs 10,000 distributions", () => {
    const args = parseScaleArgs([]);
    assert.deepEqual([args.smallKeys, args.bigKeys, args.bigDistributions, args.durationMs, args.rounds, args.isQuick], [1000, 1_000_000, 10_000, 4000, 3, false]);
  });

  test("--quick shrinks everything, and flags given with it still win", () => {
    const quick = parseScaleArgs(["--quick"]);
    assert.deepEqual([quick.bigKeys, quick.bigDistributions, quick.durationMs, quick.rounds], [100_000, 1000, 2000, 1]);
    const mixed = parseScaleArgs(["--quick", "--keys", "5000", "--rounds", "2", "--duration", "3s"]);
    assert.deepEqual([mixed.bigKeys, mixed.bigDistributions, mixed.durationMs, mixed.rounds], [5000, 1000, 3000, 2]);
  });

  test("refuses what cannot be compared or run, as a usage error", () => {
    for (const argv of [["--keys", "1000"], ["--distributions", "1"], ["--rounds", "0"], ["--duration", "500ms"], ["--duration", "soon"], ["--nope"], ["--keys", "1e3"]]) {
      assert.throws(() => parseScaleArgs(argv), CliUsageError, argv.join(" "));
    }
  });
});

describe("npm run bench:scale: report", () => {
  const samples = (...values: Array<[number, number]>): EdgeSample[] => values.map(([requestsPerSecond, cpuMicrosPerRequest]) => ({ requestsPerSecond, cpuMicrosPerRequest, errors: 0 }));

  test("ratios are big over small, of the medians over the rounds; flat means within 10 %", () => {
    const summary = summarizeComparison({
      id: "keys",
      title: "cached keys",
      load: "wrk",
      small: { label: "1,000 keys", samples: samples([1000, 100], [3000, 80], [2000, 90]) },
      big: { label: "1,000,000 keys", samples: samples([1900, 95], [1800, 99], [5000, 120]) },
    });
    assert.deepEqual([summary.small.requestsPerSecond, summary.big.requestsPerSecond, summary.small.cpuMicrosPerRequest, summary.big.cpuMicrosPerRequest], [2000, 1900, 90, 99]);
    assert.deepEqual([summary.throughputRatio, summary.isThroughputFlat, summary.isCpuFlat], [0.95, true, true]);
    assert.ok(Math.abs(summary.cpuRatio - 1.1) < 1e-9);
    assert.deepEqual([summary.big.rounds, summary.big.cpuRounds], [[1900, 1800, 5000], [95, 99, 120]]);

    const slower = summarizeComparison({ id: "distributions", title: "d", load: "wrk", small: { label: "1", samples: samples([1000, 100]) }, big: { label: "10,000", samples: samples([899, 112]) } });
    assert.deepEqual([slower.isThroughputFlat, slower.isCpuFlat], [false, false]);
  });

  test("median of an even count is the mean of the middle two", () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test("bytes per entry beyond the body: the RSS difference over the entries, less the body", () => {
    assert.equal(bytesPerEntryBeyondBody(1_032_000_000, 1_000_000, 32), 1000);
    assert.ok(Number.isNaN(bytesPerEntryBeyondBody(1, 0, 32)));
  });

  test("several wrk runs add up: counts summed, the longest duration, percentiles only for one", () => {
    const run = (succeeded: number, errors: number, seconds: number) => ({ succeeded, errors, seconds, requestsPerSecond: succeeded / seconds, p50Ms: 1, p99Ms: 2, output: "" });
    const both = sumLoads([run(1000, 1, 2), run(3000, 0, 2.5)]);
    assert.deepEqual([both.succeeded, both.errors, both.seconds, both.requestsPerSecond, both.p50Ms], [4000, 1, 2.5, 1600, null]);
    assert.deepEqual([sumLoads([run(10, 0, 1)]).p50Ms, sumLoads([run(10, 0, 1)]).p99Ms], [1, 2]);
  });
});

describe("npm run bench:scale: wrk scripts and the edge's config", () => {
  test("both scripts connect to 127.0.0.1 whatever the URL's host; the fill walks the keys, the hits draw among them", () => {
    for (const script of [walkKeysScript(1_000_000), randomKeysScript(1_000_000, 7)]) assert.match(script, /wrk\.addrs = wrk\.lookup\("127\.0\.0\.1", service\)/);
    assert.match(walkKeysScript(1_000_000), /local count = 1000000\n/);
    assert.match(walkKeysScript(10), /"\/k\/" \.\. \(sent % count\)/);
    assert.match(randomKeysScript(1000, 7), /math\.randomseed\(7\)[\s\S]*math\.random\(0, keys - 1\)/);
  });

  test("the many-distribution config is one Moat accepts: ids and aliases unique, memory tier only", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "moat-scale-test-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const masterKeyFile = join(dir, "master.key");
    await writeFile(masterKeyFile, "x".repeat(64), { mode: 0o600 });
    const file = (name: string) => join(dir, name);
    const pki = { masterKeyFile, viewerCert: file("viewer.pem"), viewerKey: file("viewer.key"), clientCert: file("client.pem"), clientKey: file("client.key") } as BenchPkiFiles;
    const document = edgeConfig({ dataDir: join(dir, "data"), port: 8443, originPort: 9443, pki, distributions: 300 });
    const result = validateConfig(document, { source: "bench:scale", baseDir: dir, env: {} });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues.slice(0, 3)));
    assert.equal(result.config.distributions.length, 300);
    assert.deepEqual(result.config.distributions[299]!.aliases, [aliasOf(299)]);
    assert.equal(result.config.cache.disk, null);
  });
});
