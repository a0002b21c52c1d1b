/**
 * Batch normalization as the seed wrote it, finished with the population
 * ("fixed point") statistics the seed never got to.
 *
 * Training normalizes with the minibatch mean and standard deviation:
 * `y = gamma * (x - mean) / (std + eps) + beta`, `std` the biased (divide by
 * m) standard deviation and `eps = 1e-6` added to the std, not the variance.
 * Inference uses population estimates of mean and variance instead, kept two
 * ways: an exponential moving average updated by every training step, and an
 * exact average over a pass of the training set (`recalibrateBatchNorm` in
 * lib/nn/batch_norm_model.ts, Algorithm 2 of Ioffe & Szegedy 2015: the mean
 * of the batch means, and the mean of the batch variances times m / (m - 1)).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { activate, type Activation } from "./activations.ts";
import { type Module, type NormMode, uniqueName } from "./module.ts";

/**
 * Kernel name of training-mode `act(BN(x + bias))` fused into one pass:
 * inputs `x`, `gamma`, `beta` and optionally `bias`; attributes
 * {@linkcode BatchNormActAttrs}; outputs `[y, mean, variance, scale, shift]`
 * (batch mean of `x + bias`, biased variance, and the per-feature factors of
 * `z = x * scale + shift` before the activation, which the gradient reuses). Backends that register it (lib/backend/
 * batch_norm_kernels.ts for wasm) make {@linkcode batchNormActivation} fast.
 */
export const BATCH_NORM_ACT_TRAIN = "BatchNormActTrain";
/**
 * Kernel name of the gradient of {@linkcode BATCH_NORM_ACT_TRAIN}: inputs
 * `dy`, `x`, `y`, `mean`, `variance`, `scale`, `shift` and optionally `bias`;
 * outputs `[dx, dgamma, dbeta, dbias]`.
 */
export const BATCH_NORM_ACT_GRAD = "BatchNormActGrad";

/**
 * Kernel name of the moving-average update of the population statistics, in
 * one call instead of six: inputs `popMean`, `popVar`, `mean`, `variance`;
 * attributes `momentum` (a) and `unbiased` (m / (m - 1)); outputs
 * `[(1 - a) popMean + a mean, (1 - a) popVar + a unbiased variance]`.
 */
export const BATCH_NORM_MOVING_AVERAGES = "BatchNormMovingAverages";

/** Attributes of the fused batch-norm kernels. */
export interface BatchNormActAttrs {
  /** Added to the standard deviation. */
  epsilon: number;
  /** Activation applied after the affine transform. */
  activation: Activation;
}

/**
 * Called with the input of a batch-norm layer (the preceding bias added,
 * before normalization) during a forward pass, e.g. to collect minibatch
 * statistics; `bn` says which layer.
 */
export type NormTap = (bn: BatchNorm, input: tf.Tensor) => void;

/** What {@linkcode BatchNorm.apply} may fuse around the normalization. */
export interface BatchNormApplyOptions {
  /** A per-feature bias added before normalizing (the preceding layer's). */
  bias?: tf.Tensor;
  /** Activation after normalizing; default "linear". */
  activation?: Activation;
  /** Sees the layer's input first. */
  tap?: NormTap;
}

/** Options for {@linkcode BatchNorm}. */
export interface BatchNormOptions {
  /** Added to the standard deviation; default 1e-6 as in the seed. */
  epsilon?: number;
  /** Weight of the newest batch in the moving averages; default 0.1. */
  momentum?: number;
  /** Variable name prefix. */
  name?: string;
}

/**
 * Batch normalization over every axis but the last: features of a dense
 * layer (`[batch, features]`) or channels of an NHWC convolution.
 */
