/**
 * Week 11's figures as Observable Plot specs (`await plot(raceFigure(...))`).
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { EpochRecord } from "../train.ts";

/** A named history: an optimizer's or a model's run. */
export interface NamedHistory {
  name: string;
  history: EpochRecord[];
}

/**
 * Test cost and sample FID against seconds of training, one line per run,
 * side by side (two panels, each its own y scale), with "good" as a dashed
 * line on the FID panel. The FID axis is logarithmic: early samples score in
 * the hundreds, good ones near ten.
 */
export function raceFigure(
  runs: NamedHistory[],
  goodFid: number,
  title = "Test cost and sample score against training time",
): Plot.PlotOptions[] {
  const rows = runs.flatMap(({ name, history }) =>
    history.map((r) => ({
      run: name,
      time: r.time,
      cost: r.test_cost,
      fid: r.sample_fid,
    }))
  );
  const common = {
    width: 440,
    height: 320,
    color: { legend: true, domain: runs.map((r) => r.name) },
    x: { label: "training time (s)", grid: true },
  };
  return [
    {
      ...common,
      title,
      y: { label: "test cost per example", grid: true },
      marks: [
        Plot.line(rows, { x: "time", y: "cost", stroke: "run", marker: "dot" }),
      ],
    },
    {
      ...common,
      title: `Sample FID (good: <= ${goodFid.toFixed(1)})`,
      y: { label: "sample FID (log)", type: "log", grid: true },
      marks: [
        Plot.ruleY([goodFid], { stroke: "gray", strokeDasharray: "4 3" }),
        Plot.line(rows, { x: "time", y: "fid", stroke: "run", marker: "dot" }),
      ],
    },
  ];
}
