/**
 * Kingma, Rezende, Mohamed and Welling's M2 ("Semi-supervised Learning with
 * Deep Generative Models", NIPS 2014): a generative model `p(x | y, z)` with
 * `p(y)` uniform and `p(z) = N(0, I)`, and the inference networks `q(y|x)`
 * (the classifier) and `q(z|x, y)`.
 *
 * Costs per example (negative bounds, in nats):
 *
 * - labelled: `L(x, y) = -log p(x|y,z) + KL(q(z|x,y) || N(0, I)) + log K`
 *   (`K` classes, `z` one draw from `q(z|x,y)`), plus `classification *
 *   -log q(y|x)`;
 * - unlabelled: `U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))`, the sum over all
 *   `K` labels computed exactly in one batched pass: the first layer of
 *   `q(z|x, y)` is `x Wx + y Wy`, so `x Wx` is computed once per image and
 *   broadcast over the `K` labels, and the rest of both networks runs on the
 *   `K * n` rows together. (Sampling `y` instead of summing is the known trap
 *   of re-implementations.)
 *
 * Each network has softplus hidden layers (Kingma's: one of 500, 300 at 100
 * labels), optionally with batch norm (Week 9's blocks); their output layers
 * are plain dense layers. `p(x|y,z)` is Bernoulli on pixels in [0, 1] (the
 * cross-entropy with the grey levels as targets), or a Gaussian with a
 * learned diagonal variance for real-valued inputs (M2 on the codes of M1).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ImageLayout } from "../data/images.ts";
import { activate, type Activation } from "../nn/activations.ts";
import type { NormTap } from "../nn/batch_norm.ts";
import type {
  BatchNormSite,
  ForwardPassOptions,
} from "../nn/batch_norm_model.ts";
import { Dense } from "../nn/dense.ts";
import { DenseBN, glorotScale, seededLayers } from "../nn/dense_bn.ts";
import { gaussianKLRows } from "../nn/losses.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";
import {
  classificationErrors,
  type CostWeights,
  type SemiSupervisedBatch,
  type SemiSupervisedCost,
  semiSupervisedCost,
  type SemiSupervisedModel,
  sitesOf,
  softmaxCrossEntropyRows,
} from "./ss_vae.ts";

/** The observation model `p(x|y,z)`. */
export type Likelihood = "bernoulli" | "gaussian";

/** Architecture of {@linkcode M2}. */
export interface M2Config {
  /** Input size (784 for MNIST pixels, 50 for M1's codes). */
  inputSize: number;
  /** Number of classes (10). */
  classes: number;
  /** Size of `z` (Kingma's: 50). */
  codeSize: number;
  /** Hidden sizes of `q(y|x)`, e.g. [500]. */
  classifierSizes: number[];
  /** Hidden sizes of `q(z|x, y)`, at least one, e.g. [500]. */
  encoderSizes: number[];
  /** Hidden sizes of `p(x|y, z)`, at least one, e.g. [500]. */
  decoderSizes: number[];
  /** Seed of the weight initialization. */
  seed: number;
  /** Hidden activation; default "softplus" (Kingma's). */
  activation?: Activation;
  /** Batch norm on the hidden layers; default true. */
  batchNorm?: boolean;
  /** `p(x|y,z)`; default "bernoulli". */
  likelihood?: Likelihood;
}

/** Lower bound of a Gaussian likelihood's standard deviation (keeps the log finite). */
const MIN_SIGMA = 1e-3;

/** `0.5 * log(2 pi)`. */
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * `-log p(x | logits)` of a Bernoulli per pixel, summed over the last axis:
 * `sum(softplus(l) - x * l)`. `x` broadcasts against `logits` (one image
 * against its `K` reconstructions).
 */
export function bernoulliNLL(logits: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.sum(tf.sub(tf.softplus(logits), tf.mul(x, logits)), -1);
}

/**
 * `-log N(x; mean, sigma^2)` summed over the last axis; `x` broadcasts
 * against `mean` and `sigma`.
 */
export function gaussianNLL(
  mean: tf.Tensor,
  sigma: tf.Tensor,
  x: tf.Tensor,
): tf.Tensor {
  const d = mean.shape[mean.shape.length - 1];
  return tf.add(
    tf.sum(
      tf.add(
        tf.log(sigma),
        tf.mul(0.5, tf.square(tf.div(tf.sub(x, mean), sigma))),
      ),
      -1,
    ),
    d * HALF_LOG_2PI,
  );
}

