// A live line chart (uPlot): series over time, redrawn in place when new points arrive, sized to its container.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

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

  return <div class="chart" ref={container} data-testid={props.testId} />;
}
