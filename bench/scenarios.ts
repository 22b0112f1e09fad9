// The bench's scenarios, in run order: keep-alive direct/edge h1, edge h2, edge h1 served from the cache, 64 MiB bodies, fresh connections.
import { createHistogram } from "node:perf_hooks";
import type { BenchArgs } from "./bench-args.ts";
import type { BenchFixture, BenchTarget } from "./bench-fixture.ts";
import { SMALL_BODY_BYTES } from "./bench-origin.ts";
import { runLoad, withWarmupErrors } from "./load-runner.ts";
import type { LoadBounds, LoadResult, SendRequest } from "./load-runner.ts";
import { connectH2, createH1Client, freshConnectionGet, h1Get, h2Get } from "./viewer-clients.ts";
import type { Expected } from "./viewer-clients.ts";

export interface ScenarioOutcome {
  id: string;
  title: string;
  /** The scenario this one is compared with (the same traffic without the edge). */
  baselineId: string | null;
  load: LoadResult;
  bytesPerRequest: number;
  /** Only for the large-body scenarios. */
  large: LargeBodyFacts | null;
}

export interface LargeBodyFacts {
  /** Largest RSS seen during the scenario minus RSS at its start. */
  peakRssGrowthBytes: number;
  /** Median time from sending the request to the first body byte, in ns. */
  firstByteNs: number | null;
}

const SMALL: Expected = { path: "/", bytes: SMALL_BODY_BYTES };
const CACHED: Expected = { path: "/cached", bytes: SMALL_BODY_BYTES };
export const LARGE_BODY_BYTES = 64 * 1024 * 1024;
const LARGE: Expected = { path: `/bytes/${LARGE_BODY_BYTES}`, bytes: LARGE_BODY_BYTES };
const LARGE_DOWNLOADS = 3;
const FRESH_CONNECTION_REQUESTS = 500;
// A few sessions, many streams each: how browsers and CDN tiers use HTTP/2.
const H2_SESSIONS = 4;

/**
 * Runs every scenario against `fixture`, one after another, telling `onStart` which is next.
 * @example
 * const outcomes = await runScenarios(fixture, args, (title) => process.stderr.write(`${title}…\n`));
 */
export async function runScenarios(fixture: BenchFixture, args: BenchArgs, onStart: (title: string) => void): Promise<ScenarioOutcome[]> {
  const plan: [string, () => Promise<ScenarioOutcome>][] = [
    ["direct h1", () => keepAliveH1("direct-h1", "direct h1 (viewer → origin, mTLS)", null, fixture.origin, args)],
    ["edge h1", () => keepAliveH1("edge-h1", "edge h1 (viewer → edge → origin)", "direct-h1", fixture.edge, args)],
    ["edge h2", () => edgeH2(fixture.edge, args)],
    ["edge h1, cache hits", () => keepAliveH1("edge-h1-hit", "edge h1, cache hits (no origin)", "direct-h1", fixture.edge, args, CACHED)],
    ["large direct", () => largeBody("large-direct", "64 MiB direct", null, fixture.origin, fixture, args)],
    ["large edge", () => largeBody("large-edge", "64 MiB via edge (h1)", "large-direct", fixture.edge, fixture, args)],
    ["new connections direct", () => freshConnections("fresh-direct", "new conn direct (mTLS)", null, fixture.origin, args)],
    ["new connections edge", () => freshConnections("fresh-edge", "new conn via edge", "fresh-direct", fixture.edge, args)],
  ];
  const outcomes: ScenarioOutcome[] = [];
  for (const [title, run] of plan) {
    onStart(title);
    outcomes.push(await run());
  }
  return outcomes;
}

function measuredBounds(args: BenchArgs): LoadBounds {
  return { concurrency: args.concurrency, maxRequests: args.maxRequests, durationMs: args.durationMs };
}