export class BatchNorm implements Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  /** Population mean estimate used in "population" mode. */
  readonly popMean: tf.Variable;
  /** Population variance estimate used in "population" mode. */
  readonly popVar: tf.Variable;
  readonly epsilon: number;
  readonly momentum: number;
  #sums: { mean: tf.Tensor; variance: tf.Tensor; batches: number } | null =
    null;

  constructor(readonly features: number, opts: BatchNormOptions = {}) {
    const name = opts.name ?? "bn";
    this.epsilon = opts.epsilon ?? 1e-6;
    this.momentum = opts.momentum ?? 0.1;
    this.gamma = tf.variable(
      tf.ones([features]),
      true,
      uniqueName(`${name}_g`),
    );
    this.beta = tf.variable(
      tf.zeros([features]),
      true,
      uniqueName(`${name}_b`),
    );
    this.popMean = tf.variable(
      tf.zeros([features]),
      false,
      uniqueName(`${name}_mean`),
    );
    this.popVar = tf.variable(
      tf.ones([features]),
      false,
      uniqueName(`${name}_var`),
    );
  }

  /**
   * `activation(BN(x + bias))` (last axis = features) in the given mode;
   * without options, plain `BN(x)`.
   */
  apply<T extends tf.Tensor>(
    x: T,
    mode: NormMode,
    opts: BatchNormApplyOptions = {},
  ): T {
    const activation = opts.activation ?? "linear";
    opts.tap?.(this, opts.bias ? tf.add(x, opts.bias) : x);
    if (mode === "population") {
      const h = opts.bias ? tf.add(x, opts.bias) : x;
      const scale = tf.div(
        this.gamma,
        tf.add(tf.sqrt(this.popVar), this.epsilon),
      );
      return activate(
        tf.add(tf.mul(tf.sub(h, this.popMean), scale), this.beta),
        activation,
      ) as T;
    }
    const m = x.size / this.features;
    const { y, mean, variance } = batchNormActivation(
      x,
      this.gamma,
      this.beta,
      { epsilon: this.epsilon, activation, bias: opts.bias },
    );
    if (mode === "train") this.#updateMovingAverages(mean, variance, m);
    if (this.#sums) this.#accumulate(mean, variance);
    mean.dispose();
    variance.dispose();
    return y as T;
  }

  #updateMovingAverages(mean: tf.Tensor, variance: tf.Tensor, m: number) {
    const attrs = {
      momentum: this.momentum,
      unbiased: m > 1 ? m / (m - 1) : 1,
    };
    let next: tf.Tensor[];
    if (tf.getKernel(BATCH_NORM_MOVING_AVERAGES, tf.getBackend())) {
      next = tf.engine().runKernel(BATCH_NORM_MOVING_AVERAGES, {
        popMean: this.popMean,
        popVar: this.popVar,
        mean,
        variance,
      }, attrs) as tf.Tensor[];
    } else {
      const a = attrs.momentum;
      next = [
        tf.add(tf.mul(this.popMean, 1 - a), tf.mul(mean, a)),
        tf.add(
          tf.mul(this.popVar, 1 - a),
          tf.mul(variance, a * attrs.unbiased),
        ),
      ];
    }
    // assign() shares the new tensor's data, so the surrounding tidy may
    // dispose the handle safely.
    this.popMean.assign(next[0]);
    this.popVar.assign(next[1]);
  }

  #accumulate(mean: tf.Tensor, variance: tf.Tensor) {
    const s = this.#sums!;
    const newMean = tf.keep(tf.add(s.mean, mean));
    const newVar = tf.keep(tf.add(s.variance, variance));
    s.mean.dispose();
    s.variance.dispose();
    s.mean = newMean;
    s.variance = newVar;
    s.batches++;
  }

  /** Starts summing minibatch statistics (see `recalibrateBatchNorm`). */
  beginAccumulation(): void {
    this.#discardSums();
    this.#sums = {
      mean: tf.zeros([this.features]),
      variance: tf.zeros([this.features]),
      batches: 0,
    };
  }

  /**
   * Sets the population statistics to the averages summed since
   * {@linkcode beginAccumulation}; `m` is the number of values each batch
   * statistic was computed over (batch size, times H*W for convolutions).
   */
  endAccumulation(m: number): void {
    const s = this.#sums;
    if (!s) throw new Error("endAccumulation() without beginAccumulation()");
    if (s.batches > 0) {
      const unbiased = m > 1 ? m / (m - 1) : 1;
      tf.tidy(() => {
        this.popMean.assign(tf.div(s.mean, s.batches));
        this.popVar.assign(tf.mul(tf.div(s.variance, s.batches), unbiased));
      });
    }
    this.#discardSums();
  }

  /** Stops summing without changing the population statistics. */
  cancelAccumulation(): void {
    this.#discardSums();
  }

  #discardSums() {
    if (!this.#sums) return;
    this.#sums.mean.dispose();
    this.#sums.variance.dispose();
    this.#sums = null;
  }

  trainable(): tf.Variable[] {
    return [this.gamma, this.beta];
  }

  state(): tf.Variable[] {
    return [this.popMean, this.popVar];
  }
}

