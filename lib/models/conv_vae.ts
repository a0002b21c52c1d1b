/**
 * The seed's convolutional VAE (conv_vae.py, IFT6266 Week 11) with batch
 * normalization at every layer, over NHWC images (MNIST: `[n, 28, 28, 1]` in
 * [0, 1]).
 *
 * - encoder: per entry of `encChannels` (the seed's 64, 128) a "same" 3x3
 *   convolution + BN + ReLU + 2x2 max pooling (28 -> 14 -> 7); flattened, a
 *   dense layer to `hiddenSize` + BN + tanh; then two dense + BN heads,
 *   `mu` (linear) and `sigma = softplus(.)`; `z = mu + sigma * eps`.
 * - decoder: dense from the code to `decChannels[0]` maps of the encoder's
 *   last size (128 x 7 x 7) + BN + ReLU; then per entry of `decChannels` a
 *   factor-2 zero-insertion depool (lib/nn/depool.ts) and a "same" 3x3
 *   convolution to the next entry's channels (the last to the image's) + BN,
 *   ReLU but the last (hard tanh).
 * - cost, summed over the batch: `KL(q(z|x) || N(0, I)) + sum((x - y)^2)`,
 *   as the feed-forward VAE's ({@linkcode vaeCostTerms}); a
 *   {@linkcode VAEModel}, so Week 9's training and evaluation steps take it.
 *
 * Weights are uniform in [-0.05, 0.05] (the seed's `0.1 * (rand - 0.5)`),
 * biases 0. The decoder's depool + convolution runs as one transposed
 * convolution ({@linkcode depoolConv2d}): the same products without the
 * inserted zeros.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ImageLayout } from "../data/images.ts";
import type { NormTap } from "../nn/batch_norm.ts";
import type { BatchNormSite } from "../nn/batch_norm_model.ts";
import { ConvBN } from "../nn/conv_bn.ts";
import { DenseBN, seededLayers } from "../nn/dense_bn.ts";
import { depoolConv2d } from "../nn/depool.ts";
import type { NormMode } from "../nn/module.ts";
import { deriveSeed } from "../random.ts";
import { GaussianVAE } from "./vae.ts";

/** Architecture of {@linkcode ConvVAE}; every field but `seed` has the seed's value as default. */
export interface ConvVAEConfig {
  /** Seed of the weight initialization. */
  seed: number;
  /** Image height and width; default 28. */
  imageSize?: number;
  /** Image channels; default 1. */
  imageChannels?: number;
  /** Channels of the encoder's convolutions; default [64, 128]. */
  encChannels?: number[];
  /** Units of the dense layer before the code; default 512. */
  hiddenSize?: number;
  /** Code (latent) size; default 512. */
  codeSize?: number;
  /**
   * Channels of the decoder's maps: the dense layer's (reshaped) output,
   * then each convolution's but the last (which gives the image's); default
   * [128, 64]. As long as `encChannels`: each entry is one depool.
   */
  decChannels?: number[];
  /** Side of the square filters; default 3. */
  kernel?: number;
  /** Uniform init scale of the weights; default 0.05 as in the seed. */
  initScale?: number;
  /**
   * How the decoder computes depool + convolution: "transposed" (default,
   * the zeros skipped) or "literal" (`conv2d(depool2d(x))`); the same
   * function up to rounding.
   */
  depoolConv?: "transposed" | "literal";
}

/** {@linkcode ConvVAEConfig} with every default filled in. */
export type ConvVAEResolvedConfig = Required<ConvVAEConfig>;

/** The seed's architecture (conv_vae.py's main), but for the seed. */
export const CONV_VAE_DEFAULTS: Omit<ConvVAEResolvedConfig, "seed"> = {
  imageSize: 28,
  imageChannels: 1,
  encChannels: [64, 128],
  hiddenSize: 512,
  codeSize: 512,
  decChannels: [128, 64],
  kernel: 3,
  initScale: 0.05,
  depoolConv: "transposed",
};

function positiveInt(name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(
      `ConvVAE: ${name} must be a positive integer, got ${v}`,
    );
  }
}

/** A convolutional VAE whose every layer has batch norm (see the module doc). */
export class ConvVAE extends GaussianVAE<tf.Tensor4D> {
  /** Its name in saved runs (see lib/runs.ts). */
  readonly kind = "conv_vae";
  /** It takes NHWC images, `[batch, imageSize, imageSize, imageChannels]`. */
  readonly inputLayout: ImageLayout = "nhwc";
  /** Every field, defaults filled in (what saved runs store). */
  readonly config: ConvVAEResolvedConfig;
  /** conv + BN + ReLU + 2x2 max pool stages. */
  readonly encoderConvs: ConvBN[];
  /** The dense + BN + tanh layer before the code. */
  readonly hidden: DenseBN;
  readonly muHead: DenseBN;
  readonly sigmaHead: DenseBN;
  /** Dense + BN + ReLU from the code to the first decoder maps. */
  readonly decoderDense: DenseBN;
  /** depool + conv + BN stages (ReLU, the last hard tanh); no pooling. */
  readonly decoderConvs: ConvBN[];
  /** Side of the smallest maps (the encoder's last, the decoder's first). */
  readonly bottleneckSize: number;

