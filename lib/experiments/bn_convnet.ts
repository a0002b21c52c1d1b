/**
 * Week 8's experiment: training and evaluating the batch-normalized convnet
 * on Dogs vs. Cats, in pieces a notebook calls cell by cell.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { minibatches } from "../data/batches.ts";
import {
  type DogsVsCats,
  loadDogsVsCats,
  type LoadOptions,
} from "../data/dogs_vs_cats.ts";
import { type Progress, progress } from "../display/mod.ts";
import { BNConvNet } from "../models/bn_convnet.ts";
import { estimatePopulationStats } from "../nn/batch_norm.ts";
import type { NormMode } from "../nn/module.ts";
import { NesterovMomentum } from "../optim/nesterov.ts";
import { Rng } from "../random.ts";
import {
  type EpochRecord,
  fitMinibatches,
  type Metrics,
  trainStep,
} from "../train.ts";

export type { EpochRecord } from "../train.ts";

/** Labelled NHWC images, e.g. `loadDogsVsCats(...).train`. */
export interface LabelledImages {
  /** `count * height * width * channels` values. */
  images: Float32Array;
  /** Class of each image (0 = cat, 1 = dog). */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
}

/** The shape of one image. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** Draws, for each of `count` images, whether to flip it (1) or not (0). */
export function flipChoices(
  count: number,
  probability: number,
  rng: Rng,
): Uint8Array {
  return Uint8Array.from(
    { length: count },
    () => (rng.next() < probability ? 1 : 0),
  );
}

/**
 * Copies images `idx` of `set` into one NHWC batch; image `j` is mirrored
 * left-right (its columns reversed) where `flips[j]` is 1.
 */
export function batchImages(
  set: LabelledImages,
  idx: ArrayLike<number>,
  shape: ImageShape,
  flips?: Uint8Array,
): Float32Array {
  const { height: h, width: w, channels: c } = shape;
  const size = h * w * c;
  const row = w * c;
  const out = new Float32Array(idx.length * size);
  for (let j = 0; j < idx.length; j++) {
    const src = set.images.subarray(idx[j] * size, (idx[j] + 1) * size);
    if (!flips?.[j]) {
      out.set(src, j * size);
      continue;
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const from = y * row + (w - 1 - x) * c;
        const to = j * size + y * row + x * c;
        for (let k = 0; k < c; k++) out[to + k] = src[from + k];
      }
    }
  }
  return out;
}

/** {@linkcode batchImages} as a `[batch, height, width, channels]` tensor. */
export function batchTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
  shape: ImageShape,
  flips?: Uint8Array,
): tf.Tensor4D {
  return tf.tensor4d(batchImages(set, idx, shape, flips), [
    idx.length,
    shape.height,
    shape.width,
    shape.channels,
  ]);
}

/** Labels of images `idx` as a float tensor (what `BNConvNet.loss` takes). */
export function labelTensor(
  set: LabelledImages,
  idx: ArrayLike<number>,
): tf.Tensor1D {
  return tf.tensor1d(Array.from(idx, (i) => set.labels[i]), "float32");
}

/** Fraction of `predictions` equal to `labels`. */
export function accuracyOf(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
): number {
  if (labels.length === 0) return NaN;
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === predictions[i]) right++;
  }
  return right / labels.length;
}

/**
 * Counts of (true class, predicted class): `matrix[t][p]` is the number of
 * examples of class `t` predicted as `p`.
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  classes: number,
): number[][] {
  const m = Array.from({ length: classes }, () => new Array(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predictions[i]]++;
  return m;
}

/** Class of the largest probability in each row of `[n, classes]` values. */
export function argMaxRows(
  probabilities: Float32Array,
  classes: number,
): Int32Array {
  const n = probabilities.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (
        probabilities[i * classes + k] > probabilities[i * classes + best]
      ) best = k;
    }
    out[i] = best;
  }
  return out;
}

/** A network's predictions over a set. */
export interface Evaluation {
  /** Fraction classified right. */
  accuracy: number;
  /** Mean cross-entropy per example. */
  loss: number;
  /** `[count, classes]` class probabilities. */
  probabilities: Float32Array;
  /** The most probable class of each example. */
  predictions: Int32Array;
}

/**
 * Runs the net over a whole set in minibatches of `batchSize` with the given
 * batch-norm mode (no flips; "train" counts as "minibatch": evaluation never
 * touches the moving averages). With minibatch statistics a last batch of a
 * single example would have no variance, so it joins the one before.
 */
