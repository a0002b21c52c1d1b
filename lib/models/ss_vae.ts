/**
 * Semi-supervised VAEs (IFT6266 Week 10): what the seed's model and Kingma's
 * M2 (lib/models/m2.ts) share, and the seed's model itself.
 *
 * The seed's model, as its Week 10 post described it and never built:
 *
 * - one batch-norm encoder (Week 9's: linear + BN layers, ReLU, tanh on the
 *   last) with three heads: a softmax `y'` over the classes, and the code's
 *   `mu` and `sigma = softplus(.)`; `z = mu + sigma * eps`;
 * - a decoder fed `[z, y]` ("concatenate following the code layer"), `y` the
 *   one-hot label of a labelled example and the predicted `y'` (softmax) of
 *   an unlabelled one; Week 9's decoder otherwise (ReLU, hard tanh out);
 * - cost, summed over the batch: `sum((x - x')^2) + KL(q(z|x) || N(0, I)) +
 *   1{labelled} * classification * CE(y, y')`, KL on `z` only ("KL evaluated
 *   on only *part* of the code layer"). Without labels it is a VAE whose
 *   decoder also sees a free softmax code.
 *
 * Beyond the seed: `entropyWeight` adds `entropyWeight * H(y')` of each
 * unlabelled row to its cost (entropy minimization, Grandvalet and Bengio,
 * "Semi-supervised Learning by Entropy Minimization", NIPS 2004), which
 * pushes each unlabelled `y'` towards one class instead of leaving it a
 * free soft code; 0 (the default) is the seed's cost.
 *
 * Gradients of the reconstruction reach `y'` through the decoder, so an
 * unlabelled example trains the classifier too: whatever 10-way soft code
 * helps reconstruction, which the labelled examples pull towards the
 * classes.
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
import { DenseBN, seededLayers } from "../nn/dense_bn.ts";
import { gaussianKL, sumSquaredError } from "../nn/losses.ts";
import { seedDecoder, seedEncoder } from "./ff_vae.ts";
import type { NormMode } from "../nn/module.ts";
import { randomNormal } from "../nn/random_normal.ts";

/** One training batch: labelled images with one-hot labels, and unlabelled images. */
export interface SemiSupervisedBatch {
  /** Labelled images `[nl, inputSize]` and their one-hot labels `[nl, classes]` (nl may be 0). */
  labelled: { x: tf.Tensor2D; y: tf.Tensor2D };
  /** Unlabelled images `[nu, inputSize]` (nu may be 0). */
  unlabelled: tf.Tensor2D;
}

/**
 * How a step weighs its terms: `labelled * sum_l (bound + classification *
 * CE) + unlabelled * sum_u bound`. Summing over the batch is `{ labelled: 1,
 * unlabelled: 1 }`; {@linkcode kingmaWeights} gives Kingma et al.'s.
 */
export interface CostWeights {
  /** Factor of each labelled example's terms. */
  labelled: number;
  /** Factor of each unlabelled example's bound. */
  unlabelled: number;
  /** Weight of a labelled example's cross-entropy, relative to its bound. */
  classification: number;
  /**
   * The seed's model only: this step's weight of the entropy of `y'` in an
   * unlabelled row's cost, in place of its config's `entropyWeight` (a
   * schedule's value; M2 ignores it, its bound holds that entropy already).
   */
  entropy?: number;
}

/**
 * A step's {@linkcode SemiSupervisedCost} from its sums over the labelled
 * and unlabelled examples: the total both semi-supervised models minimize,
 * `labelled * (labelled_bound + classification * labelled_cross_entropy) +
 * unlabelled * unlabelled_bound`, beside the terms themselves.
 */
export function semiSupervisedCost(
  weights: CostWeights,
  terms: SemiSupervisedCost["terms"],
): SemiSupervisedCost {
  const total = tf.add(
    tf.mul(
      weights.labelled,
      tf.add(
        terms.labelled_bound,
        tf.mul(weights.classification, terms.labelled_cross_entropy),
      ),
    ),
    tf.mul(weights.unlabelled, terms.unlabelled_bound),
  ) as tf.Scalar;
  return { total, terms };
}

