/**
 * What the VAEs share (the feed-forward one of Week 9, the convolutional one
 * of Week 11): the cost, `KL(q(z|x) || N(0, I)) + sum((x - y)^2)` summed over
 * the batch (Kingma & Welling 2014's bound with a Gaussian decoder of fixed
 * variance, as the seed's vae.py wrote it), and the interface the training
 * and evaluation steps of lib/experiments/ff_vae.ts take.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ImageLayout } from "../data/images.ts";
import type { NormTap } from "../nn/batch_norm.ts";
import type {
  BatchNormModel,
  BatchNormSite,
  ForwardPassOptions,
} from "../nn/batch_norm_model.ts";
import { gaussianKL, sumSquaredError } from "../nn/losses.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";

/** The cost of a minibatch, summed over its examples. */
export interface VAECost {
  /** KL + reconstruction: what is minimized. */
  total: tf.Scalar;
  /** KL(q(z|x) || N(0, I)). */
  kl: tf.Scalar;
  /** Sum of squared errors of the reconstruction. */
  reconstruction: tf.Scalar;
}

/** A VAE with batch norm, as the shared training and evaluation steps use it. */
export interface VAEModel extends BatchNormModel {
  /** At least the code size. */
  readonly config: { codeSize: number };
  /** The seed's cost of a minibatch `x` (in `inputLayout`), its `eps` drawn from `seed`. */
  cost(x: tf.Tensor, mode: NormMode, seed: number): VAECost;
  /** Images (in `inputLayout`) for codes `z` `[n, codeSize]`. */
  decode(z: tf.Tensor2D, mode: NormMode): tf.Tensor;
  /** Encodes, samples a code with `eps` from `seed`, decodes. */
  reconstruct(x: tf.Tensor, mode: NormMode, seed: number): tf.Tensor;
}

/**
 * The VAE cost terms, summed over the batch:
 * `kl = -0.5 * sum(2 log sigma - sigma^2 - mu^2 + 1)` and
 * `reconstruction = sum((x - y)^2)`.
 */
export function vaeCostTerms(
  x: tf.Tensor,
  y: tf.Tensor,
  mu: tf.Tensor,
  sigma: tf.Tensor,
): VAECost {
  const kl = gaussianKL(mu, sigma);
  const reconstruction = sumSquaredError(x, y);
  return { total: tf.add(kl, reconstruction), kl, reconstruction };
}

/**
 * What every VAE here does once it can encode and decode: sample the code
 * `z = mu + sigma * eps` with a seeded `eps`, reconstruct, and price a batch
 * with {@linkcode vaeCostTerms}. `X` is the input's tensor type (flat rows
 * or NHWC images).
 */
export abstract class GaussianVAE<X extends tf.Tensor> implements VAEModel {
  abstract readonly kind: string;
  abstract readonly inputLayout: ImageLayout;
  abstract readonly config: { codeSize: number };
  /** q(z|x): the code's mean and standard deviation, `[batch, codeSize]` each. */
  abstract encode(
    x: X,
    mode: NormMode,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D };
  /** The reconstruction (or sample) for codes `z`, in [-1, 1]. */
  abstract decode(z: tf.Tensor2D, mode: NormMode, tap?: NormTap): X;
  abstract batchNormSites(): BatchNormSite[];
  abstract trainable(): tf.Variable[];
  abstract state(): tf.Variable[];

  /** Encodes, samples `z = mu + sigma * eps` with a seeded `eps`, decodes. */
  reconstruct(x: X, mode: NormMode, seed: number): X {
    return this.forward(x, mode, seed).y;
  }

  /** The full pass: code statistics, sampled code and reconstruction. */
  forward(
    x: X,
    mode: NormMode,
    seed: number,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D; z: tf.Tensor2D; y: X } {
    const { mu, sigma } = this.encode(x, mode, tap);
    const eps = randomNormal(mu.shape, seed);
    const z = tf.add<tf.Tensor2D>(mu, tf.mul(sigma, eps));
    return { mu, sigma, z, y: this.decode(z, mode, tap) };
  }

  /** {@linkcode forward}, outputs discarded (see {@linkcode BatchNormModel}). */
  forwardPass(x: tf.Tensor, mode: NormMode, opts: ForwardPassOptions = {}) {
    this.forward(x as X, mode, opts.seed ?? 0, opts.tap);
  }

  /** The seed's cost of a minibatch, summed over examples. */
  cost(x: X, mode: NormMode, seed: number): VAECost {
    const { mu, sigma, y } = this.forward(x, mode, seed);
    return vaeCostTerms(x, y, mu, sigma);
  }
}
