/**
 * Week 11's experiment: which optimizer brings a VAE to "good samples"
 * soonest in wall-clock time, and what the convolutional VAE costs, in pieces
 * a notebook calls cell by cell. The training itself is Week 9's
 * (lib/experiments/ff_vae.ts `trainVAE`), run for a time budget instead of a
 * number of epochs, with the test cost and the sample score
 * (lib/eval/sample_score.ts) measured along the way.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { LabelledImages } from "../data/images.ts";
import type { SampleScorer } from "../eval/sample_score.ts";
import type { ConvVAE } from "../models/conv_vae.ts";
import type { FFVAE } from "../models/ff_vae.ts";
import type { VAEModel } from "../models/vae.ts";
import {
  makeOptimizer,
  type OptimizerName,
  type OptimizerSpec,
} from "../optim/mod.ts";
import type { EpochRecord } from "../train.ts";
import { sampleVAE, trainVAE } from "./ff_vae.ts";
import type { NamedHistory } from "./rmsprop_conv_vae_figures.ts";

/** Options of {@linkcode trainForTime}. */
export interface TimedTrainingOptions {
  /** Seconds of training (evaluations not counted). */
  budgetSeconds: number;
  batchSize: number;
  /** The run's seed (shuffles, noise, samples). */
  seed: number;
  /** Steps between evaluations. */
  evaluateEvery: number;
  /** Test images whose cost is tracked (population statistics). */
  test: LabelledImages;
  /** Training images of each population-statistics pass (0: all). */
  statsLimit: number;
  /** Scores samples from the prior at each evaluation. */
  scorer: SampleScorer;
  /** Samples per score (the same count everywhere: FID depends on it). */
  sampleCount: number;
  /** Samples kept from each evaluation, for grids of how they looked then; default 100. */
  keepSamples?: number;
  /** Progress bar label. */
  label?: string;
  /** Called with each row. */
  onEpoch?: (row: EpochRecord) => void;
}

/** The first samples scored at one evaluation, in [0, 1]. */
export interface Snapshot {
  /** The row's training step and time. */
  step: number;
  time: number;
  /** `keepSamples * 784` values. */
  samples: Float32Array;
}

/** What {@linkcode trainForTime} returns. */
export interface TimedRun {
  history: EpochRecord[];
  /** One per row, in order. */
  snapshots: Snapshot[];
}

/**
 * The sample score of `n` prior samples of `model`, as history metrics, and
 * the first `keep` samples' values.
 */
export function sampleMetrics(
  model: VAEModel,
  scorer: SampleScorer,
  n: number,
  seed: number,
  keep = 0,
): { metrics: Record<string, number>; kept: Float32Array } {
  const samples = sampleVAE(model, n, { mode: "population", seed });
  try {
    const s = scorer.score(samples);
    const values = samples.dataSync() as Float32Array;
    return {
      metrics: {
        sample_fid: s.fid,
        sample_confidence: s.confidence,
        sample_entropy: s.classEntropy,
      },
      kept: values.slice(0, Math.min(keep, n) * (values.length / n)),
    };
  } finally {
    samples.dispose();
  }
}

/**
 * Trains `model` for `budgetSeconds` of training time, and every
 * `evaluateEvery` steps recalibrates batch norm, measures the test cost
 * (`test_cost`, `test_kl`, `test_reconstruction`) and scores samples
 * (`sample_fid`, `sample_confidence`, `sample_entropy`), keeping the first
 * samples of each evaluation. Each row's `time` is the training time so far,
 * evaluations not counted.
 */
export async function trainForTime(
  model: VAEModel,
  train: LabelledImages,
  optimizer: tf.Optimizer,
  opts: TimedTrainingOptions,
): Promise<TimedRun> {
  const snapshots: Snapshot[] = [];
  const kept: Float32Array[] = [];
  const history = await trainVAE(model, train, {
    optimizer,
    // More epochs than any budget here can use: the budget ends training.
    epochs: 1000,
    batchSize: opts.batchSize,
    seed: opts.seed,
    valid: opts.test,
    evalName: "test",
    statsLimit: opts.statsLimit,
    budgetSeconds: opts.budgetSeconds,
    evaluateEvery: opts.evaluateEvery,
    extraMetrics: () => {
      const s = sampleMetrics(
        model,
        opts.scorer,
        opts.sampleCount,
        opts.seed,
        opts.keepSamples ?? 100,
      );
      kept.push(s.kept);
      return s.metrics;
    },
    label: opts.label,
    onEpoch: (row) => {
      snapshots.push({ step: row.step, time: row.time, samples: kept.pop()! });
      opts.onEpoch?.(row);
    },
  });
  return { history, snapshots };
}

