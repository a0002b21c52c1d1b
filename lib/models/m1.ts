/**
 * Kingma et al. (2014)'s M1: a VAE whose code means serve as features for
 * M2 ("M1+M2"). The official code's: 50 latent units, two softplus hidden
 * layers of 500 in the encoder and in the decoder, a Bernoulli decoder on
 * pixels in [0, 1]; here optionally with batch norm on the hidden layers
 * (Week 9's blocks). Cost per minibatch, summed over it:
 * `-log p(x|z) + KL(q(z|x) || N(0, I))`.
 *
 * Week 9's FFVAE is not used for M1+M2: its squared error is the
 * log-likelihood of a Gaussian of variance 1/2 per pixel, so weak that its
 * code carried about 4.6 nats per example (Week 9's KL term). With the
 * Bernoulli decoder this M1's code carried 25.2 nats per validation image
 * after 20 epochs (Adam 1e-3, batch 100), in 23 active units of 50: that
 * information is what M2 gets to classify.
 *
 * Also here: M1's codes as M2's data ({@linkcode m1Codes}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { evaluationBatches } from "../data/batches.ts";
import {
  batchTensor,
  type ImageLayout,
  type LabelledImages,
} from "../data/images.ts";
import type { NormTap } from "../nn/batch_norm.ts";
import type {
  BatchNormSite,
  ForwardPassOptions,
} from "../nn/batch_norm_model.ts";
import { Dense } from "../nn/dense.ts";
import { DenseBN, glorotScale, seededLayers } from "../nn/dense_bn.ts";
import { gaussianKL } from "../nn/losses.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";
import { bernoulliNLL } from "./m2.ts";
import { sitesOf } from "./ss_vae.ts";
import type { VAECost, VAEModel } from "./vae.ts";

/** Architecture of {@linkcode M1}. */
export interface M1Config {
  /** Input size (784). */
  inputSize: number;
  /** Hidden sizes of the encoder; the decoder mirrors them. Kingma's: [500, 500]. */
  hiddenSizes: number[];
  /** Latent size (Kingma's: 50). */
  codeSize: number;
  /** Seed of the weight initialization. */
  seed: number;
  /** Batch norm on the hidden layers; default true. */
  batchNorm?: boolean;
}

/** M1 (see the module's documentation); a {@linkcode VAEModel}. */
export class M1 implements VAEModel {
  /** Its name in saved runs. */
  readonly kind = "m1";
  /** It takes flat images. */
  readonly inputLayout: ImageLayout = "flat";
  readonly encoder: DenseBN[];
  readonly muHead: Dense;
  readonly sigmaHead: Dense;
  readonly decoder: DenseBN[];
  readonly outHead: Dense;

  constructor(readonly config: M1Config) {
    const { inputSize, hiddenSizes, codeSize } = config;
    if (hiddenSizes.length === 0) {
      throw new Error(
        "M1 needs at least one hidden size (Kingma's: [500, 500])",
      );
    }
    const { stack, dense } = seededLayers(config.seed, {
      initScale: glorotScale,
      batchNorm: config.batchNorm,
    });
    const last = hiddenSizes[hiddenSizes.length - 1];
    this.encoder = stack(inputSize, hiddenSizes, "softplus", "m1_enc");
    this.muHead = dense(last, codeSize, "m1_mu");
    this.sigmaHead = dense(last, codeSize, "m1_sigma");
    const rev = [...hiddenSizes].reverse();
    this.decoder = stack(codeSize, rev, "softplus", "m1_dec");
    this.outHead = dense(rev[rev.length - 1], inputSize, "m1_out");
  }

  /** q(z|x): the code's mean and standard deviation. */
  encode(
    x: tf.Tensor2D,
    mode: NormMode,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D } {
    let h = x;
    for (const l of this.encoder) h = l.apply(h, mode, tap);
    return {
      mu: this.muHead.apply(h),
      sigma: tf.softplus(this.sigmaHead.apply(h)),
    };
  }

  /** The decoder's logits for codes `z`. */
  decodeLogits(z: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    let h = z;
    for (const l of this.decoder) h = l.apply(h, mode, tap);
    return this.outHead.apply(h);
  }

  /** Pixel probabilities for codes `z`. */
  decode(z: tf.Tensor2D, mode: NormMode): tf.Tensor2D {
    return tf.sigmoid(this.decodeLogits(z, mode));
  }