/**
 * Kingma et al. (2014)'s weighting, per datum: each of the `total` training
 * examples contributes its bound once (a minibatch of `labelledBatch` of the
 * `labelledCount` labelled ones and `unlabelledBatch` of the rest stands for
 * them all), and each labelled one `factor * total / labelledCount` times its
 * cross-entropy (their alpha = 0.1 N; `factor` 0.1). The total is divided by
 * `total`, so the cost reads per example.
 */
export function kingmaWeights(opts: {
  total: number;
  labelledCount: number;
  labelledBatch: number;
  unlabelledBatch: number;
  factor?: number;
}): CostWeights {
  const { total, labelledCount, labelledBatch, unlabelledBatch } = opts;
  if (!(labelledCount > 0 && labelledCount < total)) {
    throw new RangeError(
      `kingmaWeights: labelledCount must be in (0, total = ${total}), got ${labelledCount}`,
    );
  }
  return {
    labelled: labelledCount / (total * labelledBatch),
    unlabelled: (total - labelledCount) / (total * unlabelledBatch),
    classification: (opts.factor ?? 0.1) * total / labelledCount,
  };
}

/**
 * A step's cost: `total` is minimized; `terms` are sums over the batch's
 * examples: `labelled_bound` and `unlabelled_bound` (each model's negative
 * bound per example, summed), `labelled_cross_entropy` and
 * `labelled_errors` (misclassified labelled examples).
 */
export interface SemiSupervisedCost {
  /** The weighted cost (see {@linkcode CostWeights}). */
  total: tf.Scalar;
  /** Unweighted sums, for logging. */
  terms: Record<
    | "labelled_bound"
    | "unlabelled_bound"
    | "labelled_cross_entropy"
    | "labelled_errors",
    tf.Scalar
  >;
}

/** What the Week 10 training, evaluation and figures need of a model. */
export interface SemiSupervisedModel extends BatchNormModel {
  /** Its name in saved runs. */
  readonly kind: string;
  /** At least these sizes. */
  readonly config: { inputSize: number; classes: number; codeSize: number };
  /** The cost of a training batch. */
  cost(
    batch: SemiSupervisedBatch,
    mode: NormMode,
    seed: number,
    weights: CostWeights,
  ): SemiSupervisedCost;
  /** The classifier's logits `[n, classes]` (softmax gives `y'`). */
  classLogits(x: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D;
  /** The classifier's variables (a supervised-only baseline trains only these). */
  classifierVariables(): tf.Variable[];
  /** The classifier's batch-norm layers. */
  classifierSites(): BatchNormSite[];
  /** The mean of `q(z|x, y)` (the seed's model ignores `y`): the style code. */
  styleCode(x: tf.Tensor2D, y: tf.Tensor2D, mode: NormMode): tf.Tensor2D;
  /** Images (in [0, 1], flat) for codes `z` and one-hot classes `y`. */
  decode(z: tf.Tensor2D, y: tf.Tensor2D, mode: NormMode): tf.Tensor2D;
}

/**
 * The classifier of a model as a {@linkcode BatchNormModel} of its own, so
 * that `recalibrateBatchNorm` sets its population statistics in one cheap
 * pass (the classifier alone, not the generative model).
 */
export function classifierOf(model: SemiSupervisedModel): BatchNormModel {
  return {
    inputLayout: model.inputLayout,
    batchNormSites: () => model.classifierSites(),
    forwardPass: (x, mode, opts = {}) => {
      model.classLogits(x as tf.Tensor2D, mode, opts.tap);
    },
    trainable: () => model.classifierVariables(),
    state: () => model.classifierSites().flatMap((s) => s.bn.state()),
  };
}

/** `-sum(y * log softmax(logits))` per row, `[n]`. */
export function softmaxCrossEntropyRows(
  logits: tf.Tensor2D,
  y: tf.Tensor2D,
): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1));
}

/** `-sum(softmax(logits) * log softmax(logits))` over every row, a scalar. */
export function softmaxEntropy(logits: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(tf.softmax(logits), tf.logSoftmax(logits))));
}

/** Number of rows whose largest logit is not the label's, as a scalar. */
export function classificationErrors(
  logits: tf.Tensor2D,
  y: tf.Tensor2D,
): tf.Scalar {
  if (logits.shape[0] === 0) return tf.scalar(0);
  return tf.sum(tf.cast(
    tf.notEqual(tf.argMax(logits, 1), tf.argMax(y, 1)),
    "float32",
  ));
}

