/**
 * The convolutional twin of {@linkcode DenseBN}: a convolution, batch
 * normalization, an activation and optional max pooling, the block the
 * seed's convnets stack (`conv_layer` + `normalization_layer` + pooling in
 * normalized_convnet.py and conv_vae.py).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { activate, type Activation } from "./activations.ts";
import { BatchNorm, type NormTap } from "./batch_norm.ts";
import { Conv2D } from "./conv2d.ts";
import type { Module, NormMode } from "./module.ts";

/** Options for {@linkcode ConvBN}. */
export interface ConvBNOptions {
  /** Seed of the weight initialization. */
  seed: number;
  /** Side of the square filters. */
  kernel: number;
  /** Stride in both directions; default 1. */
  stride?: number;
  /** "valid" (default) or "same". */
  padding?: "valid" | "same";
  /** Activation after batch norm; default "linear". */
  activation?: Activation;
  /** False drops batch norm (for with/without comparisons). Default true. */
  batchNorm?: boolean;
  /** Side of the non-overlapping max-pooling window after the activation; default none. */
  pool?: number;
  /** Uniform init scale of the filters; default 0.1. */
  initScale?: number;
  /** Variable name prefix, e.g. "conv0". */
  name?: string;
}

/** `maxPool(activation(BN(conv2d(x, W) + b)))` over NHWC images. */
export class ConvBN implements Module {
  readonly conv: Conv2D;
  readonly bn: BatchNorm | null;
  readonly activation: Activation;
  /** Pooling window side, or 0 for none. */
  readonly pool: number;
  /** The layer's name (its variables' prefix). */
  readonly name: string;

  constructor(inChannels: number, outChannels: number, opts: ConvBNOptions) {
    this.name = opts.name ?? "conv_bn";
    this.conv = new Conv2D(inChannels, outChannels, opts.kernel, {
      seed: opts.seed,
      stride: opts.stride,
      padding: opts.padding,
      initScale: opts.initScale,
      name: this.name,
    });
    this.bn = opts.batchNorm === false
      ? null
      : new BatchNorm(outChannels, { name: `${this.name}_bn` });
    this.activation = opts.activation ?? "linear";
    this.pool = opts.pool ?? 0;
    if (!(Number.isInteger(this.pool) && this.pool >= 0)) {
      throw new RangeError(
        `ConvBN ${this.name}: pool must be a non-negative integer, got ${opts.pool}`,
      );
    }
  }

  /**
   * Forward pass over `[batch, height, width, inChannels]`; `mode` picks
   * minibatch or population statistics, `tap` sees batch norm's input.
   */
  apply(x: tf.Tensor4D, mode: NormMode, tap?: NormTap): tf.Tensor4D {
    // The bias and activation go into batch norm's fused op.
    const h = this.bn
      ? this.bn.apply(this.conv.applyWithoutBias(x), mode, {
        bias: this.conv.b,
        activation: this.activation,
        tap,
      })
      : activate(this.conv.apply(x), this.activation);
    return this.pool > 0 ? tf.maxPool(h, this.pool, this.pool, "valid") : h;
  }

  /** Height and width of the convolution's output (before pooling). */
  convOutputSize(height: number, width: number): [number, number] {
    const { kernel, stride, padding } = this.conv;
    const side = (n: number) =>
      padding === "same"
        ? Math.ceil(n / stride)
        : Math.floor((n - kernel) / stride + 1);
    return [side(height), side(width)];
  }

  /** Height and width of the layer's output (after pooling). */
  outputSize(height: number, width: number): [number, number] {
    const [h, w] = this.convOutputSize(height, width);
    return this.pool > 0
      ? [Math.floor(h / this.pool), Math.floor(w / this.pool)]
      : [h, w];
  }

  trainable(): tf.Variable[] {
    return [...this.conv.trainable(), ...(this.bn?.trainable() ?? [])];
  }

  state(): tf.Variable[] {
    return this.bn?.state() ?? [];
  }
}
