/**
 * Week 9's figures as Observable Plot specs, so the notebook shows them in
 * one line each (`await plot(costFigure(history, baseline), ...)`).
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { integerAxis } from "../display/mod.ts";
import type { EpochRecord } from "../train.ts";

/**
 * Training and validation cost per example by epoch, with the mean-image
 * cost as a dashed reference line.
 */
export function costFigure(
  history: EpochRecord[],
  baseline: number,
): Plot.PlotOptions {
  const curve = history.flatMap((r) => [
    {
      epoch: r.epoch,
      split: "train (minibatch statistics)",
      cost: r.train_cost,
    },
    {
      epoch: r.epoch,
      split: "valid (population statistics)",
      cost: r.valid_cost,
    },
  ]);
  return {
    title: "Cost per example (KL + squared error)",
    color: { legend: true },
    x: { label: "epoch", ...integerAxis(1, Math.max(1, history.length)) },
    y: { label: "cost per example", grid: true },
    marks: [
      Plot.ruleY([baseline], { stroke: "gray", strokeDasharray: "4 3" }),
      Plot.text([{ epoch: 1, cost: baseline }], {
        x: "epoch",
        y: "cost",
        text: () => "mean image",
        dy: -6,
        textAnchor: "start",
        fill: "gray",
      }),
      Plot.line(curve, {
        x: "epoch",
        y: "cost",
        stroke: "split",
        z: "split",
        marker: "dot",
      }),
    ],
  };
}

/**
 * Test cost by evaluation batch size with minibatch statistics, against the
 * population-statistics cost (dashed line): rows from `compareNormModes`.
 */
export function normModesFigure(
  rows: { statistics: string; batchSize: number; cost: number }[],
): Plot.PlotOptions {
  const population = rows.find((r) => r.statistics === "population");
  return {
    title: "Test cost per example by batch-norm statistics",
    x: { type: "log", label: "evaluation batch size" },
    y: { label: "cost per example", grid: true },
    color: { legend: true },
    marks: [
      Plot.dot(rows, { x: "batchSize", y: "cost", stroke: "statistics", r: 5 }),
      population
        ? Plot.ruleY([population.cost], {
          stroke: "steelblue",
          strokeDasharray: "4 3",
        })
        : null,
    ],
  };
}