/** One optimizer of {@linkcode raceOptimizers}. */
export interface Contender {
  /** Its name in tables and figures. */
  name: string;
  /** What {@linkcode makeOptimizer} builds. */
  optimizer: OptimizerSpec;
}

/** A contender's run: the trained model, its history and its samples along the way. */
export interface Race extends TimedRun {
  name: string;
  model: VAEModel;
}

/**
 * Trains a fresh model from `build()` (the same seed, so the same initial
 * weights) with each contender's optimizer under the same time budget.
 */
export async function raceOptimizers(
  contenders: Contender[],
  build: () => VAEModel,
  train: LabelledImages,
  opts: Omit<TimedTrainingOptions, "label">,
): Promise<Race[]> {
  const races: Race[] = [];
  for (const { name, optimizer: spec } of contenders) {
    const model = build();
    const optimizer = makeOptimizer(spec);
    try {
      const run = await trainForTime(model, train, optimizer, {
        ...opts,
        label: name,
      });
      races.push({ name, model, ...run });
    } finally {
      optimizer.dispose();
    }
  }
  return races;
}

/**
 * The training time at which the sample score first reached `goodFid` (the
 * first evaluation at or below it), or null if it never did.
 */
export function timeToGood(
  history: EpochRecord[],
  goodFid: number,
): number | null {
  const row = history.find((r) => r.sample_fid <= goodFid);
  return row ? row.time : null;
}

/** The race as a table: per contender its time to "good" and its last row's numbers. */
export function raceRows(races: Race[], goodFid: number): {
  optimizer: string;
  "time to good (s)": string;
  "best FID": string;
  "last FID": string;
  "last test cost": string;
  steps: number;
  "training (s)": number;
}[] {
  return races.map(({ name, history }) => {
    const last = history[history.length - 1];
    const t = timeToGood(history, goodFid);
    const best = Math.min(...history.map((r) => r.sample_fid));
    return {
      optimizer: name,
      "time to good (s)": t === null ? "not reached" : t.toFixed(0),
      "best FID": best.toFixed(2),
      "last FID": last.sample_fid.toFixed(2),
      "last test cost": last.test_cost.toFixed(2),
      steps: last.step,
      "training (s)": Math.round(last.time),
    };
  });
}

/** The samples of the first evaluation that reached `goodFid`, or null. */
export function firstGood(race: TimedRun, goodFid: number): Snapshot | null {
  const i = race.history.findIndex((r) => r.sample_fid <= goodFid);
  return i < 0 ? null : race.snapshots[i];
}

/** The row (an evaluation) with the lowest sample FID. */
export function bestRow(history: EpochRecord[]): EpochRecord {
  return history.reduce((a, b) => (b.sample_fid < a.sample_fid ? b : a));
}

/**
 * Multiply-adds per example of one forward pass of a model's dense and
 * convolution layers (batch norm and activations are a few operations per
 * value and left out). Training costs about three times this: the forward
 * pass and the two products of the backward pass.
 */
export function macsPerExample(model: FFVAE | ConvVAE): number {
  if (model.kind === "ff_vae") {
    return model.layers().reduce(
      (s, l) => s + l.dense.inputs * l.dense.outputs,
      0,
    );
  }
  const c = model.config;
  let side = c.imageSize;
  let macs = 0;
  for (const stage of model.encoderConvs) {
    const k = stage.conv.kernel;
    macs += side * side * k * k * stage.conv.inChannels *
      stage.conv.outChannels;
    side = stage.outputSize(side, side)[0];
  }
  const dense = [
    model.hidden,
    model.muHead,
    model.sigmaHead,
    model.decoderDense,
  ];
  macs += dense.reduce((s, l) => s + l.dense.inputs * l.dense.outputs, 0);
  for (const stage of model.decoderConvs) {
    // Each decoder convolution runs on a depooled (2x, zero-inserted) map;
    // only a quarter of its inputs are not zeros.
    side *= 2;
    const k = stage.conv.kernel;
    macs += side * side * k * k * stage.conv.inChannels *
      stage.conv.outChannels / 4;
  }
  return macs;
}

