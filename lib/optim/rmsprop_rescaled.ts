/**
 * The seed's `rmsprop` ("RMSProp with nesterov momentum and gradient
 * rescaling", optimizers.py of kastnerkyle/ift6266h15), reproduced with its
 * quirks. Per step, over all the step's gradients together:
 *
 * ```
 * norm = sqrt(sum over every gradient of sum(g^2))
 * if norm is NaN or Inf:  g = 0.1 * param           (every variable)
 * else:                   g = g * 5 / max(5, sqrt(norm))
 * running_square = 0.9 running_square + 0.1 g^2
 * running_avg    = 0.9 running_avg + 0.1 g
 * update = m * memory - lr * g
 * param += m * m * memory - (1 + m) * lr * g         (= m * update - lr * g)
 * memory = update
 * ```
 *
 * Quirks, kept on purpose:
 *
 * - **The double square root.** The value compared with `rescale` (5) is
 *   the square root of the gradient norm, not the norm: gradients whose
 *   global norm is at most 25 pass unchanged, and a norm N > 25 becomes
 *   `5 sqrt(N)` (100 becomes 50, 10000 becomes 500). It is a soft rescaling,
 *   not a clip to norm 5.
 * - **The shrink branch.** A non-finite norm (an Inf or NaN anywhere in any
 *   gradient, or squares that overflow float32, as the seed's float32 Theano
 *   graph overflowed) replaces every gradient by `0.1 * param`: the step then
 *   decays the parameters toward zero through the usual momentum update.
 * - **The unused RMS.** The seed computes
 *   `rms = max(sqrt(running_square - running_avg^2), 1e-4)` and never divides
 *   by it, so the update is Nesterov SGD (lib/optim/nesterov.ts) on the
 *   rescaled gradient. Theano prunes a value no update uses, so the seed never
 *   evaluated it either; we do not compute it. The running square and
 *   average themselves are kept, updated exactly as the seed's shared
 *   variables were: for fidelity of the optimizer's state, and so
 *   {@linkcode RescaledRMSProp.getWeights} can show them (or a corrected
 *   variant read them). They change nothing in the parameters; the fused
 *   kernel updates them in the same pass, so they cost memory more than time.
 *   The corrected optimizer, which divides by an RMS, is lib/optim/rmsprop.ts.
 *
 * The seed passed `learningRate / batchSize` (its costs are sums over the
 * batch); do the same.
 *
 * On the wasm backends a step is one {@linkcode SUM_OF_SQUARES} kernel per
 * gradient, one `AddN` and a single read of the total (the scale must be known
 * before any update), then one fused {@linkcode RESCALED_RMSPROP_UPDATE} per
 * variable (lib/backend/optimizer_kernels.ts); elsewhere tf ops do the same.
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
 * Name of the optional kernel `sum(x^2)` of float32 `x`, a float32 scalar
 * (squares in float32, summed in float64, rounded once).
 */
export const SUM_OF_SQUARES = "SumOfSquares";

/**
 * Name of the optional fused kernel `[param', memory', runningSquare',
 * runningAvg'] = f(param, memory, runningSquare, runningAvg, grad;
 * learningRate, momentum, scale, shrink)`: the update above for one variable
 * with the gradient `scale * grad`, or `0.1 * param` when `shrink`.
 */
export const RESCALED_RMSPROP_UPDATE = "RescaledRMSPropUpdate";

/** The seed's "combination_coeff" of the running square and average. */
const DECAY = 0.9;
/** The gradient that replaces a non-finite one is this times the parameter. */
const SHRINK = 0.1;

/** How one step treats its gradients; see {@linkcode seedGradientScale}. */
export interface RescaleStep {
  /** The global gradient norm `sqrt(sum g^2)` (NaN or Inf when shrinking). */
  norm: number;
  /** True when the norm is not finite: every gradient becomes `0.1 * param`. */
  shrink: boolean;
  /** The factor on every gradient, `rescale / max(rescale, sqrt(norm))`; 0 when shrinking. */
  scale: number;
}

/**
 * The seed's treatment of a step whose gradients' squares sum to
 * `sumOfSquares`: shrink when the norm is not finite, otherwise scale by
 * `rescale / max(rescale, sqrt(norm))` (note the second square root).
 */
export function seedGradientScale(
  sumOfSquares: number,
  rescale = 5,
): RescaleStep {
  const norm = Math.sqrt(sumOfSquares);
  if (!Number.isFinite(norm)) return { norm, shrink: true, scale: 0 };
  return {
    norm,
    shrink: false,
    scale: rescale / Math.max(rescale, Math.sqrt(norm)),
  };
}

