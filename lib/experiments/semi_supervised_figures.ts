/**
 * Week 10's figures: what they show (class-conditional samples, analogies,
 * a 2-D view of the code space) computed from a trained model, the
 * Observable Plot specs of the plots (`await plot(errorCurves(runs), ...)`),
 * and the rows of the error table.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import * as tf from "@tensorflow/tfjs-core";
import { batchTensor, type LabelledImages } from "../data/images.ts";
import { symmetricEigen } from "../eval/linalg.ts";
import type { SemiSupervisedModel } from "../models/ss_vae.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";
import { deriveSeed } from "../random.ts";
import type { EpochRecord } from "../train.ts";
import type { RunSummary } from "./semi_supervised.ts";

/**
 * Class-conditional generation: `columns` codes drawn from N(0, I)
 * (`deriveSeed(seed, "samples")`), each decoded with every class. Row `c`
 * clamps the label to `c`; column `j` shares its `z` (the style).
 * `[classes * columns, inputSize]`, row-major.
 */
export function classConditionalGrid(
  model: SemiSupervisedModel,
  opts: { columns: number; seed: number; mode: NormMode },
): tf.Tensor2D {
  const { classes: K, codeSize } = model.config;
  return tf.tidy(() => {
    const z = randomNormal(
      [opts.columns, codeSize],
      deriveSeed(opts.seed, "samples"),
    );
    const zs = tf.tile(z, [K, 1]) as tf.Tensor2D;
    const ys = tf.oneHot(
      tf.tensor1d(
        Int32Array.from(
          { length: K * opts.columns },
          (_, i) => Math.floor(i / opts.columns),
        ),
        "int32",
      ),
      K,
    ).toFloat() as tf.Tensor2D;
    return model.decode(zs, ys, opts.mode);
  });
}

/**
 * Analogies: each image `idx` of `set` (one per row) encoded to its style
 * code (`q(z|x, y)`'s mean, with the classifier's predicted `y`), then
 * decoded as every class. `[idx.length * (classes + 1), inputSize]`: each
 * row is the source image, then classes 0..K-1.
 */
export function analogies(
  model: SemiSupervisedModel,
  set: LabelledImages,
  idx: ArrayLike<number>,
  opts: { mode: NormMode },
): tf.Tensor2D {
  const K = model.config.classes, n = idx.length;
  return tf.tidy(() => {
    const x = batchTensor(set, idx, { layout: "flat" });
    const predicted = tf.oneHot(
      tf.argMax(model.classLogits(x, opts.mode), 1),
      K,
    ).toFloat() as tf.Tensor2D;
    const z = model.styleCode(x, predicted, opts.mode);
    const ys = tf.tile(tf.eye(K), [n, 1]) as tf.Tensor2D;
    const zs = tf.reshape(
      tf.tile(tf.reshape(z, [n, 1, -1]), [1, K, 1]),
      [n * K, -1],
    ) as tf.Tensor2D;
    const out = tf.reshape(model.decode(zs, ys, opts.mode), [n, K, -1]);
    const src = tf.reshape(x, [n, 1, -1]);
    return tf.reshape(tf.concat([src, out], 1), [n * (K + 1), -1]);
  });
}

/** One point of {@linkcode codeProjection}. */
export interface CodePoint {
  /** First principal component. */
  pc1: number;
  /** Second principal component. */
  pc2: number;
  /** The image's true class. */
  label: number;
}

/**
 * The style codes of the first `limit` images of `set` (with the predicted
 * class for M2's `q(z|x, y)`), projected on their two leading principal
 * components: a 2-D view of the code space, to colour by class.
 */
export function codeProjection(
  model: SemiSupervisedModel,
  set: LabelledImages,
  opts: { limit: number; mode: NormMode },
): CodePoint[] {
  const n = Math.min(opts.limit, set.count);
  const K = model.config.classes, d = model.config.codeSize;
  const codes = tf.tidy(() => {
    const x = batchTensor(set, Int32Array.from({ length: n }, (_, i) => i), {
      layout: "flat",
    });
    const y = tf.oneHot(tf.argMax(model.classLogits(x, opts.mode), 1), K)
      .toFloat() as tf.Tensor2D;
    return model.styleCode(x, y, opts.mode).dataSync();
  });
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) mean[j] += codes[i * d + j] / n;
  }
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const va = codes[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) {
        cov[a * d + b] += va * (codes[i * d + b] - mean[b]) / n;
      }
    }
  }
  const { values, vectors } = symmetricEigen(cov);
  const order = [...values.keys()].sort((a, b) => values[b] - values[a]);
  const axis = (k: number) =>
    Float64Array.from({ length: d }, (_, j) => vectors[j * d + order[k]]);
  const [u, v] = [axis(0), axis(1)];
  return Array.from({ length: n }, (_, i) => {
    let p = 0, q = 0;
    for (let j = 0; j < d; j++) {
      const c = codes[i * d + j] - mean[j];
      p += c * u[j];
      q += c * v[j];
    }
    return { pc1: p, pc2: q, label: set.labels[i] };
  });
}

