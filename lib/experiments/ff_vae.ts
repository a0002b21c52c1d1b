/**
 * Week 9's experiment: training and evaluating the feed-forward VAE on MNIST,
 * in pieces a notebook calls cell by cell.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { minibatches } from "../data/batches.ts";
import type { ImageSet } from "../data/mnist.ts";
import { takeRows } from "../data/split.ts";
import type { FFVAE } from "../models/ff_vae.ts";
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

/** Per-example costs of a dataset. */
export interface CostPerExample {
  /** KL + reconstruction, per example. */
  cost: number;
  /** KL term per example. */
  kl: number;
  /** Sum of squared errors per example. */
  reconstruction: number;
}

/** A batch of images as a `[n, pixels]` tensor. */
export function batchTensor(set: ImageSet, idx: Int32Array): tf.Tensor2D {
  const pixels = set.height * set.width;
  return tf.tensor2d(takeRows(set.images, pixels, idx), [idx.length, pixels]);
}

/**
 * The VAE's cost per example over a whole set, in minibatches of
 * `batchSize`, with the given batch-norm mode and a seeded `eps`.
 */
export function evaluateVAE(
  model: FFVAE,
  set: ImageSet,
  opts: { batchSize: number; mode: NormMode; seed: number },
): CostPerExample {
  const rng = new Rng(opts.seed);
  let cost = 0, kl = 0, rec = 0;
  // Minibatch statistics need batches of more than one example.
  const batches = minibatches(
    set.count,
    opts.batchSize,
    undefined,
    opts.mode !== "population" && set.count > opts.batchSize,
  );
  let n = 0;
  for (const idx of batches) {
    const [c, k, r] = tf.tidy(() => {
      const t = model.cost(batchTensor(set, idx), opts.mode, rng.seed());
      return [t.total, t.kl, t.reconstruction].map((s) => s.dataSync()[0]);
    });
    cost += c;
    kl += k;
    rec += r;
    n += idx.length;
  }
  return { cost: cost / n, kl: kl / n, reconstruction: rec / n };
}

/** Hyperparameters of {@linkcode trainVAE}. */
export interface TrainVAEOptions {
  epochs: number;
  batchSize: number;
  /** The seed's learning rate; divided by the batch size (the cost is summed). */
  learningRate: number;
  momentum: number;
  /** Seed of shuffling and of the sampled `eps`. */
  seed: number;
  /** Validation set, evaluated after each epoch (population statistics). */
  valid?: ImageSet;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
}

/**
 * Trains with the seed's SGD + Nesterov momentum. After each epoch the
 * population statistics are re-estimated over the training set and the
 * validation cost is measured with them. Returns the history: per epoch the
 * mean training cost per example (`train_cost`, minibatch statistics, as
 * trained) and `valid_cost`.
 */
export async function trainVAE(
  model: FFVAE,
  train: ImageSet,
  opts: TrainVAEOptions,
): Promise<EpochRecord[]> {
  const rng = new Rng(opts.seed);
  const optimizer = new NesterovMomentum(
    opts.learningRate / opts.batchSize,
    opts.momentum,
  );
  const variables = model.trainable();
  try {
    return await fitMinibatches({
      epochs: opts.epochs,
      label: "training",
      count: train.count,
      batchSize: opts.batchSize,
      seed: opts.seed,
      step: (idx) => {
        const x = batchTensor(train, idx);
        const seed = rng.seed();
        const total = trainStep(
          optimizer,
          variables,
          () => model.cost(x, "train", seed).total,
        );
        return { cost: total / idx.length, count: idx.length };
      },
      evaluate: async (): Promise<Metrics> => {
        await estimateVAEPopulationStats(model, train, opts.batchSize);
        if (!opts.valid) return {};
        const v = evaluateVAE(model, opts.valid, {
          batchSize: opts.batchSize,
          mode: "population",
          seed: opts.seed,
        });
        return {
          valid_cost: v.cost,
          valid_kl: v.kl,
          valid_reconstruction: v.reconstruction,
        };
      },
      onEpoch: opts.onEpoch,
    });
  } finally {
    optimizer.dispose();
  }
}

/**
 * Sets every batch norm's population statistics to exact averages over one
 * pass of `train` in minibatches of `batchSize` (the "fixed point" the seed
 * never finished). The pass samples `eps` so that the decoder's statistics
 * are those it saw in training.
 */
export async function estimateVAEPopulationStats(
  model: FFVAE,
  train: ImageSet,
  batchSize: number,
  seed = 0,
): Promise<void> {
  const batches = minibatches(
    train.count,
    batchSize,
    undefined,
    train.count > batchSize,
  );
  const rng = new Rng(seed);
  await estimatePopulationStats(
    model.batchNorms(),
    batches.length,
    (i) =>
      void model.forward(
        batchTensor(train, batches[i]),
        "minibatch",
        rng.seed(),
      ),
    () => batchSize,
  );
}

/**
 * The seed's `make_paths`: random points in code space joined by straight
 * lines; `segments` legs of `stepsPerSegment` steps each. Returns
 * `[segments * stepsPerSegment, codeSize]` codes for one path.
 */
export function latentPath(
  codeSize: number,
  segments: number,
  stepsPerSegment: number,
  seed: number,
): tf.Tensor2D {
  const rng = new Rng(seed);
  const point = () =>
    Float32Array.from({ length: codeSize }, () => rng.normal());
  const out = new Float32Array(segments * stepsPerSegment * codeSize);
  let start = point();
  let row = 0;
  for (let s = 0; s < segments; s++) {
    const end = point();
    for (let k = 0; k < stepsPerSegment; k++) {
      const w = stepsPerSegment === 1 ? 0 : k / (stepsPerSegment - 1);
      for (let j = 0; j < codeSize; j++) {
        out[row * codeSize + j] = start[j] * (1 - w) + end[j] * w;
      }
      row++;
    }
    start = end;
  }
  return tf.tensor2d(out, [row, codeSize]);
}

/** Decodes `n` codes drawn from the prior N(0, I) with a seed. */
export function sampleVAE(
  model: FFVAE,
  n: number,
  opts: { mode: NormMode; seed: number },
): tf.Tensor2D {
  return tf.tidy(() =>
    model.decode(
      tf.randomNormal([n, model.config.codeSize], 0, 1, "float32", opts.seed),
      opts.mode,
    )
  );
}

/**
 * The test cost per example with population statistics and with minibatch
 * statistics at several batch sizes: how much inference depends on which
 * statistics batch norm uses.
 */
export function compareNormModes(
  model: FFVAE,
  set: ImageSet,
  batchSizes: number[],
  seed: number,
): { statistics: string; batchSize: number; cost: number }[] {
  const rows = [{
    statistics: "population",
    batchSize: batchSizes[batchSizes.length - 1],
    cost: evaluateVAE(model, set, {
      batchSize: batchSizes[batchSizes.length - 1],
      mode: "population",
      seed,
    }).cost,
  }];
  for (const b of batchSizes) {
    rows.push({
      statistics: "minibatch",
      batchSize: b,
      cost: evaluateVAE(model, set, { batchSize: b, mode: "minibatch", seed })
        .cost,
    });
  }
  return rows;
}

/** One line per epoch for the notebook's log. */
export function describeEpoch(row: EpochRecord): string {
  const valid = row.valid_cost === undefined
    ? ""
    : `, valid ${row.valid_cost.toFixed(2)}`;
  return `epoch ${row.epoch}: train ${row.train_cost.toFixed(2)}${valid} ` +
    `per example (${row.seconds.toFixed(1)} s)`;
}
