// CPU per memory-tier hit (get of a stored key) with a small and a big tier, in one process: does a hit cost more with a million keys?
//
//   node bench/memory-tier-hits.ts [--small 1000] [--big 1000000] [--rounds 11] [--gets 200000]
//
// Both tiers are filled first (32-byte bodies, keys as the edge makes them), then rounds alternate which goes first; each
// round times `gets` lookups of keys drawn at random among those stored with process.cpuUsage. Round 0 is a warm-up.
// Prints ns per get, medians and every round: what the tier's bookkeeping adds to a hit, not the hit's whole cost.
import { parseArgs } from "node:util";
import { createMemoryTier } from "../src/cache/memory-tier.ts";
import type { MemoryTier } from "../src/cache/memory-tier.ts";
import type { EntryMeta } from "../src/cache/stored-entry.ts";

const BODY = Buffer.alloc(32, "k");
const keyOf = (index: number) => `d0\nhttps://d0.scale.test/k/${index}`;

function metaOf(key: string): EntryMeta {
  return {
    key,
    primaryKey: key,
    status: 200,
    headers: { "content-type": "text/plain", "cache-control": "public, max-age=3600" },
    rules: { lifetimeMs: 3_600_000, isNoCache: false, mayServeStale: true, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, isReusableWithAuthorization: false },
    age: { requestTimeMs: 0, responseTimeMs: 0, dateMs: 0, ageValueS: 0 },
    vary: null,
    bodyBytes: BODY.length,
    bodySha256: "",
    invalidationMark: 0,
  };
}

const { values } = parseArgs({ options: { small: { type: "string", default: "1000" }, big: { type: "string", default: "1000000" }, rounds: { type: "string", default: "11" }, gets: { type: "string", default: "200000" } } });
const sizes = [Number(values.small), Number(values.big)];
const tiers = new Map<number, MemoryTier>();
for (const size of sizes) {
  const tier = createMemoryTier({ maxBytes: 2 ** 40, maxObjectBytes: 2 ** 20 });
  for (let index = 0; index < size; index++) tier.put(metaOf(keyOf(index)), [BODY]);
  tiers.set(size, tier);
}
const nsPerGet = new Map<number, number[]>(sizes.map((size) => [size, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
    // Fresh strings, as a request's key is: their hashes are computed inside the timed loop, as on a hit.
    const keys = Array.from({ length: Number(values.gets) }, () => keyOf(Math.floor(Math.random() * size)));
    const tier = tiers.get(size)!;
    const before = process.cpuUsage();
    let found = 0;
    for (const key of keys) if (tier.get(key)) found++;
    const cpu = process.cpuUsage(before);
    if (found !== keys.length) throw new Error(`${keys.length - found} stored keys were not found in the tier of ${size}`);
    if (round > 0) nsPerGet.get(size)!.push(Math.round(((cpu.user + cpu.system) * 1000) / keys.length));
  }
}
const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[numbers.length >> 1]!;
const [small, big] = sizes.map((size) => nsPerGet.get(size)!);
process.stdout.write(`${JSON.stringify({ keys: sizes, nsPerGetMedian: [median(small!), median(big!)], rounds: { [sizes[0]!]: small, [sizes[1]!]: big } })}\n`);