/**
 * `gamma * (x - mean) / (std + eps) + beta` with the minibatch's mean and
 * biased std over every axis but the last, as one differentiable op whose
 * gradient is the closed form:
 * `dx = scale * (dy - mean(dy) - xc * mean(dy * xc) / (d * std))` with
 * `xc = x - mean`, `d = std + eps` and `scale = gamma / d`. Autodiff through
 * the separate ops gives the same values with about three times as many
 * kernel calls, which dominate a step on the wasm backend. Also returns the
 * batch mean and (biased) variance, which the caller must dispose.
 */
export function normalizeWithBatchStats(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = x.shape.map((_, i) => i).slice(0, -1);
  const m = x.size / x.shape[x.shape.length - 1];
  let stats: [tf.Tensor, tf.Tensor] | null = null;
  const op = tf.customGrad((xIn, gIn, bIn, save) => {
    const [xv, g, b] = [xIn, gIn, bIn] as tf.Tensor[];
    const mean = tf.mean(xv, axes);
    const xc = tf.sub(xv, mean);
    const variance = tf.mean(tf.square(xc), axes);
    const std = tf.sqrt(variance);
    const d = tf.add(std, eps);
    const scale = tf.div(g, d);
    stats = [tf.keep(mean), tf.keep(variance)];
    (save as tf.GradSaveFunc)([xc, std, d, scale]);
    return {
      value: tf.add(tf.mul(xc, scale), b),
      gradFunc: (dyIn, saved) => {
        const dy = dyIn as tf.Tensor;
        const [xc, std, d, scale] = saved;
        const sumDy = tf.sum(dy, axes);
        const sumDyXc = tf.sum(tf.mul(dy, xc), axes);
        // A feature constant over the batch has xc = 0 and std = 0: keep 0 * x finite.
        const coef = tf.div(
          tf.mul(scale, sumDyXc),
          tf.mul(tf.mul(d, tf.maximum(std, 1e-12)), -m),
        );
        const dx = tf.add(
          tf.add(tf.mul(dy, scale), tf.mul(xc, coef)),
          tf.mul(scale, tf.div(sumDy, -m)),
        );
        return [dx, tf.div(sumDyXc, d), sumDy];
      },
    };
  });
  const y = op(x, gamma, beta);
  const [mean, variance] = stats!;
  return { y, mean, variance };
}

/**
 * Training-mode `activation(BN(x + bias))` with the minibatch's statistics
 * (see {@linkcode normalizeWithBatchStats}), as one op: the fused kernel
 * {@linkcode BATCH_NORM_ACT_TRAIN} when the active backend registers it, the
 * separate ops otherwise. Also returns the batch mean of `x + bias` and its
 * biased variance, which the caller must dispose.
 */
export function batchNormActivation(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  opts: { epsilon: number; activation?: Activation; bias?: tf.Tensor },
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const attrs: BatchNormActAttrs = {
    epsilon: opts.epsilon,
    activation: opts.activation ?? "linear",
  };
  const bias = opts.bias;
  if (!tf.getKernel(BATCH_NORM_ACT_TRAIN, tf.getBackend())) {
    const h = bias ? tf.add(x, bias) : x;
    const r = normalizeWithBatchStats(h, gamma, beta, attrs.epsilon);
    return { ...r, y: activate(r.y, attrs.activation) };
  }
  const kernelAttrs = attrs as unknown as tf.NamedAttrMap;
  let stats: [tf.Tensor, tf.Tensor] | null = null;
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xv, g, b, bi] = args as tf.Tensor[];
    const inputs: tf.NamedTensorMap = { x: xv, gamma: g, beta: b };
    if (bi) inputs.bias = bi;
    const [y, mean, variance, scale, shift] = tf.engine().runKernel(
      BATCH_NORM_ACT_TRAIN,
      inputs,
      kernelAttrs,
    ) as tf.Tensor[];
    stats = [tf.keep(mean), tf.keep(variance)];
    const toSave = [xv, y, mean, variance, scale, shift];
    save(bi ? [...toSave, bi] : toSave);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [x, y, mean, variance, scale, shift, bias] = saved;
        const gradInputs: tf.NamedTensorMap = {
          dy: dy as tf.Tensor,
          x,
          y,
          mean,
          variance,
          scale,
          shift,
        };
        if (bias) gradInputs.bias = bias;
        const grads = tf.engine().runKernel(
          BATCH_NORM_ACT_GRAD,
          gradInputs,
          kernelAttrs,
        ) as tf.Tensor[];
        return bi ? grads : grads.slice(0, 3);
      },
    };
  });
  const y = bias ? op(x, gamma, beta, bias) : op(x, gamma, beta);
  const [mean, variance] = stats!;
  return { y, mean, variance };
}
