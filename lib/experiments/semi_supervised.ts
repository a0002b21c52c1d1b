/**
 * Week 10's experiment: semi-supervised VAEs on MNIST with 100 to 3000
 * labels (the seed's model, Kingma et al.'s M2 and M1+M2, and the same
 * classifiers trained on the labels alone), in pieces a notebook calls cell
 * by cell.
 *
 * Protocol (Kingma et al. 2014's): the labelled images are a class-balanced
 * subset of the first 50,000 training images (lib/data/labelled_subsets.ts),
 * the rest of them the unlabelled pool; the validation error picks the epoch
 * whose weights are kept; the test set is only touched for the final
 * numbers. An epoch is one pass over the unlabelled pool, each step a
 * minibatch of it plus a minibatch of the labelled images (cycled in a
 * fresh seeded order as often as needed).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { evaluationBatches } from "../data/batches.ts";
import { batchTensor, type LabelledImages, subset } from "../data/images.ts";
import {
  labelledBatch,
  type LabelledSplit,
  oneHotLabels,
} from "../data/labelled_subsets.ts";
import { M1, type M1Codes, m1Codes } from "../models/m1.ts";
import { M2 } from "../models/m2.ts";
import {
  classifierOf,
  type CostWeights,
  kingmaWeights,
  type SemiSupervisedModel,
  SSVAE,
} from "../models/ss_vae.ts";
import { recalibrateBatchNorm } from "../nn/batch_norm_model.ts";
import { disposeModule } from "../nn/module.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";
import { trainVAE } from "./ff_vae.ts";
import { WeightAverage } from "../optim/average.ts";
import { makeOptimizer } from "../optim/mod.ts";
import {
  type LearningRateSchedule,
  linearDecay,
  setLearningRate,
} from "../optim/schedule.ts";
import { deriveSeed } from "../random.ts";
import { createRunDir } from "../run_dir.ts";
import { saveRun } from "../runs.ts";
import {
  describeEpoch,
  type EpochRecord,
  fitMinibatches,
  type Metrics,
  trainStep,
} from "../train.ts";

export { KINGMA_2014, kingmaReference } from "./kingma_2014.ts";

/** The bar: test error (fraction) at most `error` for `kind` at `labels`. */
export const TARGETS: readonly {
  kind: ModelKind;
  labels: number;
  error: number;
}[] = [
  { kind: "ss_vae", labels: 100, error: 0.12 },
  { kind: "m2", labels: 100, error: 0.07 },
  { kind: "m2", labels: 1000, error: 0.036 },
  { kind: "m1m2", labels: 100, error: 0.035 },
];

/**
 * One line per target that `runs` measured: the mean test error over the
 * draws, and whether it is within the target.
 */
export function targetVerdicts(runs: RunSummary[]): string[] {
  return TARGETS.flatMap((t) => {
    const mine = runs.filter((r) => r.kind === t.kind && r.labels === t.labels);
    if (mine.length === 0) return [];
    const { mean } = meanStd(mine.map((r) => r.testError));
    const verdict = mean <= t.error ? "reached" : "NOT reached";
    return [
      `${MODEL_NAMES[t.kind]}, ${t.labels} labels: test error ${
        (100 * mean).toFixed(2)
      }% (${mine.length} draw${mine.length > 1 ? "s" : ""}), target <= ${
        (100 * t.error).toFixed(1)
      }%: ${verdict}`,
    ];
  });
}

/** A classifier's error and cross-entropy on a set. */
export interface ClassifierResult {
  /** Fraction misclassified. */
  error: number;
  /** Mean cross-entropy per example, nats. */
  crossEntropy: number;
  /** The predicted class of each example. */
  predictions: Int32Array;
}

/**
 * The classifier of `model` on a whole set, in batches of `batchSize` with
 * `mode`'s batch-norm statistics (population statistics for final numbers).
 */
