/**
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization",
 * algorithm 1):
 *
 * ```
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * param -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 * ```
 *
 * with the paper's defaults beta1 0.9, beta2 0.999, epsilon 1e-8 (t counts
 * this optimizer's steps from 1, as `iterations`; a variable first seen
 * later starts from zero moments with the same global t, as in tfjs and
 * Keras). The same arithmetic as `tf.train.adam` (the tests compare them),
 * but ours rather than tfjs':
 *
 * - one fused {@linkcode ADAM_UPDATE} kernel per variable on the wasm
 *   backends (lib/backend/optimizer_kernels.ts) instead of about a dozen
 *   elementwise kernels, each with a full-size temporary;
 * - the moments are keyed by variable name (tfjs' keys them by position in
 *   the gradient list, so a list in another order or a subset mixes them up);
 * - the bias corrections are computed in float64 per step rather than as
 *   running float32 products, and the state is `<variable>/m`, `<variable>/v`.
 *
 * @module
 */
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import {
  checkFraction,
  checkPositive,
  gradientList,
  hasFusedKernel,
  type NamedTensor,
  runKernel,
  SlottedOptimizer,
} from "./slots.ts";

/**
 * Name of the optional fused kernel `[param', m', v'] = f(param, m, v, grad;
 * learningRate, beta1, beta2, epsilon, step)` (`step` is t, from 1).
 */
export const ADAM_UPDATE = "FusedAdamUpdate";

/** Options of {@linkcode Adam}; the defaults are Kingma & Ba's. */
export interface AdamOptions {
  /** Step size; default 0.001. */
  learningRate?: number;
  /** Decay of the first moment, in [0, 1); default 0.9. */
  beta1?: number;
  /** Decay of the second moment, in [0, 1); default 0.999. */
  beta2?: number;
  /** Added to the root of the second moment, > 0; default 1e-8. */
  epsilon?: number;
}

/** Adam, see the module documentation; a `tf.Optimizer`. */
export class Adam extends SlottedOptimizer<
  "m" | "v"
> {
  /** Registered class name (tfjs' own Adam has "Adam"). */
  static get className(): string {
    return "FusedAdam";
  }

  /** Step size (may be changed between steps). */
  learningRate: number;
  /** Decay of the first moment. */
  beta1: number;
  /** Decay of the second moment. */
  beta2: number;
  /** Added to the root of the second moment. */
  epsilon: number;

  constructor(options: AdamOptions = {}) {
    super(["m", "v"] as const);
    const name = "adam";
    this.learningRate = checkPositive(
      name,
      "learningRate",
      options.learningRate ?? 0.001,
    );
    this.beta1 = checkFraction(name, "beta1", options.beta1 ?? 0.9);
    this.beta2 = checkFraction(name, "beta2", options.beta2 ?? 0.999);
    this.epsilon = checkPositive(name, "epsilon", options.epsilon ?? 1e-8);
  }

  override applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
  ): void {
    const lr = this.learningRate, b1 = this.beta1, b2 = this.beta2;
    const eps = this.epsilon;
    const t = this.iterations + 1;
    const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
    for (const { name, tensor: g } of gradientList(variableGradients)) {
      const { param, slots: s } = this.slots.of(name);
      tf.tidy(() => {
        if (hasFusedKernel(ADAM_UPDATE, g, param)) {
          const [p, m, v] = runKernel(
            ADAM_UPDATE,
            { param, m: s.m, v: s.v, grad: g },
            { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, step: t },
          );
          param.assign(p);
          s.m.assign(m);
          s.v.assign(v);
          return;
        }
        const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2));
        const ratio = tf.div(
          tf.div(m, c1),
          tf.add(tf.sqrt(tf.div(v, c2)), eps),
        );
        param.assign(tf.sub(param, tf.mul(ratio, lr)));
        s.m.assign(m);
        s.v.assign(v);
      });
    }
    this.incrementIterations();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }
}

tf.serialization.registerClass(Adam);