export function evaluateConvNet(
  model: BNConvNet,
  set: LabelledImages,
  shape: ImageShape,
  opts: { batchSize: number; mode: NormMode },
): Evaluation {
  const classes = model.output.outputs;
  const probabilities = new Float32Array(set.count * classes);
  const batches = minibatches(set.count, opts.batchSize);
  const last = batches[batches.length - 1];
  if (opts.mode !== "population" && batches.length > 1 && last.length === 1) {
    batches.pop();
    const prev = batches.pop()!;
    batches.push(Int32Array.from([...prev, ...last]));
  }
  let loss = 0;
  let done = 0;
  for (const idx of batches) {
    const [p, l] = tf.tidy(() => {
      const logits = model.logits(
        batchTensor(set, idx, shape),
        opts.mode === "train" ? "minibatch" : opts.mode,
      );
      const logp = tf.logSoftmax(logits);
      const picked = tf.mul(
        logp,
        tf.oneHot(labelTensor(set, idx).toInt(), classes),
      );
      return [tf.exp(logp).dataSync(), -tf.sum(picked).dataSync()[0]];
    });
    probabilities.set(p, done * classes);
    loss += l;
    done += idx.length;
  }
  const predictions = argMaxRows(probabilities, classes);
  return {
    accuracy: accuracyOf(set.labels, predictions),
    loss: loss / set.count,
    probabilities,
    predictions,
  };
}

/**
 * Sets every batch norm's population statistics to exact averages over a
 * pass of `train` in minibatches of `batchSize` (Ioffe & Szegedy's
 * Algorithm 2), with m = batch size times the conv output's H*W for conv
 * layers. `limit` uses only the first `limit` images. No-op without batch norm.
 */
export async function estimateConvNetPopulationStats(
  model: BNConvNet,
  train: LabelledImages,
  shape: ImageShape,
  batchSize: number,
  limit = 0,
): Promise<void> {
  const sites = model.batchNormSites();
  if (sites.length === 0) return;
  const n = limit > 0 ? Math.min(limit, train.count) : train.count;
  const batches = minibatches(n, batchSize, undefined, n > batchSize);
  const perExample = new Map(sites.map((s) => [s.bn, s.valuesPerExample]));
  await estimatePopulationStats(
    sites.map((s) => s.bn),
    batches.length,
    (i) =>
      void model.logits(batchTensor(train, batches[i], shape), "minibatch"),
    (bn) => batches[0].length * perExample.get(bn)!,
  );
}

/** Hyperparameters of {@linkcode trainConvNet}. */
export interface TrainConvNetOptions {
  epochs: number;
  batchSize: number;
  /** Step size on the mean cross-entropy of a minibatch. */
  learningRate: number;
  momentum: number;
  /** Probability of mirroring each training image left-right. */
  flipProbability: number;
  /** Seed of shuffling and flips. */
  seed: number;
  /** Validation set, evaluated after each epoch (population statistics). */
  valid?: LabelledImages;
  /**
   * Population statistics for validation: "exact" (default) re-estimates
   * them after each epoch with a pass over the training set; "moving" uses
   * the moving averages kept during training (no extra pass, faster).
   */
  populationStats?: "exact" | "moving";
  /** Images of the training set used for the exact estimate (0: all). */
  statsLimit?: number;
  /**
   * With "exact" statistics, also evaluate with the moving averages first
   * (`valid_accuracy_moving`, `valid_loss_moving` in the history).
   */
  reportMoving?: boolean;
  /** Progress bar label; false hides the bar. */
  label?: string | false;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
}

/**
 * Trains with the seed's SGD + Nesterov momentum on the mean cross-entropy,
 * with seeded random horizontal flips. After each epoch the population
 * statistics are re-estimated over the training set (unless
 * `populationStats` is "moving") and the validation set is evaluated with
 * them. Returns the history: per epoch `train_loss` and
 * `train_accuracy` (running means over the epoch's minibatches, as trained:
 * minibatch statistics, flipped images), `valid_loss` and `valid_accuracy`.
 */