/**
 * `sum(g^2)` over every gradient, one number read back: the
 * {@linkcode SUM_OF_SQUARES} kernel per gradient where the backend has it
 * (else `sum(square(g))`), then one `addN`, all float32 like the seed's graph.
 */
export function globalSumOfSquares(grads: readonly tf.Tensor[]): number {
  if (grads.length === 0) return 0;
  const total = tf.tidy(() => {
    const sums = grads.map((g) => {
      const x = g.dtype === "float32" ? g : tf.cast(g, "float32");
      return hasFusedKernel(SUM_OF_SQUARES, x)
        ? tf.engine().runKernel(SUM_OF_SQUARES, { x }, {}) as tf.Tensor
        : tf.sum(tf.square(x));
    });
    return sums.length === 1 ? sums[0] : tf.addN(sums);
  });
  try {
    return total.dataSync()[0];
  } finally {
    total.dispose();
  }
}

/** Options of {@linkcode RescaledRMSProp}. */
export interface RescaledRMSPropOptions {
  /** Step size, used as given (the seed: `learningRate / batchSize`). */
  learningRate: number;
  /** Nesterov momentum coefficient in [0, 1); default 0.9. */
  momentum?: number;
  /** The seed's `rescale`: gradients are scaled by `rescale / max(rescale, sqrt(norm))`; default 5. */
  rescale?: number;
}

/**
 * The seed's rescaling RMSProp (see the module documentation for the rule
 * and its quirks): a `tf.Optimizer`, so it plugs into `minimize`.
 */
export class RescaledRMSProp extends SlottedOptimizer<
  "memory" | "running_square" | "running_avg"
> {
  /** Registered class name (for serialization). */
  static get className(): string {
    return "RescaledRMSProp";
  }

  /** Step size (may be changed between steps). */
  learningRate: number;
  /** Momentum coefficient. */
  momentum: number;
  /** The rescaling threshold (on the square root of the norm). */
  rescale: number;
  /** How the last step treated its gradients (null before the first). */
  lastStep: RescaleStep | null = null;

  constructor(options: RescaledRMSPropOptions) {
    super(["memory", "running_square", "running_avg"] as const);
    const name = "rmsprop-rescaled";
    this.learningRate = checkPositive(
      name,
      "learningRate",
      options.learningRate,
    );
    this.momentum = checkFraction(name, "momentum", options.momentum ?? 0.9);
    this.rescale = checkPositive(name, "rescale", options.rescale ?? 5);
  }

  override applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
  ): void {
    const list = gradientList(variableGradients);
    // The scale needs every gradient of the step before any update.
    const step = seedGradientScale(
      globalSumOfSquares(list.map(({ tensor }) => tensor)),
      this.rescale,
    );
    if (list.length > 0) this.lastStep = step;
    const lr = this.learningRate, m = this.momentum;
    for (const { name, tensor: g } of list) {
      const { param, slots: s } = this.slots.of(name);
      tf.tidy(() => {
        if (hasFusedKernel(RESCALED_RMSPROP_UPDATE, g, param)) {
          const [p, mem, sq, avg] = runKernel(RESCALED_RMSPROP_UPDATE, {
            param,
            memory: s.memory,
            runningSquare: s.running_square,
            runningAvg: s.running_avg,
            grad: g,
          }, {
            learningRate: lr,
            momentum: m,
            scale: step.scale,
            shrink: step.shrink,
          });
          param.assign(p);
          s.memory.assign(mem);
          s.running_square.assign(sq);
          s.running_avg.assign(avg);
          return;
        }
        const grad = step.shrink
          ? tf.mul(param, SHRINK)
          : step.scale === 1
          ? g
          : tf.mul(g, step.scale);
        s.running_square.assign(tf.add(
          tf.mul(s.running_square, DECAY),
          tf.mul(tf.square(grad), 1 - DECAY),
        ));
        s.running_avg.assign(
          tf.add(tf.mul(s.running_avg, DECAY), tf.mul(grad, 1 - DECAY)),
        );
        const lrg = tf.mul(grad, lr);
        const update = tf.sub(tf.mul(s.memory, m), lrg);
        param.assign(tf.add(param, tf.sub(tf.mul(update, m), lrg)));
        s.memory.assign(update);
      });
    }
    this.incrementIterations();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      momentum: this.momentum,
      rescale: this.rescale,
    };
  }
}

tf.serialization.registerClass(RescaledRMSProp);