/** One model's training cost, for {@linkcode speedRows}. */
export interface SpeedInput {
  name: string;
  model: FFVAE | ConvVAE;
  history: EpochRecord[];
  batchSize: number;
}

/**
 * Per model: multiply-adds per example (forward), trainable parameters,
 * training examples per second and seconds per epoch of `trainCount`
 * images (measured: the last row's training time over its steps), and the
 * ratios to the first model.
 */
export function speedRows(runs: SpeedInput[], trainCount: number): {
  model: string;
  "MMACs / example": string;
  parameters: number;
  "examples / s": number;
  "s / epoch": string;
  "MACs ratio": string;
  "time ratio": string;
}[] {
  const stats = runs.map(({ name, model, history, batchSize }) => {
    const last = history[history.length - 1];
    const perExample = last.time / (last.step * batchSize);
    return {
      name,
      macs: macsPerExample(model),
      parameters: model.trainable().reduce((s, v) => s + v.size, 0),
      perExample,
    };
  });
  const [first] = stats;
  return stats.map((s) => ({
    model: s.name,
    "MMACs / example": (s.macs / 1e6).toFixed(1),
    parameters: s.parameters,
    "examples / s": Math.round(1 / s.perExample),
    "s / epoch": (s.perExample * trainCount).toFixed(0),
    "MACs ratio": `${(s.macs / first.macs).toFixed(1)}x`,
    "time ratio": `${(s.perExample / first.perExample).toFixed(1)}x`,
  }));
}

/** Optimizers whose learning rate the seed divided by the batch size (its costs are sums). */
export const PER_EXAMPLE_RATES: readonly string[] = [
  "nesterov",
  "rmsprop-rescaled",
];

/**
 * The race's contenders: each named optimizer with its learning rate (the
 * per-example ones, {@linkcode PER_EXAMPLE_RATES}, divided by `batchSize`)
 * and `momentum` for those that take one.
 */
export function contendersFor(
  names: OptimizerName[],
  rates: Partial<Record<OptimizerName, number>>,
  opts: { batchSize: number; momentum: number },
): Contender[] {
  return names.map((name) => {
    const rate = rates[name];
    if (rate === undefined) {
      throw new RangeError(`no learning rate given for optimizer "${name}"`);
    }
    const perExample = PER_EXAMPLE_RATES.includes(name);
    return {
      name,
      optimizer: {
        name,
        learningRate: perExample ? rate / opts.batchSize : rate,
        momentum: name === "adam" ? undefined : opts.momentum,
      },
    };
  });
}

/**
 * The races in order of merit: first to "good" first, then (never good) by
 * best FID.
 */
export function rankRaces(races: Race[], goodFid: number): Race[] {
  const t = (r: Race) => timeToGood(r.history, goodFid) ?? Infinity;
  return [...races].sort((a, b) =>
    t(a) - t(b) ||
    bestRow(a.history).sample_fid - bestRow(b.history).sample_fid
  );
}

/**
 * `spec` for another batch size: a per-example learning rate is rescaled
 * (the seed's `lr / batchSize`), any other kept.
 */
export function forBatchSize(
  spec: OptimizerSpec,
  from: number,
  to: number,
): OptimizerSpec {
  return PER_EXAMPLE_RATES.includes(spec.name)
    ? { ...spec, learningRate: spec.learningRate * from / to }
    : spec;
}

/**
 * Two runs compared at the same training time: each one's last row at or
 * before the shorter run's end.
 */
export function atSameTime(runs: NamedHistory[]): {
  model: string;
  "training (s)": string;
  "test cost": string;
  FID: string;
}[] {
  const end = Math.min(
    ...runs.map((r) => r.history[r.history.length - 1].time),
  );
  return runs.map(({ name, history }) => {
    const row = history.filter((r) => r.time <= end + 1e-9).at(-1) ??
      history[0];
    return {
      model: name,
      "training (s)": row.time.toFixed(0),
      "test cost": row.test_cost.toFixed(2),
      FID: row.sample_fid.toFixed(1),
    };
  });
}
