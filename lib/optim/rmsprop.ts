/**
 * RMSProp that divides by the RMS: the corrected counterpart of the seed's
 * rescaling RMSProp (lib/optim/rmsprop_rescaled.ts, which computes an RMS and
 * never uses it). This is the centred form with momentum of Graves (2013),
 * "Generating Sequences with Recurrent Neural Networks", eqs. 38-41:
 *
 * ```
 * n     = decay * n + (1 - decay) * g^2          (38)
 * gbar  = decay * gbar + (1 - decay) * g         (39)
 * delta = momentum * delta - lr * g / sqrt(n - gbar^2 + epsilon)   (40)
 * w    += delta                                  (41)
 * ```
 *
 * with Graves' values as defaults: decay 0.95, momentum 0.9, learning rate
 * 1e-4, epsilon 1e-4. `n - gbar^2` is a variance, never negative in exact
 * arithmetic; it is clamped at 0 before epsilon is added so float32 rounding
 * cannot make the square root NaN (with Graves' epsilon this changes nothing
 * unless the rounding error exceeds 1e-4).
 *
 * **Momentum: plain, as Graves, by default.** Eq. 40-41 is classical
 * momentum on the normalized gradient `s = lr * g / sqrt(...)`; that is the
 * published, tested recipe, so it is the default. `nesterov: true` instead
 * takes the seed's look-ahead step (lib/optim/nesterov.ts) on the same `s`,
 * `w += momentum * delta' - s` with `delta' = momentum * delta - s`, which is
 * what the seed's rmsprop would have been had it divided by its RMS: useful to
 * compare with "rmsprop-rescaled" with only the normalization changed.
 *
 * The step is invariant to the scale of the gradient (while the variance
 * dominates epsilon), so a cost summed over the batch needs no
 * `learningRate / batchSize` as the seed's optimizers do: dividing would
 * shrink every step by that factor. Pass the step size you want.
 *
 * On the wasm backends a step is one fused {@linkcode RMSPROP_UPDATE}
 * kernel per variable (lib/backend/optimizer_kernels.ts); elsewhere tf ops.
 *
 * @module
 */
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import {
  checkBoolean,
  checkFraction,
  checkPositive,
  gradientList,
  hasFusedKernel,
  type NamedTensor,
  runKernel,
  SlottedOptimizer,
} from "./slots.ts";

/**
 * Name of the optional fused kernel `[param', meanSquare', meanGrad',
 * delta'] = f(param, meanSquare, meanGrad, delta, grad; learningRate, decay,
 * momentum, epsilon, nesterov)`: the update above for one variable.
 */
export const RMSPROP_UPDATE = "CenteredRMSPropUpdate";

/** Options of {@linkcode CenteredRMSProp}; the defaults are Graves'. */
export interface CenteredRMSPropOptions {
  /** Step size (Graves' ℷ); default 1e-4. */
  learningRate?: number;
  /** Decay of the running averages n and gbar, in [0, 1) (Graves' ℵ); default 0.95. */
  decay?: number;
  /** Momentum coefficient in [0, 1) (Graves' ℶ); default 0.9. */
  momentum?: number;
  /** Added to the variance under the square root, > 0 (Graves' ℸ); default 1e-4. */
  epsilon?: number;
  /** Take the seed's Nesterov look-ahead step instead of Graves' plain momentum; default false. */
  nesterov?: boolean;
}

/** Centred RMSProp with momentum (Graves 2013); see the module documentation. */
export class CenteredRMSProp extends SlottedOptimizer<
  "mean_square" | "mean_grad" | "delta"
> {
  /** Registered class name (for serialization). */
  static get className(): string {
    return "CenteredRMSProp";
  }

  /** Step size (may be changed between steps). */
  learningRate: number;
  /** Decay of the running averages. */
  decay: number;
  /** Momentum coefficient. */
  momentum: number;
  /** Added under the square root. */
  epsilon: number;
  /** Nesterov look-ahead step instead of plain momentum. */
  nesterov: boolean;

  constructor(options: CenteredRMSPropOptions = {}) {
    super(["mean_square", "mean_grad", "delta"] as const);
    const name = "rmsprop";
    this.learningRate = checkPositive(
      name,
      "learningRate",
      options.learningRate ?? 1e-4,
    );
    this.decay = checkFraction(name, "decay", options.decay ?? 0.95);
    this.momentum = checkFraction(name, "momentum", options.momentum ?? 0.9);
    this.epsilon = checkPositive(name, "epsilon", options.epsilon ?? 1e-4);
    this.nesterov = checkBoolean(name, "nesterov", options.nesterov ?? false);
  }

  override applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
  ): void {
    const lr = this.learningRate, d = this.decay, m = this.momentum;
    const eps = this.epsilon, nesterov = this.nesterov;
    for (const { name, tensor: g } of gradientList(variableGradients)) {
      const { param, slots: s } = this.slots.of(name);
      tf.tidy(() => {
        if (hasFusedKernel(RMSPROP_UPDATE, g, param)) {
          const [p, ms, mg, delta] = runKernel(RMSPROP_UPDATE, {
            param,
            meanSquare: s.mean_square,
            meanGrad: s.mean_grad,
            delta: s.delta,
            grad: g,
          }, {
            learningRate: lr,
            decay: d,
            momentum: m,
            epsilon: eps,
            nesterov,
          });
          param.assign(p);
          s.mean_square.assign(ms);
          s.mean_grad.assign(mg);
          s.delta.assign(delta);
          return;
        }
        const ms = tf.add(
          tf.mul(s.mean_square, d),
          tf.mul(tf.square(g), 1 - d),
        );
        const mg = tf.add(tf.mul(s.mean_grad, d), tf.mul(g, 1 - d));
        const variance = tf.relu(tf.sub(ms, tf.square(mg)));
        const step = tf.div(tf.mul(g, lr), tf.sqrt(tf.add(variance, eps)));
        const delta = tf.sub(tf.mul(s.delta, m), step);
        param.assign(
          nesterov
            ? tf.add(param, tf.sub(tf.mul(delta, m), step))
            : tf.add(param, delta),
        );
        s.mean_square.assign(ms);
        s.mean_grad.assign(mg);
        s.delta.assign(delta);
      });
    }
    this.incrementIterations();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      decay: this.decay,
      momentum: this.momentum,
      epsilon: this.epsilon,
      nesterov: this.nesterov,
    };
  }
}

tf.serialization.registerClass(CenteredRMSProp);
