// What the edge beside the API has answered since it started, per distribution: requests by cache result and status class, origin failures by cause. Counters: a client's rates are the differences between two reads.
import { z } from "zod";
import { TrafficUnavailableError } from "../../errors.ts";
import type { MetricJson } from "../../observe/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";

/** The edge's metrics in prom-client's JSON form (a group's already summed across its workers). */
export type TrafficSource = () => Promise<readonly MetricJson[]>;

const counts = z.record(z.string(), z.number());

const trafficSchema = z
  .strictObject({
    at: z.string().meta({ description: "When the counters were read (ISO 8601, UTC): divide the difference of two reads by the time between them" }),
    distributions: z.array(
      z.strictObject({
        distribution: z.string().meta({ description: "Its id; empty for requests that matched no distribution" }),
        requests: z.number().meta({ description: "Requests answered since the edge started" }),
        cache: counts.meta({ description: "Requests by cache result (hit, miss, stale, none: not through the cache, …), the access log's cache field" }),
        status: counts.meta({ description: "Requests by status class: 2xx, 3xx, 4xx, 5xx" }),
        originFailures: counts.meta({ description: "Origin requests that failed, by cause (the Moat-Error code: origin-connect-timeout, origin-cert-untrusted, …)" }),
      }),
    ),
  })
  .meta({ title: "Traffic" });

type Row = z.output<typeof trafficSchema>["distributions"][number];

/** The two counters the summary reads, by distribution (the same numbers /metrics shows as moat_requests_total and moat_origin_failures_total). */
export function summariseTraffic(metrics: readonly MetricJson[]): Row[] {
  const rows = new Map<string, Row>();
  const row = (distribution: string) => {
    let found = rows.get(distribution);
    if (!found) rows.set(distribution, (found = { distribution, requests: 0, cache: {}, status: {}, originFailures: {} }));
    return found;
  };
  const add = (into: Record<string, number>, key: string, value: number) => (into[key] = (into[key] ?? 0) + value);
  for (const metric of metrics) {
    if (metric.name === "moat_requests_total") {
      for (const { labels, value } of metric.values) {
        const found = row(String(labels.distribution ?? ""));
        found.requests += value;
        add(found.cache, String(labels.cache ?? "none"), value);
        add(found.status, `${String(labels.status ?? "0").slice(0, 1)}xx`, value);
      }
    } else if (metric.name === "moat_origin_failures_total") {
      for (const { labels, value } of metric.values) add(row(String(labels.distribution ?? "")).originFailures, String(labels.cause ?? "unknown"), value);
    }
  }
  return [...rows.values()].sort((a, b) => a.distribution.localeCompare(b.distribution));
}

export function trafficRoutes(source: TrafficSource | undefined, now: () => Date): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/traffic",
      operationId: "getTraffic",
      summary: "The counters of the edge beside this API (since it started), per distribution: requests by cache result and status class, origin failures by cause; 503 traffic-unavailable when its metrics are off",
      tag: "Traffic",
      role: "viewer",
      responses: { 200: { description: "The counters, read now", schema: trafficSchema } },
      async handler() {
        if (!source) throw new TrafficUnavailableError();
        const at = now();
        return { status: 200, body: { at: at.toISOString(), distributions: summariseTraffic(await source()) } };
      },
    }),
  ];
}
