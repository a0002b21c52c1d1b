/**
 * A 2-D convolution layer over NHWC images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Module, uniformInit, uniqueName } from "./module.ts";

/** Options for {@linkcode Conv2D}. */
export interface Conv2DOptions {
  /** Seed of the weight initialization. */
  seed: number;
  /** Stride in both directions; default 1. */
  stride?: number;
  /** "valid" (the seed's) or "same"; default "valid". */
  padding?: "valid" | "same";
  /** Weights are uniform in [-initScale, initScale]; default 0.1 as in the seed. */
  initScale?: number;
  /** Variable name prefix. */
  name?: string;
}

/** `conv2d(x, W) + b` with square `kernel x kernel` filters. */
export class Conv2D implements Module {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  readonly stride: number;
  readonly padding: "valid" | "same";

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: Conv2DOptions,
  ) {
    const name = opts.name ?? "conv";
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? "valid";
    this.w = uniformInit(
      [kernel, kernel, inChannels, outChannels],
      opts.initScale ?? 0.1,
      opts.seed,
      `${name}_w`,
    );
    this.b = tf.variable(
      tf.zeros([outChannels]),
      true,
      uniqueName(`${name}_b`),
    );
  }

  /** Convolves `x` of shape `[batch, height, width, inChannels]`. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.add<tf.Tensor4D>(this.applyWithoutBias(x), this.b);
  }

  /** The convolution alone, for a caller that adds the bias itself. */
  applyWithoutBias(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.w as tf.Tensor4D, this.stride, this.padding);
  }

  trainable(): tf.Variable[] {
    return [this.w, this.b];
  }

  state(): tf.Variable[] {
    return [];
  }
}