/** Architecture of {@linkcode SSVAE}. */
export interface SSVAEConfig {
  /** Input size (784 for MNIST). */
  inputSize: number;
  /** Number of classes (10). */
  classes: number;
  /** Encoder hidden sizes, e.g. [512, 512, 256] (Week 9's). */
  encSizes: number[];
  /** Decoder hidden sizes, e.g. [256, 512, 512]. */
  decSizes: number[];
  /** Size of the Gaussian code `z` (the label is concatenated to it). */
  codeSize: number;
  /** Seed of the weight initialization. */
  seed: number;
  /** Uniform init scale; default 0.1 as in the seed. */
  initScale?: number;
  /**
   * Weight of the entropy of `y'` in each unlabelled row's cost, relative to
   * its bound; default 0 (the seed's cost). See the module's documentation.
   */
  entropyWeight?: number;
}

/** The seed's semi-supervised VAE (see the module's documentation). */
export class SSVAE implements SemiSupervisedModel {
  /** Its name in saved runs (see lib/runs.ts). */
  readonly kind = "ss_vae";
  /** It takes flattened images. */
  readonly inputLayout: ImageLayout = "flat";
  readonly encoder: DenseBN[];
  readonly classHead: DenseBN;
  readonly muHead: DenseBN;
  readonly sigmaHead: DenseBN;
  readonly decoder: DenseBN[];

  constructor(readonly config: SSVAEConfig) {
    const { inputSize, classes, encSizes, decSizes, codeSize } = config;
    if (encSizes.length === 0 || decSizes.length === 0) {
      throw new Error("SSVAE needs at least one encoder and one decoder size");
    }
    const layer = seededLayers(config.seed, { initScale: config.initScale })
      .denseBN;
    this.encoder = seedEncoder(layer, inputSize, encSizes);
    const last = encSizes[encSizes.length - 1];
    this.classHead = layer(last, classes, "linear", "class");
    this.muHead = layer(last, codeSize, "linear", "mu");
    this.sigmaHead = layer(last, codeSize, "softplus", "sigma");
    this.decoder = seedDecoder(layer, codeSize + classes, decSizes, inputSize);
  }

  /** The shared encoder's heads: class logits, and the code's mean and std. */
  encode(
    x: tf.Tensor2D,
    mode: NormMode,
    tap?: NormTap,
  ): { logits: tf.Tensor2D; mu: tf.Tensor2D; sigma: tf.Tensor2D } {
    let h = x;
    for (const l of this.encoder) h = l.apply(h, mode, tap);
    return {
      logits: this.classHead.apply(h, mode, tap),
      mu: this.muHead.apply(h, mode, tap),
      sigma: this.sigmaHead.apply(h, mode, tap),
    };
  }

  /** The reconstruction for codes `z` and labels `y` (one-hot or soft), `[n, inputSize]`. */
  decode(
    z: tf.Tensor2D,
    y: tf.Tensor2D,
    mode: NormMode,
    tap?: NormTap,
  ): tf.Tensor2D {
    let h = tf.concat([z, y], 1);
    for (const l of this.decoder) h = l.apply(h, mode, tap);
    return h;
  }

  classLogits(x: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    // The classifier is the shared encoder and its softmax head.
    let h = x;
    for (const l of this.encoder) h = l.apply(h, mode, tap);
    return this.classHead.apply(h, mode, tap);
  }

  styleCode(x: tf.Tensor2D, _y: tf.Tensor2D, mode: NormMode): tf.Tensor2D {
    return this.encode(x, mode).mu;
  }

  /**
   * The seed's cost of rows `x` (`[n, inputSize]`), row `i` labelled when
   * `mask[i]` is 1 with one-hot label `y[i]` (rows of unlabelled examples
   * are ignored): the decoder gets `mask * y + (1 - mask) * softmax(y')`.
   * `eps` is drawn from `seed`, `[n, codeSize]`. Returns per-row terms.
   */
  costRows(
    x: tf.Tensor2D,
    y: tf.Tensor2D,
    mask: tf.Tensor1D,
    mode: NormMode,
    seed: number,
  ): {
    logits: tf.Tensor2D;
    mu: tf.Tensor2D;
    sigma: tf.Tensor2D;
    decoderLabels: tf.Tensor2D;
    reconstruction: tf.Tensor2D;
    crossEntropy: tf.Tensor1D;
  } {
    const { logits, mu, sigma } = this.encode(x, mode);
    const m = tf.reshape(mask, [-1, 1]);
    const decoderLabels = tf.add<tf.Tensor2D>(
      tf.mul(m, y),
      tf.mul(tf.sub(1, m), tf.softmax(logits)),
    );
    const eps = randomNormal(mu.shape, seed);
    const z = tf.add<tf.Tensor2D>(mu, tf.mul(sigma, eps));
    const reconstruction = this.decode(z, decoderLabels, mode);
    const crossEntropy = tf.mul<tf.Tensor1D>(
      mask,
      softmaxCrossEntropyRows(logits, y),
    );
    return { logits, mu, sigma, decoderLabels, reconstruction, crossEntropy };
  }

