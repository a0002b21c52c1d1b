/**
 * Learning-rate schedules: a function from the epoch (from 0) to the step
 * size of that epoch's steps, and {@linkcode setLearningRate} to hand it to
 * an optimizer between steps (any of lib/optim/mod.ts, or tfjs' own).
 *
 * ```ts
 * const rate = linearDecay(0.001, { epochs: 80, decayEpochs: 30 });
 * rate(0); // 0.001, and so on to epoch 49
 * rate(50); // 0.001 (the first decayed epoch: 30 / 30)
 * rate(79); // 0.001 / 30
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";

/** The step size of each epoch, from 0. */
export type LearningRateSchedule = (epoch: number) => number;

/**
 * A constant `learningRate` for the first `epochs - decayEpochs` epochs,
 * then falling linearly over the last `decayEpochs`: epoch
 * `epochs - k` (k = decayEpochs, ..., 1) steps with `learningRate * k /
 * decayEpochs`, so the last one still moves (by `1 / decayEpochs` of the
 * rate). The ladder networks' schedule (Rasmus et al., "Semi-Supervised
 * Learning with Ladder Networks", NIPS 2015: Adam, the rate decayed
 * linearly to zero over the last epochs). `decayEpochs` 0 keeps the rate
 * constant; one over `epochs` decays over all of them.
 */
export function linearDecay(
  learningRate: number,
  opts: { epochs: number; decayEpochs: number },
): LearningRateSchedule {
  if (!(Number.isFinite(learningRate) && learningRate > 0)) {
    throw new RangeError(
      `linearDecay: learningRate must be a positive number, got ${learningRate}`,
    );
  }
  const { epochs } = opts;
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    throw new RangeError(
      `linearDecay: epochs must be a positive integer, got ${epochs}`,
    );
  }
  const { decayEpochs } = opts;
  if (!(Number.isInteger(decayEpochs) && decayEpochs >= 0)) {
    throw new RangeError(
      `linearDecay: decayEpochs must be an integer >= 0, got ${decayEpochs}`,
    );
  }
  const d = Math.min(decayEpochs, epochs);
  return (epoch) => {
    const left = epochs - epoch; // epochs from this one to the end, this one included
    return d === 0 || left > d ? learningRate : learningRate * left / d;
  };
}

/**
 * Sets the step size `optimizer` uses from its next step on. Throws a
 * TypeError, naming the optimizer, when it has no numeric `learningRate`
 * (an optimizer a schedule cannot drive).
 */
export function setLearningRate(
  optimizer: tf.Optimizer,
  learningRate: number,
): void {
  // tfjs declares the field protected. Its SGD and momentum keep the rate
  // in a tensor too, which only their own setLearningRate renews; the rest
  // (ours, tfjs' Adam, RMSProp, ...) read the field at every step.
  const o = optimizer as unknown as {
    learningRate?: unknown;
    setLearningRate?: (rate: number) => void;
  };
  if (typeof o.learningRate !== "number") {
    throw new TypeError(
      `setLearningRate: ${optimizer.getClassName()} has no numeric learningRate field to set; use an optimizer of lib/optim/mod.ts`,
    );
  }
  if (!(Number.isFinite(learningRate) && learningRate > 0)) {
    throw new RangeError(
      `setLearningRate: the rate must be a positive number, got ${learningRate}`,
    );
  }
  if (typeof o.setLearningRate === "function") o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}