export function evaluateClassifier(
  model: SemiSupervisedModel,
  set: LabelledImages,
  opts: { batchSize: number; mode: NormMode },
): ClassifierResult {
  const predictions = new Int32Array(set.count);
  let wrong = 0, ce = 0;
  const K = model.config.classes;
  for (
    const idx of evaluationBatches(
      set.count,
      opts.batchSize,
      opts.mode !== "population",
    )
  ) {
    const [logp, pred] = tf.tidy(() => {
      const x = batchTensor(set, idx, { layout: "flat" });
      const l = tf.logSoftmax(model.classLogits(x, opts.mode));
      return [l.dataSync(), tf.argMax(l, 1).dataSync()];
    });
    for (let j = 0; j < idx.length; j++) {
      const label = set.labels[idx[j]];
      predictions[idx[j]] = pred[j];
      if (pred[j] !== label) wrong++;
      ce -= logp[j * K + label];
    }
  }
  return {
    error: wrong / set.count,
    crossEntropy: ce / set.count,
    predictions,
  };
}

/**
 * Early stopping's memory: a copy of `vars` at the evaluation of lowest
 * validation error so far, put back by {@linkcode BestWeights.restore}.
 */
export class BestWeights {
  /** The history row of the lowest validation error (-1 before any). */
  row = -1;
  /** That error. */
  error = Infinity;
  #snap: tf.Tensor[] | null = null;
  #rows = 0;

  constructor(readonly vars: tf.Variable[]) {}