/**
 * Rows of a network's input: `copies` copies of `x` (`[n, inputSize]`),
 * copy `c` with labels `y` rows `c * n .. c * n + n - 1` (`[copies * n,
 * classes]`). One copy with the true labels is a labelled batch; `K`
 * copies with labels `0..K-1` enumerate an unlabelled one.
 */
export interface LabelRows {
  /** The images, `[n, inputSize]`. */
  x: tf.Tensor2D;
  /** How many copies of them the rows hold. */
  copies: number;
  /** One-hot labels, copy-major, `[copies * n, classes]`. */
  y: tf.Tensor2D;
}

/** Per-row costs of {@linkcode M2.bound}, `[copies, n]` each. */
export interface RowBound {
  /** `-log p(x|y,z)`. */
  nll: tf.Tensor2D;
  /** `KL(q(z|x,y) || N(0, I))`. */
  kl: tf.Tensor2D;
}

/** The labels `0..classes-1` for `n` examples, copy-major: `[classes * n, classes]`. */
export function enumeratedLabels(n: number, classes: number): tf.Tensor2D {
  return tf.tidy(() => {
    const ids = tf.tensor1d(
      Int32Array.from({ length: classes * n }, (_, i) => Math.floor(i / n)),
      "int32",
    );
    return tf.oneHot(ids, classes).toFloat() as tf.Tensor2D;
  });
}

/** Kingma et al.'s M2 (see the module's documentation). */
export class M2 implements SemiSupervisedModel {
  /** Its name in saved runs (see lib/runs.ts). */
  readonly kind = "m2";
  /** It takes flat rows. */
  readonly inputLayout: ImageLayout = "flat";
  readonly classifier: DenseBN[];
  readonly classOut: Dense;
  readonly encoder: DenseBN[];
  readonly muHead: Dense;
  readonly sigmaHead: Dense;
  readonly decoder: DenseBN[];
  readonly outHead: Dense;
  /** The Gaussian likelihood's standard deviation head, else null. */
  readonly outSigma: Dense | null;
  readonly likelihood: Likelihood;

  constructor(readonly config: M2Config) {
    const { inputSize, classes, codeSize } = config;
    if (config.encoderSizes.length === 0 || config.decoderSizes.length === 0) {
      throw new Error(
        "M2 needs at least one hidden layer in q(z|x,y) and p(x|y,z) " +
          "(encoderSizes, decoderSizes): the label enters through the first one",
      );
    }
    this.likelihood = config.likelihood ?? "bernoulli";
    const act = config.activation ?? "softplus";
    const { stack, dense } = seededLayers(config.seed, {
      initScale: glorotScale,
      batchNorm: config.batchNorm,
    });
    const hidden = (sizes: number[], input: number, prefix: string) =>
      stack(input, sizes, act, prefix);
    const last = (s: number[], input: number) =>
      s.length ? s[s.length - 1] : input;
    this.classifier = hidden(config.classifierSizes, inputSize, "qy");
    this.classOut = dense(
      last(config.classifierSizes, inputSize),
      classes,
      "qy_out",
    );
    this.encoder = hidden(config.encoderSizes, inputSize + classes, "qz");
    const he = last(config.encoderSizes, 0);
    this.muHead = dense(he, codeSize, "qz_mu");
    this.sigmaHead = dense(he, codeSize, "qz_sigma");
    this.decoder = hidden(config.decoderSizes, codeSize + classes, "px");
    const hd = last(config.decoderSizes, 0);
    this.outHead = dense(hd, inputSize, "px_out");
    this.outSigma = this.likelihood === "gaussian"
      ? dense(hd, inputSize, "px_sigma")
      : null;
  }

  classLogits(x: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    let h = x;
    for (const l of this.classifier) h = l.apply(h, mode, tap);
    return this.classOut.apply(h);
  }

  /**
   * `q(z|x, y)` of every row of each group, batch norm over all groups'
   * rows together: `mu` and `sigma`, `[rows, codeSize]`, groups in order.
   */
  encodeRows(
    groups: LabelRows[],
    mode: NormMode,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D } {
    const first = this.encoder[0];
    const [wx, wy] = splitRows(first.dense.w, this.config.inputSize);
    const pre = tf.concat(
      groups.map((g) => {
        const n = g.x.shape[0], h = first.dense.outputs;
        // x Wx once per image, broadcast over the copies.
        const hx = tf.reshape(tf.matMul(g.x, wx), [1, n, h]);
        const hy = tf.reshape(tf.matMul(g.y, wy), [g.copies, n, h]);
        return tf.reshape(tf.add(hx, hy), [g.copies * n, h]);
      }),
      0,
    ) as tf.Tensor2D;
    let h = finishLayer(first, pre, mode, tap);
    for (const l of this.encoder.slice(1)) h = l.apply(h, mode, tap);
    return {
      mu: this.muHead.apply(h),
      sigma: tf.softplus(this.sigmaHead.apply(h)),
    };
  }