// Opens every connection and warms the JIT before the clock starts; its failures still count.
async function measureWithWarmup(args: BenchArgs, send: SendRequest): Promise<LoadResult> {
  const warmup = await runLoad({ concurrency: args.concurrency, maxRequests: args.concurrency * 10, durationMs: 2_000 }, send);
  return withWarmupErrors(await runLoad(measuredBounds(args), send), warmup);
}

async function keepAliveH1(id: string, title: string, baselineId: string | null, target: BenchTarget, args: BenchArgs, expected: Expected = SMALL): Promise<ScenarioOutcome> {
  const clients = Array.from({ length: args.concurrency }, () => createH1Client(target));
  try {
    const load = await measureWithWarmup(args, (worker) => h1Get(clients[worker]!, target, expected));
    return { id, title, baselineId, load, bytesPerRequest: expected.bytes, large: null };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

async function edgeH2(target: BenchTarget, args: BenchArgs): Promise<ScenarioOutcome> {
  const sessions = await Promise.all(Array.from({ length: Math.min(H2_SESSIONS, args.concurrency) }, () => connectH2(target)));
  try {
    const load = await measureWithWarmup(args, (worker) => h2Get(sessions[worker % sessions.length]!, target, SMALL));
    return { id: "edge-h2", title: `edge h2 (${sessions.length} sessions)`, baselineId: "direct-h1", load, bytesPerRequest: SMALL.bytes, large: null };
  } finally {
    await Promise.all(sessions.map((session) => new Promise<void>((resolve) => session.close(() => resolve()))));
  }
}

// One download at a time: MB/s is then one stream's throughput, and RSS growth one body's footprint.
// Each starts after one unmeasured direct download, so RSS already holds what streaming one body needs
// (TLS buffers, and garbage V8 lets reach ~64 MB of external memory before it collects); a proxy that
// buffered the body would have to grow past that. Time to first byte is the sharper sign: buffered,
// it would wait for the whole body.
async function largeBody(id: string, title: string, baselineId: string | null, target: BenchTarget, fixture: BenchFixture, args: BenchArgs): Promise<ScenarioOutcome> {
  const warmup = await runLoad({ concurrency: 1, maxRequests: 1, durationMs: args.durationMs }, () => downloadOnce(fixture.origin, LARGE));
  const client = createH1Client(target);
  const firstByteNs = createHistogram();
  const sampler = startRssSampler();
  let load: LoadResult;
  let peakRssGrowthBytes: number;
  try {
    load = await runLoad({ concurrency: 1, maxRequests: LARGE_DOWNLOADS, durationMs: args.durationMs }, () => {
      const t0 = process.hrtime.bigint();
      return h1Get(client, target, LARGE, () => firstByteNs.record(Math.max(1, Number(process.hrtime.bigint() - t0))));
    });
  } finally {
    peakRssGrowthBytes = sampler.stop();
    await client.close();
  }
  const large = { peakRssGrowthBytes, firstByteNs: firstByteNs.count > 0 ? firstByteNs.percentile(50) : null };
  return { id, title, baselineId, load: withWarmupErrors(load, warmup), bytesPerRequest: LARGE.bytes, large };
}

async function downloadOnce(target: BenchTarget, expected: Expected): Promise<void> {
  const client = createH1Client(target);
  try {
    await h1Get(client, target, expected);
  } finally {
    await client.close();
  }
}

async function freshConnections(id: string, title: string, baselineId: string | null, target: BenchTarget, args: BenchArgs): Promise<ScenarioOutcome> {
  const bounds = { ...measuredBounds(args), maxRequests: Math.min(FRESH_CONNECTION_REQUESTS, args.maxRequests) };
  const load = await runLoad(bounds, () => freshConnectionGet(target, SMALL));
  return { id, title, baselineId, load, bytesPerRequest: SMALL.bytes, large: null };
}

/** Samples RSS every 10 ms; stop() returns the peak growth over the RSS at start. */
function startRssSampler(): { stop(): number } {
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10);
  return {
    stop() {
      clearInterval(timer);
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      return peakRss - startRss;
    },
  };
}