  /**
   * One evaluation row: `model`'s error on `valid` under population
   * statistics, the weights copied when it is the lowest yet.
   */
  validate(model: SemiSupervisedModel, valid: LabelledImages): Metrics {
    const v = evaluateClassifier(model, valid, {
      batchSize: 500,
      mode: "population",
    });
    if (v.error < this.error) {
      for (const t of this.#snap ?? []) t.dispose();
      this.row = this.#rows;
      this.error = v.error;
      this.#snap = this.vars.map((x) => tf.keep(x.clone()));
    }
    this.#rows++;
    return { valid_error: v.error, valid_cross_entropy: v.crossEntropy };
  }

  /** Puts the kept weights back (none kept: nothing changes) and frees the copy. */
  restore(): void {
    if (!this.#snap) return;
    this.vars.forEach((v, i) => v.assign(this.#snap![i]));
    for (const t of this.#snap) t.dispose();
    this.#snap = null;
  }
}

/** The weight average of `decay` (none for undefined or 0). */
function makeAverage(
  variables: tf.Variable[],
  decay: number | undefined,
): WeightAverage | undefined {
  return decay ? new WeightAverage(variables, decay) : undefined;
}

/**
 * `evaluate` with the averaged weights swapped in (so that the batch-norm
 * statistics, the validation error and the copy {@linkcode BestWeights}
 * keeps are the average's), training's weights swapped back after.
 */
async function averaged(
  average: WeightAverage | undefined,
  evaluate: () => Promise<Metrics>,
): Promise<Metrics> {
  if (!average) return evaluate();
  average.swap();
  try {
    return await evaluate();
  } finally {
    average.swap();
  }
}

/** What {@linkcode trainSemiSupervised} and {@linkcode trainSupervised} return. */
export interface TrainResult {
  /** Per epoch: the training metrics (`train_*`) and the validation error. */
  history: EpochRecord[];
  /** The epoch (from 1; fractional for a row inside one) whose weights were kept: the lowest validation error. */
  bestEpoch: number;
  /** Its validation error. */
  bestValidError: number;
  /** Seconds of training, evaluations included. */
  seconds: number;
}

/** Hyperparameters of {@linkcode trainSemiSupervised}. */
export interface TrainSemiSupervisedOptions {
  /** What updates the weights (see lib/optim/mod.ts). */
  optimizer: tf.Optimizer;
  /** Each epoch's step size (lib/optim/schedule.ts); default: the optimizer's own, unchanged. */
  schedule?: LearningRateSchedule;
  /** Evaluate and keep a moving average of the weights with this decay per step ({@linkcode WeightAverage}); default none: the trained weights. */
  averageDecay?: number;
  /** Passes over the unlabelled pool. */
  epochs: number;
  /** Unlabelled images per step. */
  batchSize: number;
  /** Labelled images per step. */
  labelledBatchSize: number;
  /** How the cost weighs its terms; a function gives each epoch's (from 0). */
  weights: CostWeights | ((epoch: number) => CostWeights);
  /** The run's seed: shuffles, labelled batches, each step's noise. */
  seed: number;
  /** Validation images: their error, with population statistics, picks the epoch kept. */
  valid: LabelledImages;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
  /** Progress bar label. */
  label?: string;
  /** Also evaluate (and write a row) every this many steps; default once per epoch. */
  evaluateEvery?: number;
  /** Stop after this many seconds of training; default none (the numbers then depend on the machine's speed). */
  budgetSeconds?: number;
  /**
   * Per training image, the standard deviation of noise added to it at each
   * step, laid out as `train.images` (M1's code std: M2 then trains on codes
   * sampled from `q(z1|x)`); evaluation always sees the images as they are.
   */
  inputStd?: Float32Array;
}

/**
 * Trains a semi-supervised model on `train`'s images, of which only
 * `split.labelled` lend their labels. After each epoch the classifier's
 * batch norm gets exact population statistics over the training images and
 * the validation error is measured with them; the weights of the epoch with
 * the lowest validation error are restored at the end, and the whole
 * model's population statistics recomputed (for generation).
 */
export async function trainSemiSupervised(
  model: SemiSupervisedModel,
  train: LabelledImages,
  split: LabelledSplit,
  opts: TrainSemiSupervisedOptions,
): Promise<TrainResult> {
  const K = model.config.classes;
  const variables = model.trainable();
  const all = [...variables, ...model.state()];
  const nl = split.labelled.length;
  const stepRows = opts.batchSize + opts.labelledBatchSize;
  const best = new BestWeights(all);
  const average = makeAverage(variables, opts.averageDecay);
  const { weights } = opts;
  const weightsOf = typeof weights === "function" ? weights : () => weights;
  const started = performance.now();
  const history = await fitMinibatches({
    epochs: opts.epochs,
    label: opts.label ?? "training",
    count: split.unlabelled.length,
    batchSize: opts.batchSize,
    seed: opts.seed,
    step: (idx, epoch, i) => {
      if (opts.schedule) setLearningRate(opts.optimizer, opts.schedule(epoch));
      const ui = Int32Array.from(idx, (p) => split.unlabelled[p]);
      const li = Int32Array.from(
        labelledBatch(nl, opts.labelledBatchSize, opts.seed, epoch, i),
        (p) => split.labelled[p],
      );
      const seed = deriveSeed(opts.seed, "noise", epoch, i);
      const images = (idx: Int32Array, part: string) => {
        const x = batchTensor(train, idx, { layout: "flat" });
        if (!opts.inputStd) return x;
        const std = batchTensor(
          { ...train, images: opts.inputStd },
          idx,
          { layout: "flat" },
        );
        const eps = randomNormal(x.shape, deriveSeed(seed, "noise", part));
        return tf.add<tf.Tensor2D>(x, tf.mul(std, eps));
      };
      const batch = {
        labelled: { x: images(li, "labelled"), y: oneHotLabels(train, li, K) },
        unlabelled: images(ui, "unlabelled"),
      };
      const { loss, metrics: m } = trainStep(opts.optimizer, variables, () => {
        const c = model.cost(batch, "train", seed, weightsOf(epoch));
        return { loss: c.total, metrics: c.terms };
      });
      average?.update();
      const l = li.length, u = ui.length;
      return {
        cost: loss,
        labelled_error: m.labelled_errors / l,
        labelled_cross_entropy: m.labelled_cross_entropy / l,
        labelled_bound: m.labelled_bound / l,
        unlabelled_bound: m.unlabelled_bound / u,
        count: u,
      };
    },
    evaluate: () =>
      averaged(average, async () => {
        await recalibrateBatchNorm(classifierOf(model), train, {
          batchSize: stepRows,
          seed: opts.seed,
        });
        return best.validate(model, opts.valid);
      }),
    onEpoch: opts.onEpoch,
    evaluateEvery: opts.evaluateEvery,
    budgetSeconds: opts.budgetSeconds,
  }).finally(() => average?.dispose());
  best.restore();
  // The generative half's statistics, for the figures (10,000 images do);
  // then the classifier's again as the kept epoch's evaluation set them, so
  // that the test error is measured as the validation error was.
  await recalibrateBatchNorm(model, train, {
    batchSize: opts.batchSize,
    seed: opts.seed,
    limit: 10_000,
  });
  await recalibrateBatchNorm(classifierOf(model), train, {
    batchSize: stepRows,
    seed: opts.seed,
  });
  return {
    history,
    bestEpoch: history[best.row]?.epoch ?? 0,
    bestValidError: best.error,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Hyperparameters of {@linkcode trainSupervised}. */
export interface TrainSupervisedOptions {
  /** What updates the classifier's weights. */
  optimizer: tf.Optimizer;
  /** Each epoch's step size (lib/optim/schedule.ts); default: the optimizer's own, unchanged. */
  schedule?: LearningRateSchedule;
  /** As {@linkcode TrainSemiSupervisedOptions.averageDecay}. */
  averageDecay?: number;
  /** Passes over the labelled images. */
  epochs: number;
  /** Labelled images per step (at most their number). */
  batchSize: number;
  /** The run's seed (shuffles). */
  seed: number;
  /** Validation images: their error picks the epoch kept. */
  valid: LabelledImages;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
  /** Progress bar label. */
  label?: string;
}

/**
 * The supervised-only baseline: `model`'s classifier trained on the
 * labelled images alone (cross-entropy), its batch norm's population
 * statistics from those images too; the epoch with the lowest validation
 * error is kept.
 */
export async function trainSupervised(
  model: SemiSupervisedModel,
  train: LabelledImages,
  split: LabelledSplit,
  opts: TrainSupervisedOptions,
): Promise<TrainResult> {
  const K = model.config.classes;
  const labelled = subset(train, split.labelled);
  const batchSize = Math.min(opts.batchSize, labelled.count);
  const classifier = classifierOf(model);
  const variables = model.classifierVariables();
  const all = [...variables, ...classifier.state()];
  const best = new BestWeights(all);
  const average = makeAverage(variables, opts.averageDecay);
  const started = performance.now();
  const history = await fitMinibatches({
    epochs: opts.epochs,
    label: opts.label ?? "supervised",
    count: labelled.count,
    batchSize,
    seed: opts.seed,
    step: (idx, epoch) => {
      if (opts.schedule) setLearningRate(opts.optimizer, opts.schedule(epoch));
      const x = batchTensor(labelled, idx, { layout: "flat" });
      const y = oneHotLabels(labelled, idx, K);
      const { loss, metrics } = trainStep(opts.optimizer, variables, () => {
        const logits = model.classLogits(x, "train");
        const ce = tf.sum(tf.neg(tf.mul(y, tf.logSoftmax(logits))));
        const wrong = tf.sum(tf.cast(
          tf.notEqual(tf.argMax(logits, 1), tf.argMax(y, 1)),
          "float32",
        ));
        return {
          loss: ce as tf.Scalar,
          metrics: { wrong: wrong as tf.Scalar },
        };
      });
      average?.update();
      const n = idx.length;
      return {
        labelled_cross_entropy: loss / n,
        labelled_error: metrics.wrong / n,
        count: n,
      };
    },
    evaluate: () =>
      averaged(average, async () => {
        await recalibrateBatchNorm(classifier, labelled, {
          batchSize,
          seed: opts.seed,
        });
        return best.validate(model, opts.valid);
      }),
    onEpoch: opts.onEpoch,
  }).finally(() => average?.dispose());
  best.restore();
  return {
    history,
    bestEpoch: history[best.row]?.epoch ?? 0,
    bestValidError: best.error,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Mean and sample standard deviation (0 for one value). */
export function meanStd(values: number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const v = n > 1
    ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)
    : 0;
  return { mean, std: Math.sqrt(v) };
}

/** The models of the week's table. */
export type ModelKind = "ss_vae" | "m2" | "m1m2" | "supervised";

/** Each kind's name in tables and legends. */
export const MODEL_NAMES: Readonly<Record<ModelKind, string>> = {
  ss_vae: "seed's model",
  m2: "M2",
  m1m2: "M1+M2",
  supervised: "supervised only",
};

/**
 * How a kind's cost is weighted: "kingma" is {@linkcode kingmaWeights}
 * (every example once per epoch; `classWeight` is the factor of
 * `N / N_labelled`, Kingma's 0.1); "batch" weighs every row of a step's
 * batch alike (the seed's sum over the batch, read per row) and
 * `classWeight` is a labelled row's cross-entropy weight.
 */
export type Weighting = "kingma" | "batch";

/** The notebook's parameters that {@linkcode runModel} reads. */
export interface Week10Params {
  /** Unlabelled images per step. */
  batchSize: number;
  /** Labelled images per step. */
  labelledBatchSize: number;
  /** Adam's learning rate, every model. */
  learningRate: number;
  /** Each run's last this many epochs: the rate falls linearly toward 0 ({@linkcode linearDecay}); 0 keeps it constant. */
  lrDecayEpochs: number;
  /** Each model's weights evaluated, kept and tested: their moving average with this decay per step ({@linkcode WeightAverage}); 0: the trained weights. */
  averageDecay: number;
  /** The seed's model: encoder and decoder hidden sizes, code size. */
  ssEncSizes: number[];
  ssDecSizes: number[];
  ssCodeSize: number;
  ssEpochs: number;
  ssWeighting: Weighting;
  ssClassWeight: number;
  /** Weight of the entropy of `y'` in an unlabelled row's cost (0: the seed's cost; see lib/models/ss_vae.ts). */
  ssEntropyWeight: number;
  /** The entropy weight's linear ramp from 0: epoch e (from 0) weighs it `min(1, (e + 1) / ssEntropyRampEpochs)` times; 0: the full weight from the start. */
  ssEntropyRampEpochs: number;
  /** M2 (and M2 of M1+M2): hidden size of each of its three networks, code size. */
  m2Hidden: number;
  m2CodeSize: number;
  m2Epochs: number;
  m2Weighting: Weighting;
  m2ClassWeight: number;
  /** M2 on M1's codes. */
  m1m2Epochs: number;
  m1m2Weighting: Weighting;
  m1m2ClassWeight: number;
  /** The supervised baseline (M2's classifier on the labels alone). */
  supervisedEpochs: number;
}

/** What {@linkcode runModel} needs besides the parameters. */
export interface RunContext {
  /** Images for every kind but M1+M2: train, valid, test. */
  images: {
    train: LabelledImages;
    valid: LabelledImages;
    test: LabelledImages;
  };
  /** M1's codes for M1+M2 (train with its std, valid and test means). */
  codes?: { train: M1Codes; valid: M1Codes; test: M1Codes };
  /** Which training images are labelled. */
  split: LabelledSplit;
  /** The run's seed (one per kind, budget and draw: `deriveSeed(seed, "run", ...)`). */
  seed: number;
  /** Prints each epoch's line; default console.log. */
  log?: (line: string) => void;
}

/** One finished run of {@linkcode runModel}. */
export interface ModelRun {
  /** The trained model, the epoch with the lowest validation error restored. */
  model: SemiSupervisedModel;
  /** Its history and the epoch kept. */
  result: TrainResult;
  /** The test set's numbers, measured once, at the end. */
  test: ClassifierResult;
  /** The table's row. */
  summary: RunSummary;
}

/** One measured run of the table. */
export interface RunSummary {
  /** Which model. */
  kind: ModelKind;
  /** Model name as shown. */
  model: string;
  /** Labelled images. */
  labels: number;
  /** Which labelled draw. */
  draw: number;
  /** Validation error of the epoch kept. */
  validError: number;
  /** Test error of that epoch's weights. */
  testError: number;
  /** The epoch kept. */
  bestEpoch: number;
  /** Epochs trained. */
  epochs: number;
  /** Seconds of training. */
  seconds: number;
}

/** The model `kind` builds for inputs of `inputSize`, initialized from `seed`. */
export function buildSemiSupervisedModel(
  kind: ModelKind,
  params: Week10Params,
  opts: { inputSize: number; seed: number },
): SemiSupervisedModel {
  const { inputSize, seed } = opts;
  if (kind === "ss_vae") {
    return new SSVAE({
      inputSize,
      classes: 10,
      encSizes: params.ssEncSizes,
      decSizes: params.ssDecSizes,
      codeSize: params.ssCodeSize,
      entropyWeight: params.ssEntropyWeight,
      seed,
    });
  }
  const h = [params.m2Hidden];
  return new M2({
    inputSize,
    classes: 10,
    codeSize: params.m2CodeSize,
    classifierSizes: h,
    encoderSizes: h,
    decoderSizes: h,
    seed,
    likelihood: kind === "m1m2" ? "gaussian" : "bernoulli",
  });
}

/** A step's weights for `weighting` (see {@linkcode Weighting}). */
export function stepWeights(
  weighting: Weighting,
  classWeight: number,
  opts: {
    total: number;
    labelled: number;
    batchSize: number;
    labelledBatchSize: number;
  },
): CostWeights {
  if (weighting === "kingma") {
    return kingmaWeights({
      total: opts.total,
      labelledCount: opts.labelled,
      labelledBatch: opts.labelledBatchSize,
      unlabelledBatch: opts.batchSize,
      factor: classWeight,
    });
  }
  if (weighting !== "batch") {
    throw new RangeError(
      `unknown weighting "${weighting}"; use "kingma" or "batch"`,
    );
  }
  const rows = opts.batchSize + opts.labelledBatchSize;
  return {
    labelled: 1 / rows,
    unlabelled: 1 / rows,
    classification: classWeight,
  };
}

/**
 * `weights` with the entropy weight ramped linearly from 0 to `weight` over
 * the first `rampEpochs` epochs (`weight * min(1, (epoch + 1) / rampEpochs)`),
 * so that the classifier learns from the labels before it must commit to a
 * class for every image (the ramp-up of Laine and Aila, "Temporal Ensembling
 * for Semi-Supervised Learning", ICLR 2017, there Gaussian). With no ramp or
 * no weight `weights` come back as they are, the model's config then decides.
 */
export function entropyRamp(
  weights: CostWeights,
  weight: number,
  rampEpochs: number,
): CostWeights | ((epoch: number) => CostWeights) {
  if (rampEpochs === 0 || weight === 0) return weights;
  return (epoch) => ({
    ...weights,
    entropy: weight * Math.min(1, (epoch + 1) / rampEpochs),
  });
}

/**
 * Builds, trains and tests one model of the table (`kind` on `ctx.split`),
 * printing an epoch line as it goes (the labelled error and the validation
 * error among them). The test set is evaluated once, with the weights of
 * the epoch of lowest validation error.
 */
export async function runModel(
  kind: ModelKind,
  params: Week10Params,
  ctx: RunContext,
): Promise<ModelRun> {
  const log = ctx.log ?? console.log;
  const name = `${
    MODEL_NAMES[kind]
  }, ${ctx.split.labels} labels, draw ${ctx.split.draw}`;
  // The baseline's epochs are a step each: print about twenty of them.
  const every = kind === "supervised"
    ? Math.max(1, Math.ceil(params.supervisedEpochs / 20))
    : 1;
  const onEpoch = (row: EpochRecord, history: EpochRecord[]) => {
    if (history.length % every === 0) log(describeEpoch(row, name));
  };
  if (kind === "m1m2" && !ctx.codes) {
    throw new Error("M1+M2 needs M1's codes in ctx.codes; train M1 first");
  }
  const sets = kind === "m1m2"
    ? {
      train: ctx.codes!.train.mean,
      valid: ctx.codes!.valid.mean,
      test: ctx.codes!.test.mean,
    }
    : ctx.images;
  const inputSize = sets.train.width * sets.train.height * sets.train.channels;
  const model = buildSemiSupervisedModel(kind, params, {
    inputSize,
    seed: deriveSeed(ctx.seed, "init", kind),
  });
  const optimizer = makeOptimizer({
    name: "adam",
    learningRate: params.learningRate,
  });
  // At 0 no schedule runs, so the optimizer keeps its rate as before.
  const schedule = (epochs: number) =>
    params.lrDecayEpochs > 0
      ? linearDecay(params.learningRate, {
        epochs,
        decayEpochs: params.lrDecayEpochs,
      })
      : undefined;
  let result: TrainResult;
  let epochs: number;
  try {
    if (kind === "supervised") {
      epochs = params.supervisedEpochs;
      result = await trainSupervised(model, sets.train, ctx.split, {
        optimizer,
        schedule: schedule(epochs),
        averageDecay: params.averageDecay,
        epochs,
        batchSize: params.labelledBatchSize,
        seed: ctx.seed,
        valid: sets.valid,
        onEpoch,
        label: name,
      });
    } else {
      const [weighting, classWeight] = kind === "ss_vae"
        ? [params.ssWeighting, params.ssClassWeight]
        : kind === "m2"
        ? [params.m2Weighting, params.m2ClassWeight]
        : [params.m1m2Weighting, params.m1m2ClassWeight];
      epochs = kind === "ss_vae"
        ? params.ssEpochs
        : kind === "m2"
        ? params.m2Epochs
        : params.m1m2Epochs;
      result = await trainSemiSupervised(model, sets.train, ctx.split, {
        optimizer,
        schedule: schedule(epochs),
        averageDecay: params.averageDecay,
        epochs,
        batchSize: params.batchSize,
        labelledBatchSize: params.labelledBatchSize,
        weights: entropyRamp(
          stepWeights(weighting, classWeight, {
            total: sets.train.count,
            labelled: ctx.split.labelled.length,
            batchSize: params.batchSize,
            labelledBatchSize: params.labelledBatchSize,
          }),
          kind === "ss_vae" ? params.ssEntropyWeight : 0,
          params.ssEntropyRampEpochs,
        ),
        seed: ctx.seed,
        valid: sets.valid,
        onEpoch,
        label: name,
        inputStd: kind === "m1m2" ? ctx.codes!.train.std : undefined,
      });
    }
  } finally {
    optimizer.dispose();
  }
  const test = evaluateClassifier(model, sets.test, {
    batchSize: 500,
    mode: "population",
  });
  log(
    `${name}: epoch ${+result.bestEpoch.toFixed(2)} kept, valid error ${
      (100 * result.bestValidError).toFixed(2)
    }%, test error ${(100 * test.error).toFixed(2)}% (${
      (result.seconds / 60).toFixed(1)
    } min)`,
  );
  return {
    model,
    result,
    test,
    summary: {
      kind,
      model: MODEL_NAMES[kind],
      labels: ctx.split.labels,
      draw: ctx.split.draw,
      validError: result.bestValidError,
      testError: test.error,
      bestEpoch: result.bestEpoch,
      epochs,
      seconds: result.seconds,
    },
  };
}

/** The three MNIST sets. */
export interface Sets {
  train: LabelledImages;
  valid: LabelledImages;
  test: LabelledImages;
}

/** M1 trained for M1+M2, and its codes of the three sets. */
export interface TrainedM1 {
  /** The model (population statistics set). */
  m1: M1;
  /** Its per-epoch costs (`train_*`, `valid_*`). */
  history: EpochRecord[];
  /** Its codes, active units only. */
  codes: ReturnType<typeof m1Codes>;
}

/**
 * Trains Kingma's M1 (`hiddenSizes`, 50 latent units) on the training images
 * without their labels (Adam, `learningRate`, `epochs`), then encodes the
 * three sets (see {@linkcode m1Codes}). Initialized from
 * `deriveSeed(seed, "init", "m1")`.
 */
export async function trainM1(
  sets: Sets,
  opts: {
    hiddenSizes: number[];
    epochs: number;
    batchSize: number;
    learningRate: number;
    seed: number;
    log?: (line: string) => void;
  },
): Promise<TrainedM1> {
  const log = opts.log ?? console.log;
  const m1 = new M1({
    inputSize: sets.train.width * sets.train.height * sets.train.channels,
    hiddenSizes: opts.hiddenSizes,
    codeSize: 50,
    seed: deriveSeed(opts.seed, "init", "m1"),
  });
  const optimizer = makeOptimizer({
    name: "adam",
    learningRate: opts.learningRate,
  });
  let history: EpochRecord[];
  try {
    history = await trainVAE(m1, sets.train, {
      optimizer,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      seed: opts.seed,
      valid: sets.valid,
      onEpoch: (r) => log(describeEpoch(r, "M1")),
    });
  } finally {
    optimizer.dispose();
  }
  const codes = m1Codes(m1, sets, { batchSize: 500 });
  log(
    `M1: ${codes.units.length} of 50 code units active; validation KL ${
      history[history.length - 1].valid_kl.toFixed(1)
    } nats per image`,
  );
  return { m1, history, codes };
}

/** What {@linkcode runTable} returns. */
export interface TableRuns {
  /** One summary per (budget, draw, model), in the order run. */
  summaries: RunSummary[];
  /** Each run's history, named "<model>, <labels>/<draw>". */
  histories: { name: string; history: EpochRecord[] }[];
  /** The first run of each kind (the first budget and draw), model kept. */
  focus: Map<ModelKind, ModelRun>;
}

/**
 * Runs every model `kinds` on every split, in order, each from its own seed
 * (`deriveSeed(seed, "run", kind, labels, draw)`); keeps the first run of
 * each kind whole and the others' numbers (their models are disposed).
 */
export async function runTable(
  kinds: ModelKind[],
  splits: LabelledSplit[],
  params: Week10Params,
  ctx: Omit<RunContext, "split" | "seed"> & { seed: number },
): Promise<TableRuns> {
  const out: TableRuns = { summaries: [], histories: [], focus: new Map() };
  for (const split of splits) {
    for (const kind of kinds) {
      const seed = deriveSeed(ctx.seed, "run", kind, split.labels, split.draw);
      const r = await runModel(kind, params, { ...ctx, split, seed });
      out.summaries.push(r.summary);
      out.histories.push({
        name: `${r.summary.model}, ${split.labels}/${split.draw}`,
        history: r.result.history,
      });
      if (!out.focus.has(kind)) out.focus.set(kind, r);
      else disposeModule(r.model);
    }
  }
  return out;
}

/**
 * Saves each model of `focus` under `<root>/<kind>/model/` (its summary and
 * history in `metrics.json`), and M1, when given, under `<root>/m1/model/`
 * with the code units M1+M2 reads (`units`): an M1+M2 classifier loaded
 * later classifies `encodeFeatures(m1, images, { units }).mean`
 * (lib/models/m1.ts). Returns the folders written, by kind.
 */
export async function saveModels(
  root: string,
  focus: Map<ModelKind, ModelRun>,
  m1?: TrainedM1,
): Promise<Record<string, string>> {
  const written: Record<string, string> = {};
  for (const [kind, r] of focus) {
    const dir = await createRunDir(kind, { root, runId: "model" });
    await saveRun(dir, {
      model: r.model,
      metrics: { summary: r.summary, history: r.result.history },
    });
    written[kind] = dir.path;
  }
  if (m1) {
    const dir = await createRunDir("m1", { root, runId: "model" });
    await saveRun(dir, {
      model: m1.m1,
      metrics: { units: m1.codes.units, history: m1.history },
    });
    written.m1 = dir.path;
  }
  return written;
}
