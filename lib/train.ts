/**
 * The one training loop every week uses: epochs of minibatch steps, a
 * progress bar, an evaluation after each epoch, and a per-epoch history.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { epochMinibatches } from "./data/batches.ts";
import { progress } from "./display/mod.ts";

/**
 * What a step or an evaluation reports: per-example metrics (e.g. `cost`,
 * `accuracy`) and how many examples they cover (`count`), which weights the
 * epoch averages.
 */
export type Metrics = { count?: number } & Record<string, number>;

/** One row of the history: the epoch's mean training metrics and its evaluation. */
export type EpochRecord = {
  epoch: number;
  seconds: number;
} & Record<string, number>;

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Number of epochs. */
  epochs: number;
  /** Number of steps in each epoch (called for every epoch before training starts). */
  steps: (epoch: number) => number;
  /**
   * One training step on batch `i` of `epoch` (run inside `tf.tidy`). Returns
   * the batch's per-example metrics; prefixed `train_` in the history.
   */
  step: (epoch: number, i: number) => Metrics;
  /** Metrics after each epoch, e.g. validation cost; merged into the history. */
  evaluate?: (epoch: number) => Metrics | Promise<Metrics>;
  /** Called with each new history row. */
  onEpoch?: (row: EpochRecord, history: EpochRecord[]) => void;
  /** Progress bar label; false hides the bar. */
  label?: string | false;
}

/**
 * Trains for `epochs` epochs and returns the history, one row per epoch.
 * Throws if a step's metrics turn NaN, naming the epoch, the step and the
 * usual fix.
 */
export async function fit(opts: FitOptions): Promise<EpochRecord[]> {
  const history: EpochRecord[] = [];
  const total = Array.from({ length: opts.epochs }, (_, e) => opts.steps(e));
  const bar = opts.label === false
    ? null
    : progress(total.reduce((a, b) => a + b, 0), {
      label: opts.label ?? "training",
    });
  let done = 0;
  let lastYield = performance.now();
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const t0 = performance.now();
      const sums: Record<string, number> = {};
      let weight = 0;
      for (let i = 0; i < total[epoch]; i++) {
        const m = tf.tidy(() => opts.step(epoch, i));
        const count = m.count ?? 1;
        for (const [k, v] of Object.entries(m)) {
          if (k === "count") continue;
          if (!Number.isFinite(v)) {
            throw new Error(
              `training diverged: ${k} is ${v} at epoch ${epoch + 1}, step ${
                i + 1
              }. Lower the learning rate (or check the data for NaNs).`,
            );
          }
          sums[k] = (sums[k] ?? 0) + v * count;
        }
        weight += count;
        done++;
        const info: Record<string, number | string> = { epoch: epoch + 1 };
        for (const [k, v] of Object.entries(sums)) info[k] = v / weight;
        bar?.update(done, info);
        // Let Jupyter's display messages and timers through now and then.
        if (performance.now() - lastYield > 200) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
      }
      const row = { epoch: epoch + 1 } as EpochRecord;
      for (const [k, v] of Object.entries(sums)) row[`train_${k}`] = v / weight;
      if (opts.evaluate) {
        const { count: _, ...ev } = await opts.evaluate(epoch);
        Object.assign(row, ev);
      }
      row.seconds = (performance.now() - t0) / 1000;
      history.push(row);
      opts.onEpoch?.(row, history);
    }
  } finally {
    await bar?.close();
  }
  return history;
}

/**
 * One optimizer step on `loss()` over `variables`; returns the loss value.
 * The loss tensor is disposed.
 */
export function trainStep(
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  loss: () => tf.Scalar,
): number {
  const value = optimizer.minimize(loss, true, variables)!;
  const v = value.dataSync()[0];
  value.dispose();
  return v;
}

/** Options of {@linkcode fitMinibatches}. */
export interface FitMinibatchesOptions
  extends Omit<FitOptions, "steps" | "step"> {
  /** Number of training examples. */
  count: number;
  /** Minibatch size (a smaller last batch is dropped). */
  batchSize: number;
  /** Seed of the per-epoch shuffles. */
  seed: number;
  /** One training step on the examples `idx` (inside `tf.tidy`). */
  step: (idx: Int32Array, epoch: number) => Metrics;
}

/**
 * {@linkcode fit} over shuffled minibatches of `count` examples: each epoch
 * visits every full batch of a fresh seeded order once.
 */
export function fitMinibatches(
  opts: FitMinibatchesOptions,
): Promise<EpochRecord[]> {
  const { count, batchSize, seed, step, ...rest } = opts;
  // fit() asks for every epoch's step count up front (for the progress bar),
  // so each epoch's order is kept until that epoch has run.
  const orders = new Map<number, Int32Array[]>();
  const order = (epoch: number) => {
    let b = orders.get(epoch);
    if (!b) {
      b = epochMinibatches(count, batchSize, seed, epoch);
      orders.set(epoch, b);
    }
    return b;
  };
  return fit({
    ...rest,
    steps: (epoch) => order(epoch).length,
    step: (epoch, i) => {
      const batches = order(epoch);
      if (i === batches.length - 1) orders.delete(epoch);
      return step(batches[i], epoch);
    },
  });
}
