/**
 * A number for "good samples" of generated MNIST digits: the Fréchet
 * distance of the samples to MNIST's test set in the feature space of a
 * small MNIST classifier ("FID for MNIST"), plus that classifier's
 * confidence on the samples and the diversity of the classes it sees.
 *
 * ```ts
 * const scorer = await loadSampleScorer();   // trains the classifier once, then cached
 * const s = scorer.score(samples);           // samples: [n, 784], in [0, 1]
 * console.log(s.fid, s.confidence, s.classEntropy, s.classHistogram);
 * ```
 *
 * **Why "FID for MNIST".** Heusel et al. (2017, "GANs trained by a two
 * time-scale update rule converge to a local Nash equilibrium") score
 * generated images by fitting a Gaussian (mean and full covariance) to the
 * Inception-v3 pool features of the samples and another to those of real
 * images, and reporting the Fréchet distance between the two Gaussians,
 * `|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`. Inception is an ImageNet
 * model and means little for 28x28 digits, so here the features are the
 * 128 penultimate ReLU activations of a small MNIST convnet
 * (lib/models/mnist_classifier.ts, > 99% test accuracy) and the real images
 * are the 10,000 MNIST test digits, which the classifier never trained on.
 * The numbers are therefore on their own scale: comparable between models
 * scored here, not with FIDs in papers.
 *
 * **How to read the numbers** (measured values: tests/eval/sample_score_test.ts
 * prints them).
 * - `fid`: 0 for samples distributed like MNIST's test digits; lower is
 *   better. It sees both quality (blurry or malformed digits move the mean
 *   and change the covariance) and diversity (too few styles or classes
 *   shrink the covariance). Measured: the test set against itself 0;
 *   10,000 MNIST training digits 1.4 (1,000 of them 5.9); the same
 *   10,000 blurred by a 3x3 box filter 190 (so blur, the VAEs' usual flaw,
 *   costs a lot); 10,000 images of uniform noise 790; one digit repeated
 *   1,000 times 1057. FID is biased
 *   upward for few samples (the 1,000 training digits above), so compare
 *   scores of the same sample count; 10,000 matches the reference, below
 *   about 1,000 the 128x128 covariance is poorly estimated.
 * - `confidence`: the mean over samples of the classifier's largest
 *   softmax probability, in [0.1, 1]. Real digits: 0.99. Lower values mean
 *   ambiguous or malformed digits. It is not a quality score on its own: a
 *   softmax classifier is confident far from its data too (uniform noise
 *   gets 0.84, nearly all of it one class), which the FID and the entropy
 *   expose.
 * - `classEntropy`: the entropy, in nats, of the histogram of predicted
 *   classes; `ln 10 = 2.303` when every digit is equally frequent (MNIST's
 *   test set: 2.301), 0 when all samples are one digit. It measures class
 *   diversity only (mode collapse across classes), not quality; divide by
 *   `ln 2` for bits.
 * - `classHistogram`: the fraction of samples predicted as each digit 0-9.
 *
 * Good samples have a low FID, confidence near the test set's and class
 * entropy near ln 10. Confidence and entropy together resemble the
 * Inception Score's two ingredients; the FID alone is the summary.
 *
 * Samples are clamped to [0, 1] first: the VAEs' hard-tanh output is in
 * [-1, 1] but they are trained on [0, 1] data.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { frechetDistance } from "./linalg.ts";
import {
  fingerprint,
  loadScoreClassifier,
  type LoadScoreClassifierOptions,
  MNIST_PIXELS,
  type MnistClassifier,
} from "../models/mnist_classifier.ts";
import {
  cacheKey,
  defaultCacheDir,
  readCache,
  writeCache,
} from "../data/cache.ts";

/** A Gaussian fit: the mean and the (n - 1)-normalized covariance of rows. */
export interface GaussianStats {
  /** Dimension `d`. */
  dim: number;
  /** Rows it was fitted to. */
  count: number;
  /** `d` values. */
  mean: Float64Array;
  /** `d * d` values, row-major, symmetric. */
  cov: Float64Array;
}

/** The classifier's view of a set of images. */
export interface ClassifierReadout {
  /** Gaussian fit of the penultimate features. */
  features: GaussianStats;
  /** Mean of the largest softmax probability. */
  confidence: number;
  /** Fraction of images predicted as each digit. */
  classHistogram: number[];
  /** Entropy of `classHistogram`, in nats. */
  classEntropy: number;
}

