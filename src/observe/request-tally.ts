// Requests by distribution, status and cache result, and their durations: plain counters on the hot path, turned into Prometheus series only when scraped.

/** Seconds: from a fresh hit in memory (well under a millisecond) to a slow origin's whole response. */
export const DURATION_BUCKETS_S: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Cache results are a fixed set of words the cache writes (edge-cache.ts); past this many, the rest count as "other".
const MAX_CACHE_RESULTS = 64;

class DistributionTally {
  /** Requests by status × MAX_CACHE_RESULTS + cache result index. */
  readonly counts = new Map<number, number>();
  /** Requests per duration bucket (not cumulative); the last is +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS_S.length + 1);
  sum = 0;
  count = 0;
}

/**
 * What a request costs here: two Map lookups, a Map update and a short loop over the buckets; no label object, no
 * string built, no hash of labels (prom-client's `counter.labels(...).inc()` hashes its labels on every call).
 * @example
 * tally.record("shop", 200, "hit", 0.0004);
 * registry.registerMetric(tally.requestsMetric());
 */
export class RequestTally {
  private readonly byDistribution = new Map<string, DistributionTally>();
  private readonly cacheIndex = new Map<string, number>();
  private readonly cacheNames: string[] = [];

  record(distribution: string, status: number, cache: string, seconds: number): void {
    let tally = this.byDistribution.get(distribution);
    if (tally === undefined) {
      tally = new DistributionTally();
      this.byDistribution.set(distribution, tally);
    }
    let cacheIndex = this.cacheIndex.get(cache);
    if (cacheIndex === undefined) cacheIndex = this.internCache(cache);
    const key = status * MAX_CACHE_RESULTS + cacheIndex;
    tally.counts.set(key, (tally.counts.get(key) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_S.length && seconds > (DURATION_BUCKETS_S[bucket] as number)) bucket++;
    (tally.buckets[bucket] as number)++;
    tally.sum += seconds;
    tally.count++;
  }

  private internCache(cache: string): number {
    if (this.cacheNames.length >= MAX_CACHE_RESULTS - 1) return this.cacheIndex.get("other") ?? this.addCacheName("other");
    return this.addCacheName(cache);
  }

  private addCacheName(cache: string): number {
    const index = this.cacheNames.length;
    this.cacheNames.push(cache);
    this.cacheIndex.set(cache, index);
    return index;
  }

  /** `moat_requests_total`, as prom-client's registry reads a metric (its `get`), summed across workers. */
  requestsMetric(): CollectedMetric {
    const head = { name: "moat_requests_total", help: REQUESTS_HELP, type: "counter", aggregator: "sum" } as const;
    return {
      ...head,
      get: async () => {
        const values: MetricJson["values"] = [];
        for (const [distribution, tally] of this.byDistribution) {
          for (const [key, value] of tally.counts) {
            const cache = this.cacheNames[key % MAX_CACHE_RESULTS] as string;
            values.push({ labels: { distribution, status: String(Math.floor(key / MAX_CACHE_RESULTS)), cache }, value });
          }
        }
        return { ...head, values };
      },
    };
  }

  /** `moat_request_duration_seconds`: a histogram by distribution, in prom-client's form (`_bucket` with `le`, `_sum`, `_count`). */
  durationMetric(): CollectedMetric {
    const head = { name: "moat_request_duration_seconds", help: DURATION_HELP, type: "histogram", aggregator: "sum" } as const;
    return {
      ...head,
      get: async () => {
        const values: MetricJson["values"] = [];
        for (const [distribution, tally] of this.byDistribution) {
          let cumulative = 0;
          for (let bucket = 0; bucket <= DURATION_BUCKETS_S.length; bucket++) {
            cumulative += tally.buckets[bucket] as number;
            const le = bucket < DURATION_BUCKETS_S.length ? (DURATION_BUCKETS_S[bucket] as number) : "+Inf";
            values.push({ metricName: `${head.name}_bucket`, labels: { le, distribution }, value: cumulative });
          }
          values.push({ metricName: `${head.name}_sum`, labels: { distribution }, value: tally.sum });
          values.push({ metricName: `${head.name}_count`, labels: { distribution }, value: tally.count });
        }
        return { ...head, values };
      },
    };
  }
}

const REQUESTS_HELP = "Requests answered, by distribution (empty: matched none), status code and cache result (the access log's cache field; none: not through the cache).";
const DURATION_HELP = "Seconds from a request's start to its end (when its access-log line is written), by distribution.";

/** A metric in prom-client's JSON form (Registry.getMetricsAsJSON), which its aggregation reads. */
export interface MetricJson {
  name: string;
  help: string;
  type: "counter" | "histogram" | "gauge";
  aggregator: "sum" | "max";
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

/** A metric prom-client's Registry can hold: it reads name, help, type and aggregator, and calls get() at each scrape. */
export interface CollectedMetric extends Omit<MetricJson, "values"> {
  get(): Promise<MetricJson>;
}
