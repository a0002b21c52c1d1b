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
import { activate, type Activation } from "../nn/activations.ts";
import { BatchNorm } from "../nn/batch_norm.ts";
import { Conv2D } from "../nn/conv2d.ts";
import { Dense } from "../nn/dense.ts";
import { DenseBN } from "../nn/dense_bn.ts";
import type { Module, NormMode } from "../nn/module.ts";
import { Rng } from "../random.ts";

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

/** One conv stage: conv, optional batch norm, ReLU, 2x2 max pool. */
export interface ConvStage {
  /** The convolution. */
  conv: Conv2D;
  /** Its batch norm, or null without batch norm. */
  bn: BatchNorm | null;
  /** Side of the convolution's (square) output, before pooling. */
  convSide: number;
}

/** A batch-norm layer of the net and how many values each example gives it. */
export interface BatchNormSite {
  /** Readable layer name, e.g. "conv0" or "fc1". */
  name: string;
  /** The layer. */
  bn: BatchNorm;
  /**
   * Values per feature per example: H*W of the conv output for a conv layer,
   * 1 for a dense layer. A batch of `b` examples gives m = b * this.
   */
  valuesPerExample: number;
}

/**
 * Called with the input of each batch-norm layer (before normalization)
 * during a forward pass, e.g. to collect minibatch statistics.
 */
export type NormTap = (site: BatchNormSite, input: tf.Tensor) => void;

/** The seed's Week 8 convnet. */
export class BNConvNet implements Module {
  /** The three conv stages. */
  readonly stages: ConvStage[];
  /** The two hidden dense layers (dense, optional batch norm, ReLU). */
  readonly hidden: DenseBN[];
  /** The output layer (class scores). */
  readonly output: Dense;
  /** Values per example entering the first dense layer (512 at 48x48, full width). */
  readonly flatSize: number;

  constructor(readonly config: BNConvNetConfig) {
    const rng = new Rng(config.seed);
    const w = config.width ?? 1;
    const bn = config.batchNorm ?? true;
    const size = (n: number) => Math.max(1, Math.round(n * w));
    const init = config.initScale;
    const specs = [
      { out: size(32), kernel: 3, stride: 2 },
      { out: size(64), kernel: 2, stride: 1 },
      { out: size(128), kernel: 2, stride: 1 },
    ];
    let channels = config.channels ?? 3;
    let side = config.inputSize ?? 48;
    this.stages = specs.map((s, i) => {
      const convSide = Math.floor((side - s.kernel) / s.stride + 1);
      const conv = new Conv2D(channels, s.out, s.kernel, {
        seed: rng.seed(),
        stride: s.stride,
        initScale: init,
        name: `conv${i}`,
      });
      channels = s.out;
      side = Math.floor(convSide / 2);
      return {
        conv,
        bn: bn ? new BatchNorm(s.out, { name: `conv${i}_bn` }) : null,
        convSide,
      };
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
        seed: rng.seed(),
        activation: "relu",
        initScale: init,
        batchNorm: bn,
        name: `fc${i}`,
      })
    );
    this.output = new Dense(dense[dense.length - 1], config.classes ?? 2, {
      seed: rng.seed(),
      initScale: init,
      name: "logits",
    });
  }

  /**
   * Class scores (pre-softmax) for NHWC images. `tap`, if given, sees the
   * input of every batch-norm layer.
   */
  logits(x: tf.Tensor4D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    const sites = this.batchNormSites();
    // The layer's bias and the ReLU go into batch norm's fused op.
    const norm = <T extends tf.Tensor>(
      bn: BatchNorm,
      h: T,
      bias: tf.Tensor | null,
      activation: Activation,
    ): T => {
      if (tap) {
        tap(sites.find((s) => s.bn === bn)!, bias ? tf.add(h, bias) : h);
      }
      return bn.apply(h, mode, { bias: bias ?? undefined, activation });
    };
    let h = x;
    for (const { conv, bn } of this.stages) {
      const c = bn
        ? norm(bn, conv.applyWithoutBias(h), conv.b, "relu")
        : tf.relu(conv.apply(h));
      h = tf.maxPool(c, 2, 2, "valid");
    }
    let f = tf.reshape(h, [h.shape[0], this.flatSize]) as tf.Tensor2D;
    for (const l of this.hidden) {
      f = l.bn
        ? norm(l.bn, l.dense.applyWithoutBias(f), l.dense.b, l.activation)
        : activate(l.dense.apply(f), l.activation);
    }
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

  /**
   * Every batch-norm layer with its name and values per example, in data
   * order (empty without batch norm).
   */
  batchNormSites(): BatchNormSite[] {
    const sites: BatchNormSite[] = [];
    this.stages.forEach((s, i) => {
      if (s.bn) {
        sites.push({
          name: `conv${i}`,
          bn: s.bn,
          valuesPerExample: s.convSide * s.convSide,
        });
      }
    });
    this.hidden.forEach((l, i) => {
      if (l.bn) sites.push({ name: `fc${i}`, bn: l.bn, valuesPerExample: 1 });
    });
    return sites;
  }

  /** Every batch-norm layer, in data order. */
  batchNorms(): BatchNorm[] {
    return [
      ...this.stages.flatMap((s) => (s.bn ? [s.bn] : [])),
      ...this.hidden.flatMap((l) => (l.bn ? [l.bn] : [])),
    ];
  }

  /** Weights, biases, gammas and betas: what the optimizer updates. */
  trainable(): tf.Variable[] {
    return [
      ...this.stages.flatMap((
        s,
      ) => [...s.conv.trainable(), ...(s.bn?.trainable() ?? [])]),
      ...this.hidden.flatMap((l) => l.trainable()),
      ...this.output.trainable(),
    ];
  }

  /** The batch norms' population statistics. */
  state(): tf.Variable[] {
    return this.batchNorms().flatMap((b) => b.state());
  }
}