/** What {@linkcode SampleScorer.score} returns. */
export interface SampleScore {
  /**
   * Fréchet distance between the Gaussian fits of the classifier's features
   * of the samples and of the 10,000 MNIST test digits. 0 is perfect; lower
   * is better (10,000 training digits: 1.4; uniform noise: 790).
   */
  fid: number;
  /** Mean largest softmax probability, in [0.1, 1]; real digits about 0.99. */
  confidence: number;
  /**
   * Entropy in nats of the predicted-class histogram: `ln 10 = 2.303` for
   * balanced classes, 0 for a single class.
   */
  classEntropy: number;
  /** Fraction of samples predicted as each digit 0-9. */
  classHistogram: number[];
  /** Number of samples scored. */
  count: number;
}

/** Samples: a tensor of `n * 784` values (`[n, 784]` or `[n, 28, 28, 1]`), or the flat values. */
export type Samples = tf.Tensor | Float32Array;

/** `ln 10`: the class entropy of perfectly balanced digits, in nats. */
export const MAX_CLASS_ENTROPY = Math.log(10);

/** Images per forward pass of the classifier. */
const BATCH = 250;

/**
 * The mean and the covariance (normalized by `count - 1`, as numpy's `cov`
 * and the reference FID code) of `count` rows of `dim` values, in float64.
 *
 * @throws {RangeError} if the sizes disagree or there are fewer than 2 rows
 */
export function gaussianStats(
  rows: ArrayLike<number>,
  count: number,
  dim: number,
): GaussianStats {
  if (rows.length !== count * dim) {
    throw new RangeError(
      `gaussianStats: ${rows.length} values are not ${count} rows of ${dim}`,
    );
  }
  if (count < 2) {
    throw new RangeError(
      `gaussianStats: need at least 2 rows for a covariance, got ${count}`,
    );
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < dim; i++) mean[i] += rows[r * dim + i];
  }
  for (let i = 0; i < dim; i++) mean[i] /= count;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < dim; i++) c[i] = rows[r * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = c[i];
      if (ci === 0) continue;
      const off = i * dim;
      for (let j = i; j < dim; j++) cov[off + j] += ci * c[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / (count - 1);
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return { dim, count, mean, cov };
}

/** The entropy in nats of a histogram of fractions (0 log 0 = 0). */
export function entropy(fractions: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < fractions.length; i++) {
    const p = fractions[i];
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** The flat, [0, 1]-clamped values of `samples` and their count. */
function flatSamples(samples: Samples): { values: Float32Array; n: number } {
  let values: Float32Array;
  if (samples instanceof tf.Tensor) {
    if (samples.dtype !== "float32") {
      throw new TypeError(
        `scoreSamples: samples must be float32, got ${samples.dtype}`,
      );
    }
    values = samples.dataSync() as Float32Array;
  } else values = samples;
  if (values.length % MNIST_PIXELS !== 0 || values.length === 0) {
    throw new RangeError(
      `scoreSamples: ${values.length} values are not a whole number of ` +
        `28x28 images (${MNIST_PIXELS} values each)`,
    );
  }
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new RangeError(
        `scoreSamples: sample ${Math.floor(i / MNIST_PIXELS)} holds ${v} ` +
          `(pixel ${i % MNIST_PIXELS}); did the model diverge?`,
      );
    }
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return { values: out, n: values.length / MNIST_PIXELS };
}

/**
 * The classifier's features, confidence and class histogram for `samples`
 * (clamped to [0, 1]); needs at least 2 samples.
 */
export function classifierReadout(
  classifier: MnistClassifier,
  samples: Samples,
): ClassifierReadout {
  const { values, n } = flatSamples(samples);
  const dim = classifier.featureSize;
  const features = new Float32Array(n * dim);
  const counts = new Array<number>(10).fill(0);
  let confidence = 0;
  for (let s = 0; s < n; s += BATCH) {
    const b = Math.min(BATCH, n - s);
    const [f, p] = tf.tidy(() => {
      const x = tf.tensor2d(
        values.subarray(s * MNIST_PIXELS, (s + b) * MNIST_PIXELS),
        [b, MNIST_PIXELS],
      );
      const out = classifier.featuresAndLogits(x);
      return [out.features, tf.softmax(out.logits)];
    });
    features.set(f.dataSync(), s * dim);
    const probs = p.dataSync();
    f.dispose();
    p.dispose();
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) {
        if (probs[i * 10 + k] > probs[i * 10 + best]) best = k;
      }
      counts[best]++;
      confidence += probs[i * 10 + best];
    }
  }
  const classHistogram = counts.map((c) => c / n);
  return {
    features: gaussianStats(features, n, dim),
    confidence: confidence / n,
    classHistogram,
    classEntropy: entropy(classHistogram),
  };
}

/** Scores samples against the reference statistics of MNIST's test set. */
export class SampleScorer {
  /**
   * @param classifier the feature extractor ({@linkcode loadScoreClassifier})
   * @param reference the test set's readout: its feature Gaussian, and its
   *   confidence and class entropy for comparison
   */
  constructor(
    readonly classifier: MnistClassifier,
    readonly reference: ClassifierReadout,
  ) {}

