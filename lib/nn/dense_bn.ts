/**
 * The seed's building block: a linear layer, batch normalization, then an
 * activation (`linear_layer` + `normalization_layer` in vae.py).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { activate, type Activation } from "./activations.ts";
import { BatchNorm, type NormTap } from "./batch_norm.ts";
import { Dense } from "./dense.ts";
import type { Module, NormMode } from "./module.ts";

/** Options for {@linkcode DenseBN}. */
export interface DenseBNOptions {
  /** Seed of the weight initialization. */
  seed: number;
  /** Activation after batch norm; default "linear". */
  activation?: Activation;
  /** Uniform init scale of the weights; default 0.1. */
  initScale?: number;
  /** False drops batch norm (for with/without comparisons). Default true. */
  batchNorm?: boolean;
  /** Variable name prefix. */
  name?: string;
}

/** `activation(BN(x @ W + b))`. */
export class DenseBN implements Module {
  readonly dense: Dense;
  readonly bn: BatchNorm | null;
  readonly activation: Activation;
  /** The layer's name (its variables' prefix), e.g. "enc0" or "fc1". */
  readonly name: string;

  constructor(inputs: number, outputs: number, opts: DenseBNOptions) {
    const name = opts.name ?? "dense_bn";
    this.name = name;
    this.dense = new Dense(inputs, outputs, {
      seed: opts.seed,
      initScale: opts.initScale,
      name,
    });
    this.bn = opts.batchNorm === false
      ? null
      : new BatchNorm(outputs, { name: `${name}_bn` });
    this.activation = opts.activation ?? "linear";
  }

  /**
   * Forward pass; `mode` picks minibatch or population statistics, `tap`
   * sees batch norm's input.
   */
  apply(x: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    if (!this.bn) return activate(this.dense.apply(x), this.activation);
    // The bias and activation go into batch norm's fused op.
    return this.bn.apply(this.dense.applyWithoutBias(x), mode, {
      bias: this.dense.b ?? undefined,
      activation: this.activation,
      tap,
    });
  }

  trainable(): tf.Variable[] {
    return [...this.dense.trainable(), ...(this.bn?.trainable() ?? [])];
  }

  state(): tf.Variable[] {
    return this.bn?.state() ?? [];
  }
}