export async function trainConvNet(
  model: BNConvNet,
  train: LabelledImages,
  shape: ImageShape,
  opts: TrainConvNetOptions,
): Promise<EpochRecord[]> {
  const optimizer = new NesterovMomentum(opts.learningRate, opts.momentum);
  const variables = model.trainable();
  const flipRng = new Rng(opts.seed + 7);
  try {
    return await fitMinibatches({
      epochs: opts.epochs,
      label: opts.label ?? "training",
      count: train.count,
      batchSize: opts.batchSize,
      seed: opts.seed,
      step: (idx) => {
        const flips = flipChoices(idx.length, opts.flipProbability, flipRng);
        const x = batchTensor(train, idx, shape, flips);
        const y = labelTensor(train, idx);
        let correct: tf.Tensor | null = null;
        const loss = trainStep(optimizer, variables, () => {
          const out = model.loss(x, y, "train");
          // Kept past minimize()'s tidy, read below.
          correct = tf.keep(
            tf.sum(tf.equal(tf.argMax(out.logits, 1), tf.cast(y, "int32"))),
          );
          return out.loss;
        });
        const right = (correct as tf.Tensor | null)!.dataSync()[0];
        (correct as tf.Tensor | null)!.dispose();
        return { loss, accuracy: right / idx.length, count: idx.length };
      },
      evaluate: async (): Promise<Metrics> => {
        const valid = opts.valid;
        const evaluate = () =>
          evaluateConvNet(model, valid!, shape, {
            batchSize: 100,
            mode: "population",
          });
        const out: Metrics = {};
        if ((opts.populationStats ?? "exact") === "exact") {
          if (valid && opts.reportMoving) {
            const m = evaluate();
            out.valid_loss_moving = m.loss;
            out.valid_accuracy_moving = m.accuracy;
          }
          await estimateConvNetPopulationStats(
            model,
            train,
            shape,
            opts.batchSize,
            opts.statsLimit,
          );
        }
        if (!valid) return out;
        const v = evaluate();
        return { valid_loss: v.loss, valid_accuracy: v.accuracy, ...out };
      },
      onEpoch: opts.onEpoch,
    });
  } finally {
    optimizer.dispose();
  }
}

/** One misclassified example. */
export interface Mistake {
  /** Index in the evaluated set. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  predicted: number;
  /** Probability the net gave its (wrong) prediction. */
  probability: number;
}

/** The `k` misclassified examples the net was most confident about. */
export function confidentMistakes(
  labels: ArrayLike<number>,
  ev: Evaluation,
  k: number,
): Mistake[] {
  const classes = ev.probabilities.length / labels.length;
  const out: Mistake[] = [];
  for (let i = 0; i < labels.length; i++) {
    const p = ev.predictions[i];
    if (p === labels[i]) continue;
    out.push({
      index: i,
      label: labels[i],
      predicted: p,
      probability: ev.probabilities[i * classes + p],
    });
  }
  out.sort((a, b) => b.probability - a.probability || a.index - b.index);
  return out.slice(0, k);
}

/** What one batch-norm feature learned and how its minibatch statistics behave. */
export interface BatchNormUnit {
  /** Layer name ("conv0".."conv2", "fc0", "fc1"). */
  layer: string;
  /** Feature (channel or unit) index. */
  unit: number;
  /** Values per minibatch statistic (m = batch size * H * W). */
  m: number;
  gamma: number;
  beta: number;
  /** Population mean and standard deviation (what inference uses). */
  popMean: number;
  popStd: number;
  /** Mean over minibatches of (minibatch mean - population mean), in population stds. */
  meanBias: number;
  /** Mean over minibatches of (minibatch std / population std) - 1 (the eps included in both). */
  stdBias: number;
  /** Spread (std over minibatches) of the minibatch mean, in population stds. */
  meanSpread: number;
  /** Spread of the minibatch std, relative to the population std. */
  stdSpread: number;
}

/**
 * Compares, for every batch-norm feature, the minibatch statistics seen in
 * training with the population statistics used at inference, next to the
 * learned gamma and beta: the data for testing whether gamma and beta
 * "correct for the bias in the minibatch estimates". Uses `batches`
 * minibatches of `batchSize` training images (seeded shuffle, no flips) and
 * the population statistics currently in the model.
 */