  /** `p(x|y,z)`'s parameters for rows `z`, `y`: logits, or mean and std. */
  decodeParams(
    z: tf.Tensor2D,
    y: tf.Tensor2D,
    mode: NormMode,
    tap?: NormTap,
  ): { out: tf.Tensor2D; sigma: tf.Tensor2D | null } {
    const first = this.decoder[0];
    const [wz, wy] = splitRows(first.dense.w, this.config.codeSize);
    const pre = tf.add<tf.Tensor2D>(tf.matMul(z, wz), tf.matMul(y, wy));
    let h = finishLayer(first, pre, mode, tap);
    for (const l of this.decoder.slice(1)) h = l.apply(h, mode, tap);
    const out = this.outHead.apply(h);
    const sigma = this.outSigma
      ? tf.add<tf.Tensor2D>(tf.softplus(this.outSigma.apply(h)), MIN_SIGMA)
      : null;
    return { out, sigma };
  }

  /** The mean of `p(x|y,z)`: pixel probabilities (Bernoulli) or the Gaussian's mean. */
  decode(z: tf.Tensor2D, y: tf.Tensor2D, mode: NormMode): tf.Tensor2D {
    const { out } = this.decodeParams(z, y, mode);
    return this.likelihood === "bernoulli" ? tf.sigmoid(out) : out;
  }

  styleCode(x: tf.Tensor2D, y: tf.Tensor2D, mode: NormMode): tf.Tensor2D {
    return this.encodeRows([{ x, copies: 1, y }], mode).mu;
  }

  /**
   * The bound's terms of every row of each group, with one draw of `z` per
   * row (`eps` from `seed`, `[rows, codeSize]`, unless `eps` is given), one
   * pass through both networks for all groups: `nll` and `kl` per group,
   * `[copies, n]`.
   */
  bound(
    groups: LabelRows[],
    mode: NormMode,
    seed: number,
    opts: { eps?: tf.Tensor2D; tap?: NormTap } = {},
  ): RowBound[] {
    const { mu, sigma } = this.encodeRows(groups, mode, opts.tap);
    const eps = opts.eps ?? randomNormal(mu.shape, seed) as tf.Tensor2D;
    const z = tf.add<tf.Tensor2D>(mu, tf.mul(sigma, eps));
    const y = tf.concat(groups.map((g) => g.y), 0) as tf.Tensor2D;
    const { out, sigma: outSigma } = this.decodeParams(z, y, mode, opts.tap);
    const kl = gaussianKLRows(mu, sigma);
    const result: RowBound[] = [];
    let start = 0;
    for (const g of groups) {
      const n = g.x.shape[0], rows = g.copies * n, d = this.config.inputSize;
      const part = (t: tf.Tensor2D) =>
        tf.reshape(tf.slice(t, [start, 0], [rows, d]), [g.copies, n, d]);
      const x = tf.reshape(g.x, [1, n, d]);
      const nll = outSigma
        ? gaussianNLL(part(out), part(outSigma), x)
        : bernoulliNLL(part(out), x);
      result.push({
        nll: nll as tf.Tensor2D,
        kl: tf.reshape(tf.slice(kl, [start], [rows]), [g.copies, n]),
      });
      start += rows;
    }
    return result;
  }

