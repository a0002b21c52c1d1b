/**
 * Week 9's experiment: training and evaluating the feed-forward VAE on MNIST,
 * in pieces a notebook calls cell by cell. They take any {@linkcode VAEModel}
 * (Week 11 trains the convolutional VAE with them too).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { evaluationBatches } from "../data/batches.ts";
import { batchTensor, type LabelledImages } from "../data/images.ts";
import type { VAEModel } from "../models/vae.ts";
import { recalibrateBatchNorm } from "../nn/batch_norm_model.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";
import { deriveSeed } from "../random.ts";
import { type Checkpoint, checkpointing } from "../checkpoints.ts";

/** The name of a VAE run's checkpoints (lib/checkpoints.ts). */
export const VAE_CHECKPOINT = "vae";
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
 * `batchSize`, with the given batch-norm mode; batch `b` draws its `eps`
 * from `deriveSeed(seed, "eval", b)`.
 */
export function evaluateVAE(
  model: VAEModel,
  set: LabelledImages,
  opts: { batchSize: number; mode: NormMode; seed: number },
): CostPerExample {
  let cost = 0, kl = 0, rec = 0;
  const batches = evaluationBatches(
    set.count,
    opts.batchSize,
    opts.mode !== "population",
  );
  for (const [b, idx] of batches.entries()) {
    const [c, k, r] = tf.tidy(() => {
      const x = batchTensor(set, idx, { layout: model.inputLayout });
      const seed = deriveSeed(opts.seed, "eval", b);
      const t = model.cost(x, opts.mode, seed);
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
  /** The run's seed: of the shuffles, and of each step's `eps` (`deriveSeed(seed, "noise", epoch, step)`). */
  seed: number;
  /** Evaluated at each row (population statistics), as `<evalName>_cost` etc. */
  valid?: LabelledImages;
  /** The prefix of `valid`'s metrics; default "valid". */
  evalName?: string;
  /** Training images of the population-statistics pass (0 or absent: all). */
  statsLimit?: number;
  /** More metrics at each row, after the recalibration (e.g. a sample score). */
  extraMetrics?: () => Metrics | Promise<Metrics>;
  /** Stop after this many seconds of training (see lib/train.ts `fit`). */
  budgetSeconds?: number;
  /** Also evaluate every this many steps inside an epoch. */
  evaluateEvery?: number;
  /** Progress bar label; default "training"; false hides it. */
  label?: string | false;
  /** Save a checkpoint into the run folder `dir` every `every` epochs (and when stopped). */
  checkpoint?: { dir: string; every: number };
  /** Continue from this checkpoint (lib/checkpoints.ts `loadCheckpoint`). */
  resume?: Checkpoint | null;
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
export async function trainVAE(
  model: VAEModel,
  train: LabelledImages,
  opts: TrainVAEOptions,
): Promise<EpochRecord[]> {
  const variables = model.trainable();
  const name = opts.evalName ?? "valid";
  return fitMinibatches({
    epochs: opts.epochs,
    label: opts.label ?? "training",
    count: train.count,
    batchSize: opts.batchSize,
    seed: opts.seed,
    budgetSeconds: opts.budgetSeconds,
    evaluateEvery: opts.evaluateEvery,
    variables: () => variables,
    ...await checkpointing(
      model,
      opts.optimizer,
      VAE_CHECKPOINT,
      opts.checkpoint,
      opts.resume,
    ),
    step: (idx, epoch, i) => {
      const x = batchTensor(train, idx, { layout: model.inputLayout });
      const seed = deriveSeed(opts.seed, "noise", epoch, i);
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
      await recalibrateBatchNorm(model, train, {
        batchSize: opts.batchSize,
        limit: opts.statsLimit,
        seed: opts.seed,
      });
      const out: Metrics = {};
      if (opts.valid) {
        const v = evaluateVAE(model, opts.valid, {
          batchSize: opts.batchSize,
          mode: "population",
          seed: opts.seed,
        });
        out[`${name}_cost`] = v.cost;
        out[`${name}_kl`] = v.kl;
        out[`${name}_reconstruction`] = v.reconstruction;
      }
      return { ...out, ...(await opts.extraMetrics?.()) };
    },
    onEpoch: opts.onEpoch,
  });
}

/**
 * The seed's `make_paths`: random points in code space joined by straight
 * lines. Returns `paths` paths of `segments` legs of `steps` codes each, one
 * path after another: `[paths * segments * steps, codeSize]`. The points of
 * path `p` are drawn from `deriveSeed(seed, "paths", p)`.
 */
export function latentPaths(
  codeSize: number,
  opts: { paths: number; segments: number; steps: number; seed: number },
): tf.Tensor2D {
  const { paths, segments, steps } = opts;
  const out = new Float32Array(paths * segments * steps * codeSize);
  let row = 0;
  for (let p = 0; p < paths; p++) {
    const points = randomNormal(
      [segments + 1, codeSize],
      deriveSeed(opts.seed, "paths", p),
    );
    const v = points.dataSync();
    points.dispose();
    for (let s = 0; s < segments; s++) {
      for (let k = 0; k < steps; k++) {
        const w = steps === 1 ? 0 : k / (steps - 1);
        for (let j = 0; j < codeSize; j++) {
          const start = v[s * codeSize + j], end = v[(s + 1) * codeSize + j];
          out[row * codeSize + j] = start * (1 - w) + end * w;
        }
        row++;
      }
    }
  }
  return tf.tensor2d(out, [row, codeSize]);
}

/**
 * Decodes `n` codes drawn from the prior N(0, I), from
 * `deriveSeed(seed, "samples")`.
 */
export function sampleVAE(
  model: VAEModel,
  n: number,
  opts: { mode: NormMode; seed: number },
): tf.Tensor {
  return tf.tidy(() =>
    model.decode(
      randomNormal(
        [n, model.config.codeSize],
        deriveSeed(opts.seed, "samples"),
      ) as tf.Tensor2D,
      opts.mode,
    )
  );
}
