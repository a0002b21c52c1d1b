/**
 * Week 8's figures as Observable Plot specs, so the notebook shows each in
 * one call (`await plot(curvesFigure(histories), ...)`), and its tables as
 * rows for `table()`.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { integerAxis, percent } from "../display/mod.ts";
import type { BatchNormUnit } from "../eval/batch_norm_analysis.ts";
import type { Mistake } from "../eval/metrics.ts";
import type { NormModeRow } from "../nn/batch_norm_model.ts";
import type { EpochRecord } from "../train.ts";
import type { Network } from "./bn_convnet.ts";

/**
 * Accuracy and loss per epoch of each network, side by side: validation
 * (population statistics) solid with dots, training (running, as trained)
 * dashed. `histories` maps network names to `trainConvNet` histories.
 */
export function curvesFigure(
  histories: Record<string, EpochRecord[]>,
): Plot.PlotOptions {
  const curves = Object.entries(histories).flatMap(([network, history]) =>
    history.flatMap((r) =>
      (["train", "valid"] as const).flatMap((split) =>
        (["accuracy", "loss"] as const).map((metric) => ({
          network,
          epoch: r.epoch,
          split,
          metric,
          value: r[`${split}_${metric}`],
        }))
      )
    )
  );
  const split = (s: string) => curves.filter((d) => d.split === s);
  const series = { fx: "metric", x: "epoch", y: "value", stroke: "network" };
  return {
    title:
      "Accuracy and loss per epoch (solid: valid, population statistics; dashed: train)",
    width: 900,
    height: 380,
    color: { legend: true },
    fx: { label: null },
    x: integerAxis(1, Math.max(...curves.map((d) => d.epoch), 1)),
    y: { grid: true, label: null },
    marks: [
      Plot.line(split("valid"), { ...series, z: "network", marker: "dot" }),
      Plot.line(split("train"), {
        ...series,
        z: "network",
        strokeDasharray: "4 3",
      }),
      Plot.frame({ stroke: "#ddd" }),
    ],
  };
}

/**
 * A confusion matrix as a heat map with the counts written in: rows the true
 * class, columns the predicted one (`matrix[t][p]`, class names `names`).
 */
export function confusionFigure(
  matrix: number[][],
  names: string[],
  title: string,
): Plot.PlotOptions {
  const cells = names.flatMap((t, i) =>
    names.map((p, j) => ({ true: t, predicted: p, count: matrix[i][j] }))
  );
  const at = { x: "predicted", y: "true" };
  return {
    title,
    width: 360,
    height: 260,
    color: { scheme: "blues" },
    marginLeft: 60,
    marks: [
      Plot.cell(cells, { ...at, fill: "count" }),
      Plot.text(cells, { ...at, text: "count", fill: "black" }),
    ],
  };
}

/** A scatter of one batch-norm parameter against one bias, a dot per feature. */
function biasFigure(
  units: BatchNormUnit[],
  x: "stdBias" | "meanBias",
  xLabel: string,
  y: "gamma" | "beta",
): Plot.PlotOptions {
  return {
    title: `${y} vs. the bias of the minibatch ${
      x === "stdBias" ? "std" : "mean"
    }`,
    width: 440,
    height: 320,
    color: { legend: true },
    x: { grid: true, label: xLabel },
    y: { grid: true, label: y },
    marks: [
      Plot.ruleX([0], { stroke: "#999" }),
      Plot.dot(units, { x, y, stroke: "layer", r: 2.5 }),
    ],
  };
}

/**
 * Each feature's learned gamma against the relative bias of its minibatch
 * standard deviation (E[std_B] / std_pop - 1), colored by layer.
 */
export function gammaFigure(units: BatchNormUnit[]): Plot.PlotOptions {
  return biasFigure(units, "stdBias", "E[std_B] / std_pop - 1", "gamma");
}

/**
 * Each feature's learned beta against the bias of its minibatch mean, in
 * population standard deviations, colored by layer.
 */
export function betaFigure(units: BatchNormUnit[]): Plot.PlotOptions {
  return biasFigure(
    units,
    "meanBias",
    "(E[mean_B] - mean_pop) / std_pop",
    "beta",
  );
}

/** Table rows describing each network's layers and parameter count. */
export function architectureRows(networks: Network[]): {
  network: string;
  "conv filters": string;
  dense: string;
  parameters: number;
}[] {
  return networks.map(({ name, model }) => ({
    network: name,
    "conv filters": model.stages.map((s) => s.conv.outChannels).join(", "),
    dense: `${model.flatSize} -> ${
      model.hidden.map((l) => l.dense.outputs).join(" -> ")
    } -> ${model.output.outputs}`,
    parameters: model.trainable().reduce((s, v) => s + v.size, 0),
  }));
}

/** The epoch table: one row per network and epoch, as the post reported. */
export function epochRows(histories: Record<string, EpochRecord[]>): {
  network: string;
  epoch: number;
  train: string;
  valid: string;
  loss: string;
  "valid loss": string;
  seconds: number;
}[] {
  return Object.entries(histories).flatMap(([network, history]) =>
    history.map((r) => ({
      network,
      epoch: r.epoch,
      train: percent(r.train_accuracy),
      valid: percent(r.valid_accuracy),
      loss: r.train_loss.toFixed(3),
      "valid loss": r.valid_loss.toFixed(3),
      seconds: Math.round(r.seconds),
    }))
  );
}

/** Each network's best validation accuracy and the (first) epoch it came at. */
export function bestEpochRows(histories: Record<string, EpochRecord[]>): {
  network: string;
  "best valid": string;
  "at epoch": number;
}[] {
  return Object.entries(histories).map(([network, history]) => {
    const best = history.reduce((a, b) =>
      b.valid_accuracy > a.valid_accuracy ? b : a
    );
    return {
      network,
      "best valid": percent(best.valid_accuracy),
      "at epoch": best.epoch,
    };
  });
}

/** Captions for confident mistakes: the wrong answer and its probability. */
export function mistakeTitles(mistakes: Mistake[], names: string[]): string[] {
  return mistakes.map((m) =>
    `${names[m.predicted]} ${m.probability.toFixed(2)}`
  );
}

/** `compareNormModes` rows of accuracy and loss, formatted for a table. */
export function normModeRows(
  rows: NormModeRow<{ accuracy: number; loss: number }>[],
): { statistics: string; batchSize: number; accuracy: string; loss: string }[] {
  return rows.map((r) => ({
    statistics: r.statistics,
    batchSize: r.batchSize,
    accuracy: percent(r.accuracy),
    loss: r.loss.toFixed(3),
  }));
}
