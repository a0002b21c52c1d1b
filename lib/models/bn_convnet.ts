/**
 * The seed's batch-normalized convnet for Dogs vs. Cats
 * (normalized_convnet.py, IFT6266 Week 8).
 *
 * Input 48x48x3 (NHWC). Three convolutions, each followed by batch norm,
 * ReLU and 2x2 max pooling: 3x3 stride 2 with 32 filters, 2x2 with 64, 2x2
 * with 128. Then dense 512 -> 128 and 128 -> 16, each with batch norm and
 * ReLU, and a softmax over 2 classes. `width` scales every layer's size (0.5:
 * the "~50% smaller network"); `batchNorm: false` drops every batch norm.
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
import { ConvBN } from "../nn/conv_bn.ts";
import { Dense } from "../nn/dense.ts";
import { DenseBN } from "../nn/dense_bn.ts";
import type { NormMode } from "../nn/module.ts";
import { deriveSeed } from "../random.ts";

/** Architecture of {@linkcode BNConvNet}. */
export interface BNConvNetConfig {
  /** Input side (square images); default 48. */
  inputSize?: number;
  /** Input channels; default 3. */
  channels?: number;
  /** Multiplies every layer's width; default 1. */
  width?: number;
  /** Batch norm after every conv and hidden dense layer; default true. */
  batchNorm?: boolean;
  /** Number of classes; default 2. */
  classes?: number;
  /** Seed of the weight initialization. */
  seed: number;
  /** Uniform init scale; default 0.1 as in the seed. */
  initScale?: number;
}

/** The seed's Week 8 convnet. */
export class BNConvNet implements BatchNormModel {
  /** Its name in saved runs (see lib/runs.ts). */
  readonly kind = "bn_convnet";
  /** It takes NHWC images. */
  readonly inputLayout: ImageLayout = "nhwc";
  /** The three conv stages: conv, optional batch norm, ReLU, 2x2 max pool. */
  readonly stages: ConvBN[];
  /** Side of each stage's (square) convolution output, before pooling. */
  readonly convSides: number[];
  /** The two hidden dense layers (dense, optional batch norm, ReLU). */
  readonly hidden: DenseBN[];
  /** The output layer (class scores). */
  readonly output: Dense;
  /** Values per example entering the first dense layer (512 at 48x48, full width). */
  readonly flatSize: number;

  constructor(readonly config: BNConvNetConfig) {
    const w = config.width ?? 1;
    const batchNorm = config.batchNorm ?? true;
    const size = (n: number) => Math.max(1, Math.round(n * w));
    const initScale = config.initScale;
    const specs = [
      { out: size(32), kernel: 3, stride: 2 },
      { out: size(64), kernel: 2, stride: 1 },
      { out: size(128), kernel: 2, stride: 1 },
    ];
    let channels = config.channels ?? 3;
    let side = config.inputSize ?? 48;
    this.convSides = [];
    this.stages = specs.map((s, i) => {
      const stage = new ConvBN(channels, s.out, {
        seed: deriveSeed(config.seed, "init", `conv${i}`),
        kernel: s.kernel,
        stride: s.stride,
        activation: "relu",
        batchNorm,
        pool: 2,
        initScale,
        name: `conv${i}`,
      });
      this.convSides.push(stage.convOutputSize(side, side)[0]);
      channels = s.out;
      side = stage.outputSize(side, side)[0];
      return stage;
    });
    if (side < 1) {
      throw new Error(
        `input of ${config.inputSize} pixels is too small for this net`,
      );
    }
    this.flatSize = side * side * channels;
    // The seed's dense stack: 512 (= 2x2x128 at 48x48 input) -> 128 -> 16.
    const dense = [this.flatSize, size(128), size(16)];
    this.hidden = dense.slice(1).map((o, i) =>
      new DenseBN(dense[i], o, {
        seed: deriveSeed(config.seed, "init", `fc${i}`),
        activation: "relu",
        initScale,
        batchNorm,
        name: `fc${i}`,
      })
    );
    this.output = new Dense(dense[dense.length - 1], config.classes ?? 2, {
      seed: deriveSeed(config.seed, "init", "logits"),
      initScale,
      name: "logits",
    });
  }

  /**
   * Class scores (pre-softmax) for NHWC images. `tap`, if given, sees the
   * input of every batch-norm layer.
   */
  logits(x: tf.Tensor4D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    let h = x;
    for (const stage of this.stages) h = stage.apply(h, mode, tap);
    let f = tf.reshape(h, [h.shape[0], this.flatSize]) as tf.Tensor2D;
    for (const l of this.hidden) f = l.apply(f, mode, tap);
    return this.output.apply(f);
  }

  /** Class probabilities (softmax of the logits), `[batch, classes]`. */
  probabilities(x: tf.Tensor4D, mode: NormMode): tf.Tensor2D {
    return tf.softmax(this.logits(x, mode));
  }

  /** Mean cross-entropy of integer labels, and the logits it came from. */
  loss(
    x: tf.Tensor4D,
    labels: tf.Tensor1D,
    mode: NormMode,
  ): { loss: tf.Scalar; logits: tf.Tensor2D } {
    const logits = this.logits(x, mode);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    const loss = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
    return { loss, logits };
  }

  /** {@linkcode logits}, outputs discarded (see {@linkcode BatchNormModel}). */
  forwardPass(x: tf.Tensor, mode: NormMode, opts: ForwardPassOptions = {}) {
    this.logits(x as tf.Tensor4D, mode, opts.tap);
  }

  /**
   * Every batch-norm layer with its name and values per example, in data
   * order (empty without batch norm).
   */
  batchNormSites(): BatchNormSite[] {
    const sites: BatchNormSite[] = [];
    this.stages.forEach((s, i) => {
      if (s.bn) {
        sites.push({
          name: s.name,
          bn: s.bn,
          valuesPerExample: this.convSides[i] ** 2,
        });
      }
    });
    for (const l of this.hidden) {
      if (l.bn) sites.push({ name: l.name, bn: l.bn, valuesPerExample: 1 });
    }
    return sites;
  }

  /** Weights, biases, gammas and betas: what the optimizer updates. */
  trainable(): tf.Variable[] {
    return [
      ...this.stages.flatMap((s) => s.trainable()),
      ...this.hidden.flatMap((l) => l.trainable()),
      ...this.output.trainable(),
    ];
  }

  /** The batch norms' population statistics. */
  state(): tf.Variable[] {
    return this.batchNormSites().flatMap((s) => s.bn.state());
  }
}
