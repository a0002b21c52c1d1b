/**
 * A small MNIST convnet, trained once and cached, whose penultimate features
 * score generated digits (see lib/eval/sample_score.ts).
 *
 * Architecture (input 28x28x1, values in [0, 1]): conv 3x3 with 32 filters +
 * ReLU + 2x2 max pool (26 -> 13), conv 3x3 with 64 filters + ReLU + 2x2 max
 * pool (11 -> 5), dense 1600 -> 128 + ReLU (the features), dense 128 -> 10
 * (the class scores). He-uniform weights (Glorot-uniform for the last
 * layer), every draw seeded.
 *
 * {@linkcode loadScoreClassifier} returns the classifier trained on MNIST's
 * 60,000 training images (our train + valid splits; never the test set),
 * from `data/cache/` if a cache for this architecture, seed, schedule and
 * data is there, else training it and writing that cache. Training costs
 * about 190 CPU-seconds with the wasm+blas backend (3 epochs of 60,000
 * digits, about 1,000 images per CPU-second): about 2 minutes on two idle
 * cores, more on a busy machine; it reaches 99.16% test accuracy.
 *
 * @module
 */
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { Conv2D } from "../nn/conv2d.ts";
import { Dense } from "../nn/dense.ts";
import { disposeModule, type Module, trainableOf } from "../nn/module.ts";
import {
  packWeights,
  unpackWeights,
  type WeightEntry,
} from "../nn/checkpoint.ts";
import { deriveSeed } from "../random.ts";
import { epochMinibatches } from "../data/batches.ts";
import { loadMnist, type MnistSplits } from "../data/mnist.ts";
import {
  cacheKey,
  defaultCacheDir,
  readCache,
  writeCache,
} from "../data/cache.ts";
import { progress } from "../display/mod.ts";

/** MNIST image side. */
const SIDE = 28;
/** Pixels per MNIST image. */
export const MNIST_PIXELS = SIDE * SIDE;

/**
 * Labelled MNIST digits: `count` flat 28x28 images, row-major, in [0, 1]
 * (what `loadMnist` gives for each split).
 */
export interface DigitSet {
  /** `count * 784` pixel values. */
  images: Float32Array;
  /** The digit of each image. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
}

/** Architecture of {@linkcode MnistClassifier}. */
export interface MnistClassifierConfig {
  /** Seed of the weight initialization. */
  seed: number;
  /** Filters of the two conv layers; default [32, 64]. */
  filters?: [number, number];
  /** Size of the penultimate (feature) layer; default 128. */
  features?: number;
}

/** The conv-pool-conv-pool-dense-dense MNIST classifier. */
export class MnistClassifier implements Module {
  readonly conv1: Conv2D;
  readonly conv2: Conv2D;
  readonly hidden: Dense;
  readonly output: Dense;
  /** Values per example entering the hidden dense layer (5 * 5 * 64 = 1600). */
  readonly flatSize: number;
  /** Size of {@linkcode features}' rows (128). */
  readonly featureSize: number;

  constructor(readonly config: MnistClassifierConfig) {
    const [f1, f2] = config.filters ?? [32, 64];
    this.featureSize = config.features ?? 128;
    // He-uniform: a = sqrt(6 / fan_in) keeps ReLU activations' scale.
    const he = (fanIn: number) => Math.sqrt(6 / fanIn);
    this.conv1 = new Conv2D(1, f1, 3, {
      seed: deriveSeed(config.seed, "init", "conv1"),
      initScale: he(9),
      name: "mnistclf_conv1",
    });
    this.conv2 = new Conv2D(f1, f2, 3, {
      seed: deriveSeed(config.seed, "init", "conv2"),
      initScale: he(9 * f1),
      name: "mnistclf_conv2",
    });
    // 28 -> conv 26 -> pool 13 -> conv 11 -> pool 5.
    this.flatSize = 5 * 5 * f2;
    this.hidden = new Dense(this.flatSize, this.featureSize, {
      seed: deriveSeed(config.seed, "init", "fc"),
      initScale: he(this.flatSize),
      name: "mnistclf_fc",
    });
    this.output = new Dense(this.featureSize, 10, {
      seed: deriveSeed(config.seed, "init", "logits"),
      initScale: Math.sqrt(6 / (this.featureSize + 10)),
      name: "mnistclf_logits",
    });
  }

