/**
 * An exponential moving average of a model's weights, kept beside the
 * weights the optimizer moves, for evaluation: Polyak averaging's
 * exponential form (Polyak and Juditsky, "Acceleration of Stochastic
 * Approximation by Averaging", 1992; Kingma and Ba, "Adam", ICLR 2015,
 * section 7.2, "temporal averaging"). The noise of the last steps averages
 * out of the evaluated weights while training goes on from its own.
 *
 * ```ts
 * const average = new WeightAverage(model.trainable(), 0.999);
 * // after every optimizer step:
 * average.update();
 * // to evaluate the averaged weights, then go back to training's:
 * average.swap();
 * evaluate(model);
 * average.swap();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * The average `a` of each of `vars`, updated after step `n` (from 1) as
 * `a <- d a + (1 - d) w` with `d = min(decay, (1 + n) / (10 + n))`: the
 * `num_updates` rule of TensorFlow's `tf.train.ExponentialMovingAverage`,
 * so that the first steps, which start from the initial weights, do not
 * linger in the average. The average starts as a copy of the weights.
 */
export class WeightAverage {
  /** Steps averaged so far. */
  steps = 0;
  readonly #averages: tf.Variable[];
  #swapped = false;

  /** `decay` in [0, 1): the weight of the past in each update. */
  constructor(readonly vars: tf.Variable[], readonly decay: number) {
    if (!(Number.isFinite(decay) && decay >= 0 && decay < 1)) {
      throw new RangeError(
        `WeightAverage: decay must be in [0, 1), got ${decay}; 0.999 averages over about the last 1000 steps`,
      );
    }
    this.#averages = vars.map((v) => tf.variable(v.clone(), false));
  }

  /** The decay the next {@linkcode WeightAverage.update} uses. */
  nextDecay(): number {
    const n = this.steps + 1;
    return Math.min(this.decay, (1 + n) / (10 + n));
  }

  /** Folds the weights as they are now into the average (after a step). */
  update(): void {
    if (this.#swapped) {
      throw new Error(
        "WeightAverage.update: the averaged weights are swapped in; call swap() again before the next training step",
      );
    }
    const d = this.nextDecay();
    tf.tidy(() => {
      this.vars.forEach((v, i) => {
        const a = this.#averages[i];
        a.assign(tf.add(tf.mul(a, d), tf.mul(v, 1 - d)));
      });
    });
    this.steps++;
  }

  /**
   * Exchanges the weights and their averages in place: the first call puts
   * the averages in the model's variables, the second puts training's
   * weights back, bit for bit.
   */
  swap(): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => {
        const a = this.#averages[i];
        const w = v.clone();
        v.assign(a);
        a.assign(w);
      });
    });
    this.#swapped = !this.#swapped;
  }

  /** Whether the averages are in the model's variables now. */
  get swapped(): boolean {
    return this.#swapped;
  }

  /** Frees the averages. */
  dispose(): void {
    for (const a of this.#averages) a.dispose();
  }
}
