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
import type { BatchNormModel } from "../nn/batch_norm_model.ts";
import { gaussianKL, sumSquaredError } from "../nn/losses.ts";
import type { NormMode } from "../nn/module.ts";

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
