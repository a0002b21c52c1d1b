/**
 * Batch normalization as a property of a whole network: where its
 * batch-norm layers sit, how to set their population ("fixed point")
 * statistics exactly, and how much inference depends on which statistics it
 * uses. Every model with batch norm implements {@linkcode BatchNormModel}.
 *
 * ```ts
 * await recalibrateBatchNorm(model, data.train, { batchSize: 100 });
 * const rows = compareNormModes((mode, b) => evaluate(model, test, mode, b), [10, 100]);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { minibatches } from "../data/batches.ts";
import {
  batchTensor,
  type ImageLayout,
  type LabelledImages,
} from "../data/images.ts";
import { deriveSeed } from "../random.ts";
import type { BatchNorm, NormTap } from "./batch_norm.ts";
import type { Module, NormMode } from "./module.ts";

/** A batch-norm layer of a network and how many values each example gives it. */
export interface BatchNormSite {
  /** Readable layer name, e.g. "conv0", "fc1" or "enc2". */
  name: string;
  /** The layer. */
  bn: BatchNorm;
  /**
   * Values per feature per example: H*W of the conv output for a conv layer,
   * 1 for a dense layer. A batch of `b` examples gives m = b * this.
   */
  valuesPerExample: number;
}

/** Options of {@linkcode BatchNormModel.forwardPass}. */
export interface ForwardPassOptions {
  /** Seed of any noise the pass draws (a VAE's `eps`). */
  seed?: number;
  /** Sees the input of every batch-norm layer. */
  tap?: NormTap;
}

/** A network with batch norm: what the shared tools below need of it. */
export interface BatchNormModel extends Module {
  /** Every batch-norm layer with its name and values per example, in data order. */
  batchNormSites(): BatchNormSite[];
  /** How the network takes a batch of images. */
  readonly inputLayout: ImageLayout;
  /**
   * The network's forward pass over `x`, as training runs it (a VAE samples
   * its code), but with `mode`'s statistics; the outputs are discarded.
   */
  forwardPass(x: tf.Tensor, mode: NormMode, opts?: ForwardPassOptions): void;
}

/** Options of {@linkcode recalibrateBatchNorm}. */
export interface RecalibrateOptions {
  /** Minibatch size of the pass: the one training used, so m matches. */
  batchSize: number;
  /** Use only the first `limit` images (0 or absent: all). */
  limit?: number;
  /** The run's seed: the noise of batch `i` is `deriveSeed(seed, "recalibration", i)`. */
  seed: number;
}

/**
 * Sets every batch norm's population statistics to exact averages over one
 * pass of `data` in minibatches (Ioffe & Szegedy 2015, Algorithm 2: the mean
 * of the batch means, and the mean of the batch variances times m / (m - 1),
 * m = batch size times the layer's values per example). A smaller last batch
 * is left out, so that every batch has the same m. No-op without batch norm.
 */
export async function recalibrateBatchNorm(
  model: BatchNormModel,
  data: LabelledImages,
  opts: RecalibrateOptions,
): Promise<void> {
  const sites = model.batchNormSites();
  if (sites.length === 0) return;
  const n = opts.limit ? Math.min(opts.limit, data.count) : data.count;
  const batches = minibatches(n, opts.batchSize, undefined, n > opts.batchSize);
  for (const s of sites) s.bn.beginAccumulation();
  try {
    for (let i = 0; i < batches.length; i++) {
      tf.tidy(() => {
        const x = batchTensor(data, batches[i], { layout: model.inputLayout });
        const seed = deriveSeed(opts.seed, "recalibration", i);
        model.forwardPass(x, "minibatch", { seed });
      });
      // Let Jupyter's display messages through now and then.
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 0));
    }
    const m = batches[0].length;
    for (const s of sites) s.bn.endAccumulation(m * s.valuesPerExample);
  } catch (e) {
    for (const s of sites) s.bn.cancelAccumulation();
    throw e;
  }
}

/** One row of {@linkcode compareNormModes}: the statistics, the batch size and the metrics. */
export type NormModeRow<M> = {
  /** "population" or "minibatch". */
  statistics: "population" | "minibatch";
  /** Evaluation batch size (with population statistics it changes only the noise draws). */
  batchSize: number;
} & M;

/**
 * Evaluates with population statistics and with minibatch statistics at each
 * of `batchSizes`: how much inference depends on which statistics batch
 * norm uses. `evaluate(mode, batchSize)` returns the metrics of one
 * evaluation; the population row is evaluated at `populationBatchSize`
 * (default the largest of `batchSizes`) and labelled with it.
 */
export function compareNormModes<M extends Record<string, number>>(
  evaluate: (mode: NormMode, batchSize: number) => M,
  batchSizes: number[],
  opts: { populationBatchSize?: number } = {},
): NormModeRow<M>[] {
  if (batchSizes.length === 0) {
    throw new RangeError("compareNormModes needs at least one batch size");
  }
  const popSize = opts.populationBatchSize ?? Math.max(...batchSizes);
  return [
    {
      statistics: "population",
      batchSize: popSize,
      ...evaluate("population", popSize),
    },
    ...batchSizes.map((b) => ({
      statistics: "minibatch" as const,
      batchSize: b,
      ...evaluate("minibatch", b),
    })),
  ];
}