  /**
   * The penultimate activations (after the ReLU), `[batch, 128]`, of images
   * given flat (`[batch, 784]`) or NHWC (`[batch, 28, 28, 1]`), in [0, 1].
   */
  features(x: tf.Tensor2D | tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h = x.rank === 4
        ? x as tf.Tensor4D
        : tf.reshape(x, [x.shape[0], SIDE, SIDE, 1]) as tf.Tensor4D;
      h = tf.maxPool(tf.relu(this.conv1.apply(h)), 2, 2, "valid");
      h = tf.maxPool(tf.relu(this.conv2.apply(h)), 2, 2, "valid");
      const flat = tf.reshape(h, [h.shape[0], this.flatSize]) as tf.Tensor2D;
      return tf.relu(this.hidden.apply(flat));
    });
  }

  /** Class scores (pre-softmax), `[batch, 10]`. */
  logits(x: tf.Tensor2D | tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.output.apply(this.features(x)));
  }

  /** Both at once: the features and the class scores computed from them. */
  featuresAndLogits(
    x: tf.Tensor2D | tf.Tensor4D,
  ): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    const features = this.features(x);
    return { features, logits: tf.tidy(() => this.output.apply(features)) };
  }

  /** Mean softmax cross-entropy of integer labels. */
  loss(x: tf.Tensor2D | tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.logits(x);
      const onehot = tf.oneHot(tf.cast(labels, "int32"), 10);
      return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
    });
  }

  trainable(): tf.Variable[] {
    return trainableOf([this.conv1, this.conv2, this.hidden, this.output]);
  }

  state(): tf.Variable[] {
    return [];
  }
}

/** How {@linkcode trainMnistClassifier} trains. */
export interface MnistTrainingConfig {
  /** Epochs over the training images. */
  epochs: number;
  /** Minibatch size. */
  batchSize: number;
  /** Adam's learning rate in the first epoch. */
  learningRate: number;
  /** The learning rate is multiplied by this after each epoch. */
  decay: number;
  /** Seed of the minibatch shuffles. */
  seed: number;
}

/** The architecture of the cached score classifier. */
export const SCORE_CLASSIFIER_CONFIG: Readonly<
  Required<MnistClassifierConfig>
> = Object.freeze({
  seed: 6266,
  filters: [32, 64] as [number, number],
  features: 128,
});

/** How the cached score classifier is trained. */
export const SCORE_TRAINING_CONFIG: Readonly<MnistTrainingConfig> = Object
  .freeze({
    epochs: 3,
    batchSize: 64,
    learningRate: 2e-3,
    decay: 0.3,
    seed: 2015,
  });

/**
 * Trains `model` on `data` with Adam (seeded shuffles; the learning rate
 * multiplied by `decay` after each epoch), showing a progress bar unless
 * `label` is false. Returns the seconds it took and each epoch's mean
 * training loss.
 */
