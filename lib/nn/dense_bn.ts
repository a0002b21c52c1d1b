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
import { deriveSeed } from "../random.ts";

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

/** Glorot and Bengio's uniform scale, `sqrt(6 / (inputs + outputs))`. */
export function glorotScale(inputs: number, outputs: number): number {
  return Math.sqrt(6 / (inputs + outputs));
}

/** How {@linkcode seededLayers} scales each layer's initial weights. */
export interface SeededLayerOptions {
  /** A fixed uniform scale, or one computed from the layer's sizes (e.g. {@linkcode glorotScale}). */
  initScale?: number | ((inputs: number, outputs: number) => number);
  /** False drops batch norm from every DenseBN made. Default true. */
  batchNorm?: boolean;
}

/** The layer makers {@linkcode seededLayers} returns. */
export interface SeededLayers {
  /** A DenseBN layer named `name`. */
  denseBN(
    inputs: number,
    outputs: number,
    activation: Activation,
    name: string,
  ): DenseBN;
  /** A plain Dense layer named `name` (no batch norm, no activation). */
  dense(inputs: number, outputs: number, name: string): Dense;
  /** DenseBN layers from `inputs` through `sizes`, named `${prefix}0`, `${prefix}1`, ... */
  stack(
    inputs: number,
    sizes: number[],
    activation: Activation,
    prefix: string,
  ): DenseBN[];
}

/**
 * Layer makers for one model: each layer's weights are seeded by its name
 * (`deriveSeed(seed, "init", name)`), so adding or removing a layer never
 * moves another layer's initialization.
 */
export function seededLayers(
  seed: number,
  opts: SeededLayerOptions = {},
): SeededLayers {
  const scale = (i: number, o: number) =>
    typeof opts.initScale === "function"
      ? opts.initScale(i, o)
      : opts.initScale;
  const denseBN = (
    inputs: number,
    outputs: number,
    activation: Activation,
    name: string,
  ) =>
    new DenseBN(inputs, outputs, {
      seed: deriveSeed(seed, "init", name),
      activation,
      batchNorm: opts.batchNorm,
      initScale: scale(inputs, outputs),
      name,
    });
  return {
    denseBN,
    dense: (inputs, outputs, name) =>
      new Dense(inputs, outputs, {
        seed: deriveSeed(seed, "init", name),
        initScale: scale(inputs, outputs),
        name,
      }),
    stack: (inputs, sizes, activation, prefix) => {
      const dims = [inputs, ...sizes];
      return sizes.map((s, i) =>
        denseBN(dims[i], s, activation, `${prefix}${i}`)
      );
    },
  };
}