  constructor(config: ConvVAEConfig) {
    super();
    const c: ConvVAEResolvedConfig = { ...CONV_VAE_DEFAULTS, ...config };
    c.encChannels = [...c.encChannels];
    c.decChannels = [...c.decChannels];
    this.config = c;
    for (
      const k of [
        "imageSize",
        "imageChannels",
        "hiddenSize",
        "codeSize",
        "kernel",
      ] as const
    ) positiveInt(k, c[k]);
    const depth = c.encChannels.length;
    if (depth === 0 || c.decChannels.length !== depth) {
      throw new RangeError(
        `ConvVAE: encChannels and decChannels need the same, non-zero ` +
          `length (one depool per pool), got [${c.encChannels}] and ` +
          `[${c.decChannels}]`,
      );
    }
    for (const ch of [...c.encChannels, ...c.decChannels]) {
      positiveInt("every channel count", ch);
    }
    if (c.imageSize % 2 ** depth !== 0) {
      throw new RangeError(
        `ConvVAE: imageSize ${c.imageSize} must be divisible by 2^${depth} ` +
          `(${depth} 2x2 poolings)`,
      );
    }
    if (c.depoolConv !== "transposed" && c.depoolConv !== "literal") {
      throw new RangeError(
        `ConvVAE: depoolConv must be "transposed" or "literal", got ` +
          `${JSON.stringify(c.depoolConv)}`,
      );
    }
    this.bottleneckSize = c.imageSize / 2 ** depth;
    const conv = (
      i: number,
      o: number,
      activation: ConvBN["activation"],
      pool: number,
      name: string,
    ) =>
      new ConvBN(i, o, {
        seed: deriveSeed(c.seed, "init", name),
        kernel: c.kernel,
        padding: "same",
        activation,
        pool,
        initScale: c.initScale,
        name,
      });
    const dense = seededLayers(c.seed, { initScale: c.initScale }).denseBN;
    const enc = [c.imageChannels, ...c.encChannels];
    this.encoderConvs = c.encChannels.map((ch, i) =>
      conv(enc[i], ch, "relu", 2, `enc${i}`)
    );
    const s = this.bottleneckSize;
    this.hidden = dense(
      s * s * c.encChannels[depth - 1],
      c.hiddenSize,
      "tanh",
      `enc${depth}`,
    );
    this.muHead = dense(c.hiddenSize, c.codeSize, "linear", "mu");
    this.sigmaHead = dense(c.hiddenSize, c.codeSize, "softplus", "sigma");
    this.decoderDense = dense(
      c.codeSize,
      s * s * c.decChannels[0],
      "relu",
      "dec0",
    );
    const dec = [...c.decChannels, c.imageChannels];
    this.decoderConvs = c.decChannels.map((ch, i) =>
      conv(
        ch,
        dec[i + 1],
        i === depth - 1 ? "hardtanh" : "relu",
        0,
        `dec${i + 1}`,
      )
    );
  }

  /** q(z|x): the code's mean and standard deviation, `[batch, codeSize]` each. */
  encode(
    x: tf.Tensor4D,
    mode: NormMode,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D } {
    let h = x;
    for (const l of this.encoderConvs) h = l.apply(h, mode, tap);
    const flat = h.reshape([h.shape[0], -1]) as tf.Tensor2D;
    const hid = this.hidden.apply(flat, mode, tap);
    return {
      mu: this.muHead.apply(hid, mode, tap),
      sigma: this.sigmaHead.apply(hid, mode, tap),
    };
  }

  /** The reconstruction (or sample) for codes `z`: NHWC images in [-1, 1]. */
  decode(z: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor4D {
    const s = this.bottleneckSize;
    let h = this.decoderDense.apply(z, mode, tap).reshape([
      z.shape[0],
      s,
      s,
      this.config.decChannels[0],
    ]) as tf.Tensor4D;
    for (const l of this.decoderConvs) h = this.#depoolLayer(l, h, mode, tap);
    return h;
  }

  // depool x2, then the layer's conv + BN + activation (its bias in BN).
  #depoolLayer(
    l: ConvBN,
    x: tf.Tensor4D,
    mode: NormMode,
    tap?: NormTap,
  ): tf.Tensor4D {
    const conv = depoolConv2d(x, l.conv.w as tf.Tensor4D, {
      factor: 2,
      method: this.config.depoolConv,
    });
    return l.bn!.apply(conv, mode, {
      bias: l.conv.b,
      activation: l.activation,
      tap,
    });
  }

  /**
   * Every batch-norm layer in data order, with its values per example: H*W
   * of the convolution's output (before pooling) for a conv layer, 1 for a
   * dense one.
   */
  batchNormSites(): BatchNormSite[] {
    const { imageSize } = this.config;
    const sites: BatchNormSite[] = [];
    let side = imageSize;
    for (const l of this.encoderConvs) {
      const [h, w] = l.convOutputSize(side, side);
      sites.push({ name: l.name, bn: l.bn!, valuesPerExample: h * w });
      side = l.outputSize(side, side)[0];
    }
    for (const l of [this.hidden, this.muHead, this.sigmaHead]) {
      sites.push({ name: l.name, bn: l.bn!, valuesPerExample: 1 });
    }
    sites.push({
      name: this.decoderDense.name,
      bn: this.decoderDense.bn!,
      valuesPerExample: 1,
    });
    for (const l of this.decoderConvs) {
      side *= 2;
      sites.push({ name: l.name, bn: l.bn!, valuesPerExample: side * side });
    }
    return sites;
  }

  /** Every layer, in the order the data flows. */
  layers(): (ConvBN | DenseBN)[] {
    return [
      ...this.encoderConvs,
      this.hidden,
      this.muHead,
      this.sigmaHead,
      this.decoderDense,
      ...this.decoderConvs,
    ];
  }

  trainable(): tf.Variable[] {
    return this.layers().flatMap((l) => l.trainable());
  }

  state(): tf.Variable[] {
    return this.layers().flatMap((l) => l.state());
  }
}