export function batchNormAnalysis(
  model: BNConvNet,
  train: LabelledImages,
  shape: ImageShape,
  opts: { batchSize: number; batches: number; seed: number },
): BatchNormUnit[] {
  const sites = model.batchNormSites();
  if (sites.length === 0) return [];
  const all = minibatches(
    train.count,
    opts.batchSize,
    new Rng(opts.seed),
    train.count > opts.batchSize,
  );
  const batches = all.slice(0, Math.max(1, opts.batches));
  // Per site: sums over batches of the minibatch mean, mean^2, std, std^2.
  const sums = new Map(sites.map((s) => [s.bn, {
    mean: new Float64Array(s.bn.features),
    mean2: new Float64Array(s.bn.features),
    std: new Float64Array(s.bn.features),
    std2: new Float64Array(s.bn.features),
  }]));
  for (const idx of batches) {
    tf.tidy(() => {
      model.logits(
        batchTensor(train, idx, shape),
        "minibatch",
        (site, input) => {
          const axes = input.shape.map((_, i) => i).slice(0, -1);
          const { mean, variance } = tf.moments(input, axes);
          const mu = mean.dataSync();
          const sd = tf.add(tf.sqrt(variance), site.bn.epsilon).dataSync();
          const s = sums.get(site.bn)!;
          for (let j = 0; j < mu.length; j++) {
            s.mean[j] += mu[j];
            s.mean2[j] += mu[j] * mu[j];
            s.std[j] += sd[j];
            s.std2[j] += sd[j] * sd[j];
          }
        },
      );
    });
  }
  const n = batches.length;
  const units: BatchNormUnit[] = [];
  for (const site of sites) {
    const bn = site.bn;
    const gamma = bn.gamma.dataSync();
    const beta = bn.beta.dataSync();
    const popMean = bn.popMean.dataSync();
    const popVar = bn.popVar.dataSync();
    const s = sums.get(bn)!;
    for (let j = 0; j < bn.features; j++) {
      const popStd = Math.sqrt(popVar[j]) + bn.epsilon;
      const meanAvg = s.mean[j] / n;
      const stdAvg = s.std[j] / n;
      const spread = (sum: number, sum2: number) =>
        Math.sqrt(Math.max(0, sum2 / n - (sum / n) ** 2));
      units.push({
        layer: site.name,
        unit: j,
        m: batches[0].length * site.valuesPerExample,
        gamma: gamma[j],
        beta: beta[j],
        popMean: popMean[j],
        popStd,
        meanBias: (meanAvg - popMean[j]) / popStd,
        stdBias: stdAvg / popStd - 1,
        meanSpread: spread(s.mean[j], s.mean2[j]) / popStd,
        stdSpread: spread(s.std[j], s.std2[j]) / popStd,
      });
    }
  }
  return units;
}