export async function trainMnistClassifier(
  model: MnistClassifier,
  data: DigitSet,
  config: MnistTrainingConfig,
  opts: { label?: string | false } = {},
): Promise<{ seconds: number; epochLoss: number[] }> {
  const t0 = performance.now();
  const batches = Array.from(
    { length: config.epochs },
    (_, e) => epochMinibatches(data.count, config.batchSize, config.seed, e),
  );
  const total = batches.reduce((n, b) => n + b.length, 0);
  const bar = opts.label === false
    ? null
    : progress(total, { label: opts.label ?? "MNIST classifier" });
  const variables = model.trainable();
  const optimizer = tf.train.adam(config.learningRate);
  const x = new Float32Array(config.batchSize * MNIST_PIXELS);
  const y = new Float32Array(config.batchSize);
  const epochLoss: number[] = [];
  let done = 0;
  let lastYield = performance.now();
  try {
    for (let e = 0; e < config.epochs; e++) {
      // tfjs' Adam reads its (declared protected) rate at every step.
      (optimizer as unknown as { learningRate: number }).learningRate =
        config.learningRate * config.decay ** e;
      let sum = 0;
      for (let b = 0; b < batches[e].length; b++) {
        const idx = batches[e][b];
        for (let i = 0; i < idx.length; i++) {
          const r = idx[i];
          x.set(
            data.images.subarray(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS),
            i * MNIST_PIXELS,
          );
          y[i] = data.labels[r];
        }
        const loss = tf.tidy(() => {
          const xt = tf.tensor2d(x, [idx.length, MNIST_PIXELS]);
          const yt = tf.tensor1d(y);
          return optimizer.minimize(() => model.loss(xt, yt), true, variables)!;
        });
        const v = loss.dataSync()[0];
        loss.dispose();
        if (!Number.isFinite(v)) {
          throw new Error(
            `MNIST classifier training diverged: loss ${v} at epoch ${
              e + 1
            }, step ${b + 1}; lower the learning rate`,
          );
        }
        sum += v;
        done++;
        bar?.update(done, { epoch: e + 1, loss: sum / (b + 1) });
        // Let Jupyter's display messages and timers through now and then.
        if (performance.now() - lastYield > 200) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
      }
      epochLoss.push(sum / batches[e].length);
    }
  } finally {
    optimizer.dispose();
    await bar?.close();
  }
  return { seconds: (performance.now() - t0) / 1000, epochLoss };
}

/**
 * Class predictions and the accuracy of `model` on `data`, in batches of
 * `batchSize` (default 500).
 */
export function classifierAccuracy(
  model: MnistClassifier,
  data: DigitSet,
  batchSize = 500,
): number {
  let correct = 0;
  for (let s = 0; s < data.count; s += batchSize) {
    const n = Math.min(batchSize, data.count - s);
    const pred = tf.tidy(() =>
      tf.argMax(
        model.logits(
          tf.tensor2d(
            data.images.subarray(s * MNIST_PIXELS, (s + n) * MNIST_PIXELS),
            [n, MNIST_PIXELS],
          ),
        ),
        1,
      )
    );
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < n; i++) if (p[i] === data.labels[s + i]) correct++;
  }
  return correct / data.count;
}

/** What the score classifier's cache file header holds. */
interface ClassifierCacheHeader {
  /** Human-readable: what this file is. */
  what: string;
  architecture: Required<MnistClassifierConfig>;
  training: MnistTrainingConfig;
  data: DataFingerprint;
  variables: WeightEntry[];
  trainSeconds: number;
  epochLoss: number[];
  /** The tfjs backend it was trained on. */
  backend: string;
}

/** Identifies a set of images and labels: its size and a content hash. */
export interface DataFingerprint {
  /** What the images are, e.g. "mnist-full train+valid". */
  name: string;
  count: number;
  /** SHA-256 (first 16 hex digits) of the labels and the float32 pixels. */
  sha256: string;
}

