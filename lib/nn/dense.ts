/**
 * A fully connected layer, `x @ W + b`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Module, uniformInit, uniqueName } from "./module.ts";

/** Options for {@linkcode Dense}. */
export interface DenseOptions {
  /** Seed of the weight initialization. */
  seed: number;
  /** Weights are uniform in [-initScale, initScale]; default 0.1 as in the seed. */
  initScale?: number;
  /** Whether to add a bias (a bias before batch norm is redundant but faithful). */
  bias?: boolean;
  /** Variable name prefix. */
  name?: string;
}

/** A dense layer with weights `[inputs, outputs]` and a zero-initialized bias. */
export class Dense implements Module {
  readonly w: tf.Variable;
  readonly b: tf.Variable | null;

  constructor(
    readonly inputs: number,
    readonly outputs: number,
    opts: DenseOptions,
  ) {
    const name = opts.name ?? "dense";
    this.w = uniformInit(
      [inputs, outputs],
      opts.initScale ?? 0.1,
      opts.seed,
      `${name}_w`,
    );
    this.b = opts.bias === false
      ? null
      : tf.variable(tf.zeros([outputs]), true, uniqueName(`${name}_b`));
  }

  /** `x @ W + b` for `x` of shape `[batch, inputs]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = this.applyWithoutBias(x);
    return this.b ? tf.add<tf.Tensor2D>(y, this.b) : y;
  }

  /** `x @ W`, for a caller that adds the bias itself (fused with more). */
  applyWithoutBias(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.w);
  }

  trainable(): tf.Variable[] {
    return this.b ? [this.w, this.b] : [this.w];
  }

  state(): tf.Variable[] {
    return [];
  }
}