  #forward(x: tf.Tensor2D, mode: NormMode, seed: number, tap?: NormTap) {
    const { mu, sigma } = this.encode(x, mode, tap);
    const eps = randomNormal(mu.shape, seed);
    const z = tf.add<tf.Tensor2D>(mu, tf.mul(sigma, eps));
    return { mu, sigma, logits: this.decodeLogits(z, mode, tap) };
  }

  /** Encodes, samples a code with `eps` from `seed`, decodes (probabilities). */
  reconstruct(x: tf.Tensor, mode: NormMode, seed: number): tf.Tensor {
    return tf.sigmoid(this.#forward(x as tf.Tensor2D, mode, seed).logits);
  }

  /**
   * The cost of a minibatch, summed over it: `reconstruction` is the
   * Bernoulli negative log-likelihood (not a squared error as in Week 9).
   */
  cost(x: tf.Tensor, mode: NormMode, seed: number): VAECost {
    const { mu, sigma, logits } = this.#forward(x as tf.Tensor2D, mode, seed);
    const kl = gaussianKL(mu, sigma);
    const reconstruction = tf.sum(bernoulliNLL(logits, x)) as tf.Scalar;
    return { total: tf.add(kl, reconstruction), kl, reconstruction };
  }

  forwardPass(x: tf.Tensor, mode: NormMode, opts: ForwardPassOptions = {}) {
    this.#forward(x as tf.Tensor2D, mode, opts.seed ?? 0, opts.tap);
  }

  batchNormSites(): BatchNormSite[] {
    return sitesOf([...this.encoder, ...this.decoder]);
  }

  trainable(): tf.Variable[] {
    return [
      ...this.encoder.flatMap((l) => l.trainable()),
      ...this.muHead.trainable(),
      ...this.sigmaHead.trainable(),
      ...this.decoder.flatMap((l) => l.trainable()),
      ...this.outHead.trainable(),
    ];
  }

  state(): tf.Variable[] {
    return [...this.encoder, ...this.decoder].flatMap((l) => l.state());
  }
}

/** M1's codes of a set, as M2 takes them (see {@linkcode encodeFeatures}). */
export interface M1Codes {
  /** The code means, as `1 x units` "images" with the set's labels. */
  mean: LabelledImages;
  /** The code standard deviations, laid out as `mean.images`. */
  std: Float32Array;
}

/**
 * M1's `q(z|x)` of every image of `set` (population statistics), keeping
 * the code units `units` (default all): the means as a set of `1 x units`
 * "images" with the same labels, and the standard deviations beside them.
 * M1+M2 trains M2 on codes sampled from these (Kingma et al.'s) and
 * classifies the means.
 */
export function encodeFeatures(
  m1: M1,
  set: LabelledImages,
  opts: { batchSize: number; units?: number[] },
): M1Codes {
  const d = m1.config.codeSize;
  const units = opts.units ?? Array.from({ length: d }, (_, j) => j);
  const u = units.length;
  const mean = new Float32Array(set.count * u);
  const std = new Float32Array(set.count * u);
  for (const idx of evaluationBatches(set.count, opts.batchSize, false)) {
    const [mu, sigma] = tf.tidy(() => {
      const q = m1.encode(
        batchTensor(set, idx, { layout: "flat" }),
        "population",
      );
      return [q.mu.dataSync(), q.sigma.dataSync()];
    });
    for (let j = 0; j < idx.length; j++) {
      for (let k = 0; k < u; k++) {
        mean[(idx[j]) * u + k] = mu[j * d + units[k]];
        std[(idx[j]) * u + k] = sigma[j * d + units[k]];
      }
    }
  }
  return {
    mean: {
      images: mean,
      labels: set.labels,
      count: set.count,
      height: 1,
      width: u,
      channels: 1,
    },
    std,
  };
}

/**
 * The code units of M1 that carry information: those whose mean varies
 * across `codes` (variance above `threshold`, default 0.01); the others sit
 * at the prior for every image (the VAE's inactive units).
 */
export function activeUnits(codes: LabelledImages, threshold = 0.01): number[] {
  const d = codes.width * codes.height * codes.channels, n = codes.count;
  const sum = new Float64Array(d), sq = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = codes.images[i * d + j];
      sum[j] += v;
      sq[j] += v * v;
    }
  }
  const out: number[] = [];
  for (let j = 0; j < d; j++) {
    if (sq[j] / n - (sum[j] / n) ** 2 > threshold) out.push(j);
  }
  return out;
}

/**
 * M1's codes of the three sets for M1+M2: its active units
 * ({@linkcode activeUnits}, measured on the training set) only.
 */
export function m1Codes(
  m1: M1,
  sets: { train: LabelledImages; valid: LabelledImages; test: LabelledImages },
  opts: { batchSize: number },
): { train: M1Codes; valid: M1Codes; test: M1Codes; units: number[] } {
  const units = activeUnits(encodeFeatures(m1, sets.train, opts).mean);
  if (units.length === 0) {
    throw new Error(
      "M1's code carries nothing (no active unit): train M1 longer (m1Epochs)",
    );
  }
  const codes = (set: LabelledImages) =>
    encodeFeatures(m1, set, { ...opts, units });
  return {
    train: codes(sets.train),
    valid: codes(sets.valid),
    test: codes(sets.test),
    units,
  };
}