/**
 * How much the 2-D view groups the classes: the fraction of points whose
 * `k` nearest neighbours in it (Euclidean, ties by order) mostly share their
 * class (a majority vote, ties to the lowest class). 1 / classes means the
 * view ignores the class; near 1, the classes form separate regions.
 */
export function neighbourAgreement(points: CodePoint[], k = 5): number {
  let agree = 0;
  const n = points.length;
  for (let i = 0; i < n; i++) {
    const d: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const a = points[i].pc1 - points[j].pc1;
      const b = points[i].pc2 - points[j].pc2;
      d.push([a * a + b * b, j]);
    }
    d.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const votes = new Map<number, number>();
    for (const [, j] of d.slice(0, k)) {
      votes.set(points[j].label, (votes.get(points[j].label) ?? 0) + 1);
    }
    let best = -1, bestVotes = 0;
    for (const [c, v] of [...votes].sort((x, y) => x[0] - y[0])) {
      if (v > bestVotes) [best, bestVotes] = [c, v];
    }
    if (best === points[i].label) agree++;
  }
  return n === 0 ? NaN : agree / n;
}

/** One training run's history under a name, e.g. "M2, 100 labels". */
export interface NamedHistory {
  /** Legend entry. */
  name: string;
  /** The run's history rows (`valid_error`, `train_labelled_error`). */
  history: EpochRecord[];
}

/**
 * Validation error (solid) and the error on the labelled training batches
 * (dashed; minibatch statistics, as trained) by epoch, one colour per run.
 */
export function errorCurves(runs: NamedHistory[]): Plot.PlotOptions {
  const rows = runs.flatMap(({ name, history }) =>
    history.flatMap((r) => [
      {
        run: name,
        epoch: r.epoch,
        split: "validation",
        error: 100 * r.valid_error,
      },
      {
        run: name,
        epoch: r.epoch,
        split: "labelled (training)",
        error: 100 * r.train_labelled_error,
      },
    ])
  );
  return {
    title: "Classification error by epoch",
    color: { legend: true },
    x: { label: "epoch" },
    y: { label: "error (%)", grid: true, type: "log" },
    marks: [
      Plot.line(rows.filter((r) => r.split === "validation"), {
        x: "epoch",
        y: "error",
        stroke: "run",
        z: "run",
        marker: "dot",
      }),
      Plot.line(rows.filter((r) => r.split !== "validation"), {
        x: "epoch",
        y: "error",
        stroke: "run",
        z: "run",
        strokeDasharray: "4 3",
        strokeOpacity: 0.6,
      }),
    ],
  };
}

/** A 2-D view of code space: one dot per image, coloured by its class. */
export function codeScatter(
  points: CodePoint[],
  title: string,
): Plot.PlotOptions {
  return {
    title,
    width: 520,
    height: 440,
    color: { type: "categorical", legend: true, label: "class" },
    x: { label: "first principal component" },
    y: { label: "second principal component" },
    marks: [
      Plot.dot(points.map((p) => ({ ...p, class: String(p.label) })), {
        x: "pc1",
        y: "pc2",
        fill: "class",
        r: 1.5,
        fillOpacity: 0.7,
      }),
    ],
  };
}

/**
 * The error table: one row per (label budget, model), the mean ± standard
 * deviation over its draws (in %), the number of draws, and the paper's
 * number where it has one (`reference(model, labels)`).
 */
export function errorTableRows(
  runs: RunSummary[],
  reference: (kind: RunSummary["kind"], labels: number) => string | undefined,
): Record<string, string | number>[] {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) {
    const key = `${r.labels}\u0000${r.model}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const fmt = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    if (v.length < 2) return (100 * m).toFixed(2);
    const sd = Math.sqrt(
      v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1),
    );
    return `${(100 * m).toFixed(2)} ± ${(100 * sd).toFixed(2)}`;
  };
  return [...groups.values()].map((g) => ({
    labels: g[0].labels,
    model: g[0].model,
    draws: g.length,
    "valid error (%)": fmt(g.map((r) => r.validError)),
    "test error (%)": fmt(g.map((r) => r.testError)),
    "Kingma et al. 2014 (%)": reference(g[0].kind, g[0].labels) ?? "",
    "epoch kept": g.map((r) => r.bestEpoch).join(", "),
    "minutes": (g.reduce((a, r) => a + r.seconds, 0) / 60).toFixed(1),
  }));
}