  /**
   * The cost of a batch: its labelled rows first, then its unlabelled ones,
   * through one pass (batch norm sees them together); the squared error and
   * the KL of each group summed by the fused kernels.
   */
  cost(
    batch: SemiSupervisedBatch,
    mode: NormMode,
    seed: number,
    weights: CostWeights,
  ): SemiSupervisedCost {
    const xl = batch.labelled.x, xu = batch.unlabelled;
    const nl = xl.shape[0], nu = xu.shape[0];
    const x = tf.concat([xl, xu], 0);
    const y = tf.concat([
      batch.labelled.y,
      tf.zeros([nu, this.config.classes]),
    ]) as tf.Tensor2D;
    const mask = tf.concat([tf.ones([nl]), tf.zeros([nu])]) as tf.Tensor1D;
    const r = this.costRows(x, y, mask, mode, seed);
    const bound = (start: number, n: number): tf.Scalar => {
      if (n === 0) return tf.scalar(0);
      const part = (t: tf.Tensor2D) => tf.slice(t, [start, 0], [n, -1]);
      return tf.add(
        sumSquaredError(part(x), part(r.reconstruction)),
        gaussianKL(part(r.mu), part(r.sigma)),
      );
    };
    const labelledBound = bound(0, nl);
    const unlabelledBound = bound(nl, nu);
    const ce = tf.sum(r.crossEntropy) as tf.Scalar;
    const cost = semiSupervisedCost(weights, {
      labelled_bound: labelledBound,
      unlabelled_bound: unlabelledBound,
      labelled_cross_entropy: ce,
      labelled_errors: classificationErrors(
        tf.slice(r.logits, [0, 0], [nl, -1]),
        batch.labelled.y,
      ),
    });
    const entropyWeight = weights.entropy ?? this.config.entropyWeight ?? 0;
    if (entropyWeight === 0 || nu === 0) return cost;
    const entropy = softmaxEntropy(tf.slice(r.logits, [nl, 0], [nu, -1]));
    return {
      total: tf.add(
        cost.total,
        tf.mul(weights.unlabelled * entropyWeight, entropy),
      ),
      terms: cost.terms,
    };
  }

  /** The training pass over unlabelled `x`, outputs discarded (for recalibration). */
  forwardPass(x: tf.Tensor, mode: NormMode, opts: ForwardPassOptions = {}) {
    const n = x.shape[0];
    this.costRows(
      x as tf.Tensor2D,
      tf.zeros([n, this.config.classes]),
      tf.zeros([n]),
      mode,
      opts.seed ?? 0,
    );
  }

  batchNormSites(): BatchNormSite[] {
    return sitesOf(this.layers());
  }

  classifierSites(): BatchNormSite[] {
    return sitesOf([...this.encoder, this.classHead]);
  }

  classifierVariables(): tf.Variable[] {
    return [...this.encoder, this.classHead].flatMap((l) => l.trainable());
  }

  /** Every layer, in the order the data flows. */
  layers(): DenseBN[] {
    return [
      ...this.encoder,
      this.classHead,
      this.muHead,
      this.sigmaHead,
      ...this.decoder,
    ];
  }

  trainable(): tf.Variable[] {
    return this.layers().flatMap((l) => l.trainable());
  }

  state(): tf.Variable[] {
    return this.layers().flatMap((l) => l.state());
  }
}

/** The batch-norm sites of dense layers (one value per example each). */
export function sitesOf(layers: DenseBN[]): BatchNormSite[] {
  return layers.flatMap((l) =>
    l.bn ? [{ name: l.name, bn: l.bn, valuesPerExample: 1 }] : []
  );
}