  /**
   * The score of `samples` (`n * 784` values, clamped to [0, 1]; n >= 2,
   * 10,000 for numbers comparable with the reference's).
   */
  score(samples: Samples): SampleScore {
    const r = classifierReadout(this.classifier, samples);
    const fid = frechetDistance(
      r.features.mean,
      r.features.cov,
      this.reference.features.mean,
      this.reference.features.cov,
    );
    return {
      fid,
      confidence: r.confidence,
      classEntropy: r.classEntropy,
      classHistogram: r.classHistogram,
      count: r.features.count,
    };
  }
}

interface ReferenceHeader {
  what: string;
  dim: number;
  count: number;
  confidence: number;
  classHistogram: number[];
}

const scorers = new Map<string, Promise<SampleScorer>>();

/**
 * The scorer: the cached score classifier ({@linkcode loadScoreClassifier},
 * trained once) and the test set's reference statistics, computed once and
 * cached in memory and in `data/cache/mnist-fid-reference-<key>.bin` (a
 * corrupt file is reported and recomputed). Calls in one process share it.
 */
export function loadSampleScorer(
  opts: LoadScoreClassifierOptions = {},
): Promise<SampleScorer> {
  const dir = opts.cacheDir ?? defaultCacheDir();
  const memo = JSON.stringify([dir, opts.training ?? {}]);
  let p = scorers.get(memo);
  if (!p) {
    p = buildScorer(dir, opts);
    scorers.set(memo, p);
    // A failure is not remembered: the next call tries again.
    p.catch(() => scorers.delete(memo));
  }
  return p;
}

/** Forgets the scorers {@linkcode loadSampleScorer} built in this process (for tests). */
export function forgetSampleScorers(): void {
  scorers.clear();
}

/** {@linkcode SampleScorer.score} with the shared scorer of {@linkcode loadSampleScorer}. */
export async function scoreSamples(
  samples: Samples,
  opts: LoadScoreClassifierOptions = {},
): Promise<SampleScore> {
  return (await loadSampleScorer(opts)).score(samples);
}

async function buildScorer(
  dir: string,
  opts: LoadScoreClassifierOptions,
): Promise<SampleScorer> {
  const clf = await loadScoreClassifier({ ...opts, cacheDir: dir });
  const test = clf.mnist.test;
  const key = await cacheKey({
    what: "mnist-fid-reference",
    version: 1,
    classifier: clf.key,
    test: await fingerprint("mnist-full test", test),
  });
  const path = join(dir, `mnist-fid-reference-${key}.bin`);
  const cached = readCache<ReferenceHeader>(path, key);
  if (cached.status === "hit") {
    const reference = decodeReference(cached.header, cached.body);
    if (reference) return new SampleScorer(clf.model, reference);
    console.warn(
      `MNIST sample score: reference statistics ${path} are unusable; recomputing`,
    );
  } else if (cached.status === "corrupt") {
    console.warn(
      `MNIST sample score: reference statistics ${path} are corrupt ` +
        `(${cached.reason}); recomputing`,
    );
  }
  const reference = classifierReadout(clf.model, test.images);
  const { dim, count, mean, cov } = reference.features;
  const body = new Float64Array(dim + dim * dim);
  body.set(mean);
  body.set(cov, dim);
  try {
    writeCache(
      path,
      key,
      {
        what:
          "Gaussian fit (mean, then covariance; float64) of the MNIST test " +
          "set's score-classifier features (lib/eval/sample_score.ts)",
        dim,
        count,
        confidence: reference.confidence,
        classHistogram: reference.classHistogram,
      } satisfies ReferenceHeader,
      [new Uint8Array(body.buffer)],
    );
  } catch (err) {
    console.warn(
      `MNIST sample score: could not cache the reference statistics in ` +
        `${path} (${(err as Error).message})`,
    );
  }
  return new SampleScorer(clf.model, reference);
}

function decodeReference(
  header: ReferenceHeader,
  body: Uint8Array,
): ClassifierReadout | null {
  const { dim, count, confidence, classHistogram } = header;
  if (
    !Number.isInteger(dim) || !Number.isInteger(count) ||
    body.byteLength !== 8 * (dim + dim * dim) ||
    !Array.isArray(classHistogram) || classHistogram.length !== 10 ||
    typeof confidence !== "number"
  ) return null;
  const values = new Float64Array(dim + dim * dim);
  new Uint8Array(values.buffer).set(body);
  if (!values.every(Number.isFinite)) return null;
  return {
    features: {
      dim,
      count,
      mean: values.slice(0, dim),
      cov: values.slice(dim),
    },
    confidence,
    classHistogram,
    classEntropy: entropy(classHistogram),
  };
}