/** A size-and-content fingerprint of `set` (hashes its bytes; ~0.2 s for 60,000 digits). */
export async function fingerprint(
  name: string,
  set: DigitSet,
): Promise<DataFingerprint> {
  const bytes = new Uint8Array(set.labels.length + set.images.byteLength);
  bytes.set(set.labels);
  bytes.set(
    new Uint8Array(
      set.images.buffer,
      set.images.byteOffset,
      set.images.byteLength,
    ),
    set.labels.length,
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const sha256 = Array.from(
    digest.subarray(0, 8),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return { name, count: set.count, sha256 };
}

/** `a` followed by `b` (same image size). */
export function concatDigitSets(a: DigitSet, b: DigitSet): DigitSet {
  const images = new Float32Array(a.images.length + b.images.length);
  images.set(a.images);
  images.set(b.images, a.images.length);
  const labels = new Uint8Array(a.count + b.count);
  labels.set(a.labels);
  labels.set(b.labels, a.count);
  return { images, labels, count: a.count + b.count };
}

/** Options of {@linkcode loadScoreClassifier}. */
export interface LoadScoreClassifierOptions {
  /** Folder of the cache file; default `data/cache/` at the repository root. */
  cacheDir?: string;
  /** MNIST, if the caller has loaded it already (must be `"mnist-full"`, unlimited). */
  mnist?: MnistSplits;
  /** Show no message or progress bar (warnings about a bad cache still show). */
  quiet?: boolean;
  /**
   * Overrides of {@linkcode SCORE_TRAINING_CONFIG}, and `limit`: train on
   * only the first `limit` training images. For quick tests and experiments
   * only (they get their own cache file); scores are comparable only with
   * the defaults.
   */
  training?: Partial<MnistTrainingConfig> & { limit?: number };
}

/** The score classifier and where it came from. */
export interface ScoreClassifier {
  /** The trained classifier. */
  model: MnistClassifier;
  /** The cache key (architecture, training, data). */
  key: string;
  /** The cache file. */
  path: string;
  /** Whether this call trained it (the cache was missing or unusable). */
  trained: boolean;
  /** Seconds the training took (when it was trained, then or earlier). */
  trainSeconds: number;
  /** The MNIST splits used (train + valid trained it; test is never trained on). */
  mnist: MnistSplits;
}

const loaded = new Map<string, Promise<ScoreClassifier>>();

/**
 * The MNIST classifier the sample score uses, trained once on MNIST's 60,000
 * training images (train + valid of `loadMnist({ source: "mnist-full" })`)
 * with {@linkcode SCORE_CLASSIFIER_CONFIG} and {@linkcode SCORE_TRAINING_CONFIG},
 * and cached in `data/cache/mnist-classifier-<key>.bin`. The key hashes the
 * architecture, the training settings and a fingerprint of the data, so
 * changing any of them retrains. A missing cache is trained (one console
 * line says so, then a progress bar; 1-3 minutes on two cores with
 * wasm+blas, on whichever backend is active); a corrupt or incompatible one
 * is reported with `console.warn` and retrained. Calls in one process share
 * the result.
 */
export function loadScoreClassifier(
  opts: LoadScoreClassifierOptions = {},
): Promise<ScoreClassifier> {
  const dir = opts.cacheDir ?? defaultCacheDir();
  const memo = JSON.stringify([dir, opts.training ?? {}]);
  let p = loaded.get(memo);
  if (!p) {
    p = loadOrTrain(dir, opts);
    loaded.set(memo, p);
    // A failure is not remembered: the next call tries again.
    p.catch(() => loaded.delete(memo));
  }
  return p;
}

/**
 * Forgets the classifiers {@linkcode loadScoreClassifier} loaded in this
 * process, so the next call reads the cache again (for tests). Their models
 * stay usable (not disposed).
 */
export function forgetScoreClassifiers(): void {
  loaded.clear();
}

async function loadOrTrain(
  dir: string,
  opts: LoadScoreClassifierOptions,
): Promise<ScoreClassifier> {
  const mnist = opts.mnist ?? await loadMnist({ source: "mnist-full" });
  const counts = [mnist.train.count + mnist.valid.count, mnist.test.count];
  if (counts[0] !== 60000 || counts[1] !== 10000) {
    throw new RangeError(
      `loadScoreClassifier: needs the full MNIST (60,000 training images ` +
        `in train + valid, 10,000 test), got ${counts[0]} and ${counts[1]}; ` +
        `load it with loadMnist({ source: "mnist-full" }) and no limits`,
    );
  }
  const { limit, ...overrides } = opts.training ?? {};
  let trainSet = concatDigitSets(mnist.train, mnist.valid);
  if (limit !== undefined) {
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= trainSet.count)) {
      throw new RangeError(
        `loadScoreClassifier: training.limit must be an integer in ` +
          `[1, ${trainSet.count}], got ${limit}`,
      );
    }
    trainSet = {
      images: trainSet.images.subarray(0, limit * MNIST_PIXELS),
      labels: trainSet.labels.subarray(0, limit),
      count: limit,
    };
  }
  const data = await fingerprint(
    `mnist-full train+valid${limit === undefined ? "" : `, first ${limit}`}`,
    trainSet,
  );
  const architecture = { ...SCORE_CLASSIFIER_CONFIG };
  const training = { ...SCORE_TRAINING_CONFIG, ...overrides };
  const key = await cacheKey({
    what: "mnist-classifier",
    // Bump when the training code changes what a configuration trains.
    version: 3,
    architecture,
    training,
    data,
  });
  const path = join(dir, `mnist-classifier-${key}.bin`);
  const model = new MnistClassifier(architecture);

  const cached = readCache<ClassifierCacheHeader>(path, key);
  if (cached.status === "hit") {
    try {
      const { body, header } = cached;
      if (body.byteLength % 4 !== 0) {
        throw new Error(`its body of ${body.byteLength} bytes is not float32s`);
      }
      const floats = new Float32Array(body.byteLength / 4);
      new Uint8Array(floats.buffer).set(body);
      if (!Array.isArray(header.variables)) {
        throw new Error("its header lists no variables");
      }
      const needed = header.variables.reduce(
        (n, e) => Math.max(n, e.offset + e.shape.reduce((a, b) => a * b, 1)),
        0,
      );
      if (needed !== floats.length) {
        throw new Error(
          `its variables need ${needed} floats, the body has ${floats.length}`,
        );
      }
      unpackWeights(model, header.variables, floats);
      if (model.trainable().some((v) => !allFinite(v))) {
        throw new Error("its weights hold NaN or infinite values");
      }
      return {
        model,
        key,
        path,
        trained: false,
        trainSeconds: Number(header.trainSeconds),
        mnist,
      };
    } catch (err) {
      console.warn(
        `MNIST score classifier: cache ${path} is unusable ` +
          `(${(err as Error).message}); retraining`,
      );
    }
  } else if (cached.status === "corrupt") {
    console.warn(
      `MNIST score classifier: cache ${path} is corrupt (${cached.reason}); retraining`,
    );
  }

  if (!opts.quiet) {
    const usual = limit === undefined && Object.keys(overrides).length === 0;
    console.log(
      `MNIST score classifier: training it once (${training.epochs} epochs ` +
        `on ${trainSet.count.toLocaleString("en-US")} images${
          usual ? ", 1-3 minutes on two cores with wasm+blas" : ""
        }); caching it in ${path}`,
    );
  }
  // Retraining may follow a failed load: start again from the seeded init.
  const fresh = new MnistClassifier(architecture);
  disposeModule(model);
  const { seconds, epochLoss } = await trainMnistClassifier(
    fresh,
    trainSet,
    training,
    { label: opts.quiet ? false : "MNIST score classifier" },
  );
  const { manifest, data: weights } = packWeights(fresh);
  const header: ClassifierCacheHeader = {
    what:
      "MNIST classifier for the sample score (lib/models/mnist_classifier.ts)",
    architecture,
    training,
    data,
    variables: manifest,
    trainSeconds: seconds,
    epochLoss,
    backend: tf.getBackend(),
  };
  try {
    writeCache(path, key, header, [
      new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    ]);
  } catch (err) {
    console.warn(
      `MNIST score classifier: could not cache it in ${path} ` +
        `(${(err as Error).message}); it will be trained again next time`,
    );
  }
  return {
    model: fresh,
    key,
    path,
    trained: true,
    trainSeconds: seconds,
    mnist,
  };
}

function allFinite(v: tf.Tensor): boolean {
  const d = v.dataSync();
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  return true;
}
