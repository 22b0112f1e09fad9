// Traffic: requests per second, cache hit ratio and origin errors by cause, per distribution, from the counters of the edge beside the API, read every two seconds and charted without a reload.
import { useEffect, useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { useSession } from "../api/session.ts";
import { LineChart } from "../components/line-chart.tsx";
import { Loading, ProblemView } from "../components/problem-view.tsx";
import { formatCount, formatPercent } from "../format.ts";
import { rates } from "./traffic-rates.ts";
import type { Point } from "./traffic-rates.ts";

const READ_EVERY_MS = 2_000;
/** Five minutes of points. */
const KEPT = 150;

export function TrafficPage() {
  const { client } = useSession();
  const [points, setPoints] = useState<Point[]>([]);
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let isStopped = false;
    const read = async () => {
      try {
        const { data } = await client.GET("/traffic");
        if (isStopped) return;
        const point = { at: Date.parse(data!.at), rows: new Map(data!.distributions.map((row) => [row.distribution, row])) };
        setPoints((previous) => [...previous, point].slice(-KEPT));
        setProblem(undefined);
      } catch (error) {
        if (!isStopped) setProblem(asProblem(error));
      } finally {
        if (!isStopped) timer = setTimeout(() => void read(), READ_EVERY_MS);
      }
    };
    void read();
    return () => {
      isStopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [client]);

  const intervals = points.slice(1).map((point, index) => ({ at: point.at, rates: rates(points[index] as Point, point) }));
  const names = [...new Set(points.flatMap((point) => [...point.rows.keys()]))].sort();
  const times = intervals.map((interval) => interval.at / 1000);
  const seriesOf = (pick: (rate: ReturnType<typeof rates>[number] | undefined) => number | undefined) =>
    names.map((name) => ({ label: name || "(no distribution)", values: intervals.map((interval) => pick(interval.rates.find((rate) => rate.distribution === name)) ?? null) }));
  // One series per distribution and cause that failed at least once in the window: a quiet origin draws no chart.
  const causes = [...new Set(intervals.flatMap((interval) => interval.rates.flatMap((rate) => Object.keys(rate.failures).map((cause) => `${rate.distribution}\n${cause}`))))].sort();
  const failureSeries = causes.map((key) => {
    const [name, cause] = key.split("\n") as [string, string];
    const seconds = (index: number) => Math.max(((intervals[index]?.at ?? 0) - (points[index]?.at ?? 0)) / 1000, 0.001);
    return { label: `${name || "(no distribution)"}: ${cause}`, values: intervals.map((interval, index) => (interval.rates.find((rate) => rate.distribution === name)?.failures[cause] ?? 0) / seconds(index)) };
  });
  const latest = intervals.at(-1);
  const totals = points.at(-1);

  return (
    <section>
      <h1>Traffic</h1>
      <p>What the edge beside this API answered, per distribution: read every {READ_EVERY_MS / 1000} s, the last five minutes charted.</p>
      {problem && <ProblemView problem={problem} title={problem.code === "traffic-unavailable" ? "No traffic to show" : "Traffic could not be read"} />}
      {!problem && points.length < 2 && <Loading what="the first two readings" />}
      {latest && (
        <>
          <LineChart title="Requests per second" unit="req/s" times={times} series={seriesOf((rate) => rate?.rps)} testId="chart-rps" />
          <LineChart title="Cache hit ratio" unit="%" times={times} series={seriesOf((rate) => (rate?.hitRatio === undefined ? undefined : rate.hitRatio * 100))} testId="chart-hit-ratio" />
          {failureSeries.length > 0 && <LineChart title="Origin errors per second, by cause" unit="errors/s" times={times} series={failureSeries} testId="chart-origin-errors" />}
          <h2>Now</h2>
          <div class="table-wrap">
            <table data-testid="traffic">
              <thead>
                <tr>
                  <th scope="col">Distribution</th>
                  <th scope="col">Requests/s</th>
                  <th scope="col">Hit ratio</th>
                  <th scope="col">Requests since start</th>
                  <th scope="col">Origin errors since start, by cause</th>
                </tr>
              </thead>
              <tbody>
                {latest.rates.map((rate) => {
                  const total = totals?.rows.get(rate.distribution);
                  const failures = Object.entries(total?.originFailures ?? {});
                  return (
                    <tr key={rate.distribution}>
                      <th scope="row">{rate.distribution || "(no distribution)"}</th>
                      <td>{formatCount(rate.rps, 1)}</td>
                      <td>{formatPercent(rate.hitRatio)}</td>
                      <td>{formatCount(total?.requests ?? 0)}</td>
                      <td>{failures.length === 0 ? "none" : failures.map(([cause, count]) => `${cause}: ${formatCount(count)}`).join(", ")}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