/** Pearson correlation of two equally long lists (NaN if either is constant). */
export function correlation(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Accuracy on `set` with population statistics and with minibatch
 * statistics at several batch sizes: how much inference depends on which
 * statistics batch norm uses.
 */
export function compareNormModes(
  model: BNConvNet,
  set: LabelledImages,
  shape: ImageShape,
  batchSizes: number[],
): { statistics: string; batchSize: number; accuracy: number; loss: number }[] {
  const rows = [];
  const pop = evaluateConvNet(model, set, shape, {
    batchSize: 100,
    mode: "population",
  });
  rows.push({
    statistics: "population",
    batchSize: 1,
    accuracy: pop.accuracy,
    loss: pop.loss,
  });
  for (const b of batchSizes) {
    const ev = evaluateConvNet(model, set, shape, {
      batchSize: b,
      mode: "minibatch",
    });
    rows.push({
      statistics: "minibatch",
      batchSize: b,
      accuracy: ev.accuracy,
      loss: ev.loss,
    });
  }
  return rows;
}

/** The image shape of a loaded dataset (`loadDogsVsCats(...)`). */
export function imageShape(data: ImageShape): ImageShape {
  return { height: data.height, width: data.width, channels: data.channels };
}

/** Two lines on a loaded dataset: where it came from, and its split sizes. */
export function describeData(data: {
  source: string;
  fromCache: boolean;
  train: { count: number };
  valid: { count: number };
  height: number;
  width: number;
}): string {
  const cache = data.fromCache ? " (prepared images from the cache)" : "";
  return `${data.source}${cache}\n` +
    `train ${data.train.count}, valid ${data.valid.count}, ` +
    `${data.height}x${data.width} RGB`;
}

/** `v` as a percentage with one decimal ("80.2%"). */
export function percent(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/** One of the compared networks: its name, its settings and the model. */
export interface Network {
  /** "BN, full", "no BN, width 0.5", ... */
  name: string;
  width: number;
  batchNorm: boolean;
  model: BNConvNet;
}

/**
 * The networks compared: for each width, one with batch norm and one
 * without, all initialized from the same `seed`.
 */
export function buildNetworks(
  widths: number[],
  opts: { seed: number; inputSize: number },
): Network[] {
  return widths.flatMap((width) =>
    [true, false].map((batchNorm) => ({
      name: `${batchNorm ? "BN" : "no BN"}, ${
        width === 1 ? "full" : `width ${width}`
      }`,
      width,
      batchNorm,
      model: new BNConvNet({
        seed: opts.seed,
        width,
        batchNorm,
        inputSize: opts.inputSize,
      }),
    }))
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
    } -> 2`,
    parameters: model.trainable().reduce((s, v) => s + v.size, 0),
  }));
}

/** The progress line printed after each epoch of {@linkcode trainNetworks}. */
export function describeEpoch(name: string, r: EpochRecord): string {
  return `${name} epoch ${r.epoch}: train ${percent(r.train_accuracy)}, ` +
    `valid ${percent(r.valid_accuracy)}, loss ${r.train_loss.toFixed(3)} ` +
    `(${r.seconds.toFixed(0)} s)`;
}

/**
 * Trains each network in turn with {@linkcode trainConvNet} and the same
 * options (hence the same shuffles and flips), validating on `data.valid`.
 * Prints a {@linkcode describeEpoch} line after each epoch through `log`
 * (default `console.log`). Returns the histories by network name.
 */
export async function trainNetworks(
  networks: Network[],
  data: ImageShape & { train: LabelledImages; valid?: LabelledImages },
  opts: Omit<TrainConvNetOptions, "valid" | "label" | "onEpoch"> & {
    log?: (line: string) => void;
  },
): Promise<Record<string, EpochRecord[]>> {
  const { log = console.log, ...train } = opts;
  const histories: Record<string, EpochRecord[]> = {};
  for (const { name, model } of networks) {
    histories[name] = await trainConvNet(model, data.train, imageShape(data), {
      ...train,
      valid: data.valid,
      label: name,
      onEpoch: (r) => log(describeEpoch(name, r)),
    });
  }
  return histories;
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

/** A confusion matrix as table rows: one per true class, a column per prediction. */
export function confusionRows(
  matrix: number[][],
  names: string[],
): Record<string, string | number>[] {
  return names.map((t, i) => ({
    "true \\ predicted": t,
    ...Object.fromEntries(names.map((p, j) => [p, matrix[i][j]])),
  }));
}

/** Captions for {@linkcode confidentMistakes}: the wrong answer and its probability. */
export function mistakeTitles(mistakes: Mistake[], names: string[]): string[] {
  return mistakes.map((m) =>
    `${names[m.predicted]} ${m.probability.toFixed(2)}`
  );
}

/** {@linkcode compareNormModes} rows formatted for a table. */
export function normModeRows(
  rows: ReturnType<typeof compareNormModes>,
): { statistics: string; batchSize: number; accuracy: string; loss: string }[] {
  return rows.map((r) => ({
    ...r,
    accuracy: percent(r.accuracy),
    loss: r.loss.toFixed(3),
  }));
}

/** Per-layer summary of {@linkcode batchNormAnalysis}: is gamma or beta tied to the bias? */
export interface GammaBetaRow {
  layer: string;
  /** Values per minibatch statistic. */
  m: number;
  "mean std bias": string;
  "mean gamma": string;
  "corr(gamma, std bias)": string;
  "mean |mean bias|": string;
  "corr(beta, mean bias)": string;
}

/**
 * For each layer, in order: the mean bias of the minibatch std and the mean
 * gamma with their correlation across features, then the mean absolute bias
 * of the minibatch mean and its correlation with beta.
 */
export function gammaBetaSummary(units: BatchNormUnit[]): GammaBetaRow[] {
  const layers = [...new Set(units.map((u) => u.layer))];
  return layers.map((layer) => {
    const us = units.filter((u) => u.layer === layer);
    const mean = (f: (u: BatchNormUnit) => number) =>
      us.reduce((s, u) => s + f(u), 0) / us.length;
    const corr = (f: (u: BatchNormUnit) => number, g: typeof f) =>
      correlation(us.map(f), us.map(g)).toFixed(2);
    return {
      layer,
      m: us[0].m,
      "mean std bias": mean((u) => u.stdBias).toFixed(4),
      "mean gamma": mean((u) => u.gamma).toFixed(3),
      "corr(gamma, std bias)": corr((u) => u.gamma, (u) => u.stdBias),
      "mean |mean bias|": mean((u) => Math.abs(u.meanBias)).toFixed(4),
      "corr(beta, mean bias)": corr((u) => u.beta, (u) => u.meanBias),
    };
  });
}

/**
 * {@linkcode loadDogsVsCats} with a progress bar while the images are
 * decoded (a cached run shows it full at once).
 */
export async function loadData(opts: LoadOptions): Promise<DogsVsCats> {
  let bar: Progress | null = null;
  try {
    return await loadDogsVsCats({
      ...opts,
      onProgress: (done, total) => {
        bar ??= progress(total, { label: "preparing images" });
        bar.update(done);
      },
    });
  } finally {
    await (bar as Progress | null)?.close();
  }
}