  /**
   * The cost of a batch (see the module's documentation): the classifier on
   * all its images at once, then one pass of `q(z|x,y)` and `p(x|y,z)` over
   * the labelled rows and the `K` enumerated copies of the unlabelled ones.
   */
  cost(
    batch: SemiSupervisedBatch,
    mode: NormMode,
    seed: number,
    weights: CostWeights,
  ): SemiSupervisedCost {
    const K = this.config.classes;
    const xl = batch.labelled.x, yl = batch.labelled.y, xu = batch.unlabelled;
    const nl = xl.shape[0], nu = xu.shape[0];
    const logits = this.classLogits(tf.concat([xl, xu], 0), mode);
    const groups: LabelRows[] = [];
    if (nl > 0) groups.push({ x: xl, copies: 1, y: yl });
    if (nu > 0) groups.push({ x: xu, copies: K, y: enumeratedLabels(nu, K) });
    const bounds = groups.length ? this.bound(groups, mode, seed) : [];
    const logK = Math.log(K);
    let labelledBound: tf.Scalar = tf.scalar(0);
    let ce: tf.Scalar = tf.scalar(0);
    let errors: tf.Scalar = tf.scalar(0);
    if (nl > 0) {
      const b = bounds[0];
      labelledBound = tf.add(tf.sum(tf.add(b.nll, b.kl)), nl * logK);
      const ll = tf.slice(logits, [0, 0], [nl, -1]);
      ce = tf.sum(softmaxCrossEntropyRows(ll, yl));
      errors = classificationErrors(ll, yl);
    }
    let unlabelledBound: tf.Scalar = tf.scalar(0);
    if (nu > 0) {
      const b = bounds[bounds.length - 1];
      // [K, nu] -> [nu, K]: the bound of each image under each label.
      const perLabel = tf.transpose(
        tf.add(tf.add(b.nll, b.kl), logK),
      ) as tf.Tensor2D;
      const lu = tf.slice(logits, [nl, 0], [nu, -1]);
      unlabelledBound = unlabelledCost(lu, perLabel);
    }
    return semiSupervisedCost(weights, {
      labelled_bound: labelledBound,
      unlabelled_bound: unlabelledBound,
      labelled_cross_entropy: ce,
      labelled_errors: errors,
    });
  }

  /** The unlabelled training pass over `x`, outputs discarded (for recalibration). */
  forwardPass(x: tf.Tensor, mode: NormMode, opts: ForwardPassOptions = {}) {
    const xu = x as tf.Tensor2D, n = xu.shape[0], K = this.config.classes;
    this.classLogits(xu, mode, opts.tap);
    this.bound(
      [{ x: xu, copies: K, y: enumeratedLabels(n, K) }],
      mode,
      opts.seed ?? 0,
      { tap: opts.tap },
    );
  }

  batchNormSites(): BatchNormSite[] {
    return sitesOf([...this.classifier, ...this.encoder, ...this.decoder]);
  }

  classifierSites(): BatchNormSite[] {
    return sitesOf(this.classifier);
  }

  classifierVariables(): tf.Variable[] {
    return [
      ...this.classifier.flatMap((l) => l.trainable()),
      ...this.classOut.trainable(),
    ];
  }

  trainable(): tf.Variable[] {
    const heads = [this.classOut, this.muHead, this.sigmaHead, this.outHead];
    if (this.outSigma) heads.push(this.outSigma);
    return [
      ...[...this.classifier, ...this.encoder, ...this.decoder].flatMap((l) =>
        l.trainable()
      ),
      ...heads.flatMap((l) => l.trainable()),
    ];
  }

  state(): tf.Variable[] {
    return [...this.classifier, ...this.encoder, ...this.decoder].flatMap((l) =>
      l.state()
    );
  }
}

/**
 * `sum_i sum_y q(y|x_i) (L(x_i, y) + log q(y|x_i))`, i.e. the expected
 * bound minus the entropy, summed over the rows: `logits` `[n, K]` of
 * `q(y|x)`, `perLabel` `[n, K]` the bound `L(x_i, y)` under each label.
 */
export function unlabelledCost(
  logits: tf.Tensor2D,
  perLabel: tf.Tensor2D,
): tf.Scalar {
  const logq = tf.logSoftmax(logits);
  return tf.sum(tf.mul(tf.exp(logq), tf.add(perLabel, logq)));
}

/** Rows `[0, n)` and `[n, end)` of a weight matrix (differentiable slices). */
function splitRows(w: tf.Tensor, n: number): [tf.Tensor2D, tf.Tensor2D] {
  const [rows, cols] = w.shape;
  return [
    tf.slice(w, [0, 0], [n, cols]) as tf.Tensor2D,
    tf.slice(w, [n, 0], [rows - n, cols]) as tf.Tensor2D,
  ];
}

/**
 * A {@linkcode DenseBN} layer's work after its matrix product (which the
 * caller computed in parts): bias, batch norm, activation.
 */
function finishLayer(
  layer: DenseBN,
  pre: tf.Tensor2D,
  mode: NormMode,
  tap?: NormTap,
): tf.Tensor2D {
  const b = layer.dense.b ?? undefined;
  if (!layer.bn) return activate(b ? tf.add(pre, b) : pre, layer.activation);
  return layer.bn.apply(pre, mode, {
    bias: b,
    activation: layer.activation,
    tap,
  });
}
