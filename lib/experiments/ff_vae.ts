/**
 * Week 9's experiment: training and evaluating the feed-forward VAE on MNIST,
 * in pieces a notebook calls cell by cell.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { evaluationBatches } from "../data/batches.ts";
import { batchTensor, type LabelledImages } from "../data/images.ts";
import type { FFVAE } from "../models/ff_vae.ts";
import { recalibrateBatchNorm } from "../nn/batch_norm_model.ts";
import type { NormMode } from "../nn/module.ts";
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

/**
 * The VAE's cost per example over a whole set, in minibatches of
 * `batchSize`, with the given batch-norm mode and a seeded `eps`.
 */
export function evaluateVAE(
  model: FFVAE,
  set: LabelledImages,
  opts: { batchSize: number; mode: NormMode; seed: number },
): CostPerExample {
  const rng = new Rng(opts.seed);
  let cost = 0, kl = 0, rec = 0;
  const batches = evaluationBatches(
    set.count,
    opts.batchSize,
    opts.mode !== "population",
  );
  for (const idx of batches) {
    const [c, k, r] = tf.tidy(() => {
      const x = batchTensor(set, idx, { layout: "flat" });
      const t = model.cost(x, opts.mode, rng.seed());
      return [t.total, t.kl, t.reconstruction].map((s) => s.dataSync()[0]);
    });
    cost += c;
    kl += k;
    rec += r;
  }
  const n = set.count;
  return { cost: cost / n, kl: kl / n, reconstruction: rec / n };
}

/** Hyperparameters of {@linkcode trainVAE}. */
export interface TrainVAEOptions {
  /**
   * What updates the weights (see lib/optim/mod.ts). The cost is summed over
   * the batch: give it the seed's learning rate divided by the batch size.
   */
  optimizer: tf.Optimizer;
  epochs: number;
  batchSize: number;
  /** Seed of shuffling and of the sampled `eps`. */
  seed: number;
  /** Validation set, evaluated after each epoch (population statistics). */
  valid?: LabelledImages;
  /** Called with each history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
}

/**
 * Trains on the seed's cost. After each epoch the population statistics are
 * re-estimated over the training set and the validation cost is measured
 * with them. Returns the history: per epoch the mean training cost per
 * example and its terms (`train_cost`, `train_kl`, `train_reconstruction`;
 * minibatch statistics, as trained) and the same on validation
 * (`valid_cost`, ...).
 */
export function trainVAE(
  model: FFVAE,
  train: LabelledImages,
  opts: TrainVAEOptions,
): Promise<EpochRecord[]> {
  const rng = new Rng(opts.seed);
  const variables = model.trainable();
  return fitMinibatches({
    epochs: opts.epochs,
    label: "training",
    count: train.count,
    batchSize: opts.batchSize,
    seed: opts.seed,
    step: (idx) => {
      const x = batchTensor(train, idx, { layout: "flat" });
      const seed = rng.seed();
      const { loss, metrics } = trainStep(opts.optimizer, variables, () => {
        const { total, kl, reconstruction } = model.cost(x, "train", seed);
        return { loss: total, metrics: { kl, reconstruction } };
      });
      const n = idx.length;
      return {
        cost: loss / n,
        kl: metrics.kl / n,
        reconstruction: metrics.reconstruction / n,
        count: n,
      };
    },
    evaluate: async (): Promise<Metrics> => {
      await recalibrateBatchNorm(model, train, { batchSize: opts.batchSize });
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
