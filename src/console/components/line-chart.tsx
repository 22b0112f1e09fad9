// A live line chart (uPlot): series over time, redrawn in place when new points arrive, sized to its container; its canvas has a text alternative, the latest value of each series.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatCount } from "../format.ts";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** Distinct on white and to most colour vision (Okabe–Ito); the legend names each series too. */
const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];

// The charts span minutes, read every 2 s: ticks on whole seconds and minutes, never fractions of one.
const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** Tick labels as the viewer's wall clock, HH:MM:SS. */
function clockLabels(_plot: uPlot, splits: number[]): string[] {
  return splits.map((seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
}

export function LineChart(props: { title: string; times: readonly number[]; series: readonly ChartSeries[]; unit: string; testId?: string }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | undefined>(undefined);
  const shape = props.series.map((series) => series.label).join("\n");

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      title: props.title,
      width: Math.max(element.clientWidth, 280),
      height: 220,
      scales: { x: { time: true } },
      axes: [{ incrs: TIME_STEPS_S, values: clockLabels, space: 70 }, { label: props.unit, size: 60 }],
      series: [{}, ...props.series.map((series, index) => ({ label: series.label, stroke: COLOURS[index % COLOURS.length], width: 2, spanGaps: false }))],
    };
    const plot = new uPlot(options, [props.times as number[], ...props.series.map((series) => series.values)] as uPlot.AlignedData, element);
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 280), height: 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = undefined;
    };
    // A new set of series makes a new chart; new points only update it.
  }, [shape, props.title, props.unit]);

  useEffect(() => {
    chart.current?.setData([props.times as number[], ...props.series.map((series) => series.values)] as uPlot.AlignedData);
  }, [props.times, props.series]);

  // A canvas says nothing to a screen reader: the figure's caption does, with the last reading of every series (not
  // live: a chart updated every two seconds would drown everything else; the table under the charts has the numbers too).
  const last = props.times.length - 1;
  const reading = props.series.map((series) => {
    const value = series.values[last];
    return `${series.label}: ${value === null || value === undefined ? "no reading" : `${formatCount(value, 1)} ${props.unit}`}`;
  });
  const at = last >= 0 ? new Date((props.times[last] as number) * 1000).toLocaleTimeString([], { hour12: false }) : undefined;
  return (
    <figure class="chart-figure">
      <div class="chart" ref={container} data-testid={props.testId} aria-hidden="true" />
      <figcaption class="visually-hidden" data-testid={props.testId ? `${props.testId}-summary` : undefined}>
        {props.title}, {at && reading.length > 0 ? `latest reading at ${at}: ${reading.join("; ")}` : "no reading yet"}.
      </figcaption>
    </figure>
  );
}
