/**
 * Two (or more) runs side by side: their histories read back from the run
 * folders' `metrics.json`, and one figure of a metric against epochs or
 * training time, a line per run (and per network or optimizer within a
 * run). `deno task compare DIR DIR` draws it from the command line.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { basename, join } from "node:path";
import type { EpochRecord } from "../train.ts";

/** One line of the comparison: a run's history, or one of its networks'. */
export interface RunSeries {
  /** `<run id>` or `<run id> <network>`. */
  name: string;
  history: EpochRecord[];
}

/**
 * The histories in a run folder's `metrics.json`: `history` (Week 9),
 * `histories` (Week 8, by network), `races` and `conv` (Week 11). Throws
 * naming the folder when it has none.
 */
export async function runSeries(dir: string): Promise<RunSeries[]> {
  let metrics: Record<string, unknown>;
  try {
    metrics = JSON.parse(await Deno.readTextFile(join(dir, "metrics.json")));
  } catch (e) {
    throw new Error(
      `${dir} has no readable metrics.json (${(e as Error).message}); ` +
        "give the folder of a finished run, e.g. outputs/week09/<run-id>",
    );
  }
  const id = basename(dir);
  const out: RunSeries[] = [];
  if (Array.isArray(metrics.history)) {
    out.push({ name: id, history: metrics.history as EpochRecord[] });
  }
  for (const key of ["histories", "races"]) {
    const named = metrics[key] as Record<string, EpochRecord[]> | undefined;
    for (const [name, history] of Object.entries(named ?? {})) {
      out.push({ name: `${id} ${name}`, history });
    }
  }
  if (Array.isArray(metrics.conv)) {
    out.push({ name: `${id} conv`, history: metrics.conv as EpochRecord[] });
  }
  if (out.length === 0) throw new Error(`${dir}/metrics.json holds no history`);
  return out;
}

/** The metrics the series share (in the first series' order). */
export function sharedMetrics(series: RunSeries[]): string[] {
  const keys = (s: RunSeries) => new Set(Object.keys(s.history[0] ?? {}));
  const [first, ...rest] = series.map(keys);
  return [...first].filter((k) =>
    !["epoch", "step", "time", "seconds"].includes(k) &&
    rest.every((s) => s.has(k))
  );
}

/** `metric` against `x` ("epoch" or "time"), a line per series. */
export function compareFigure(
  series: RunSeries[],
  metric: string,
  x: "epoch" | "time" = "epoch",
): Plot.PlotOptions {
  const rows = series.flatMap(({ name, history }) =>
    history.filter((r) => Number.isFinite(r[metric])).map((r) => ({
      run: name,
      x: r[x],
      y: r[metric],
    }))
  );
  if (rows.length === 0) {
    throw new Error(
      `no run has "${metric}"; they share: ${
        sharedMetrics(series).join(", ") || "(nothing)"
      }`,
    );
  }
  return {
    title: `${metric} by ${x === "time" ? "training time" : "epoch"}`,
    width: 720,
    height: 380,
    color: { legend: true },
    x: { label: x === "time" ? "training time (s)" : "epoch", grid: true },
    y: { label: metric, grid: true },
    marks: [Plot.line(rows, { x: "x", y: "y", stroke: "run", marker: "dot" })],
  };
}

/** Each series' last value of `metric`, for a table. */
export function lastValues(
  series: RunSeries[],
  metric: string,
): { run: string; epoch: number; [metric: string]: string | number }[] {
  return series.map(({ name, history }) => {
    const last = history.at(-1)!;
    return { run: name, epoch: last.epoch, [metric]: last[metric] };
  });
}
