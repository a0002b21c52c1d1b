/**
 * The seed's feed-forward VAE with batch normalization at every layer
 * (vae.py, IFT6266 Week 9).
 *
 * - encoder: `encSizes` linear+BN layers, ReLU but the last (tanh); then two
 *   linear+BN heads, `mu` and `sigma = softplus(.)`; `z = mu + sigma * eps`.
 * - decoder: linear+BN from the code (no activation), ReLU linear+BN layers
 *   through `decSizes`, and a last linear+BN layer to the input size with hard
 *   tanh.
 * - cost, summed over the batch: `KL(q(z|x) || N(0, I)) + sum((x - y)^2)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ImageLayout } from "../data/images.ts";
import type { NormTap } from "../nn/batch_norm.ts";
import type { BatchNormSite } from "../nn/batch_norm_model.ts";
import { DenseBN, type SeededLayers, seededLayers } from "../nn/dense_bn.ts";
import type { NormMode } from "../nn/module.ts";
import { GaussianVAE } from "./vae.ts";

export { type VAECost, vaeCostTerms } from "./vae.ts";

/**
 * The seed's encoder (vae.py): linear + batch norm layers through
 * `sizes`, ReLU on each but the last, which is tanh.
 */
export function seedEncoder(
  layer: SeededLayers["denseBN"],
  inputs: number,
  sizes: number[],
): DenseBN[] {
  const dims = [inputs, ...sizes];
  return sizes.map((s, i) =>
    layer(dims[i], s, i < sizes.length - 1 ? "relu" : "tanh", `enc${i}`)
  );
}

/**
 * The seed's decoder: linear + batch norm layers from `inputs` through
 * `sizes` to `outputs`, the first linear, then ReLU, and hard tanh on the
 * output.
 */
export function seedDecoder(
  layer: SeededLayers["denseBN"],
  inputs: number,
  sizes: number[],
  outputs: number,
): DenseBN[] {
  const dims = [inputs, ...sizes, outputs];
  return dims.slice(1).map((s, i) =>
    layer(
      dims[i],
      s,
      i === 0 ? "linear" : i === dims.length - 2 ? "hardtanh" : "relu",
      `dec${i}`,
    )
  );
}

/** Architecture of {@linkcode FFVAE}. */
export interface FFVAEConfig {
  /** Input size (784 for MNIST). */
  inputSize: number;
  /** Encoder hidden sizes, e.g. [512, 512, 256]. */
  encSizes: number[];
  /** Decoder hidden sizes, e.g. [256, 512, 512]. */
  decSizes: number[];
  /** Code (latent) size, e.g. 384. */
  codeSize: number;
  /** Seed of the weight initialization. */
  seed: number;
  /** Uniform init scale; default 0.1 as in the seed. */
  initScale?: number;
}

/** A feed-forward VAE whose every layer is linear + batch norm. */
export class FFVAE extends GaussianVAE<tf.Tensor2D> {
  /** Its name in saved runs (see lib/runs.ts). */
  readonly kind = "ff_vae";
  /** It takes flattened images, `[batch, inputSize]`. */
  readonly inputLayout: ImageLayout = "flat";
  readonly encoder: DenseBN[];
  readonly muHead: DenseBN;
  readonly sigmaHead: DenseBN;
  readonly decoder: DenseBN[];

  constructor(readonly config: FFVAEConfig) {
    super();
    const { inputSize, encSizes, decSizes, codeSize } = config;
    if (encSizes.length === 0 || decSizes.length === 0) {
      throw new Error("FFVAE needs at least one encoder and one decoder size");
    }
    const layer = seededLayers(config.seed, { initScale: config.initScale })
      .denseBN;
    this.encoder = seedEncoder(layer, inputSize, encSizes);
    const last = encSizes[encSizes.length - 1];
    this.muHead = layer(last, codeSize, "linear", "mu");
    this.sigmaHead = layer(last, codeSize, "softplus", "sigma");
    this.decoder = seedDecoder(layer, codeSize, decSizes, inputSize);
  }

  /** q(z|x): the code's mean and standard deviation. */
  encode(
    x: tf.Tensor2D,
    mode: NormMode,
    tap?: NormTap,
  ): { mu: tf.Tensor2D; sigma: tf.Tensor2D } {
    let h = x;
    for (const l of this.encoder) h = l.apply(h, mode, tap);
    return {
      mu: this.muHead.apply(h, mode, tap),
      sigma: this.sigmaHead.apply(h, mode, tap),
    };
  }

  /** The reconstruction (or sample) for codes `z`, in [-1, 1]. */
  decode(z: tf.Tensor2D, mode: NormMode, tap?: NormTap): tf.Tensor2D {
    let h = z;
    for (const l of this.decoder) h = l.apply(h, mode, tap);
    return h;
  }

  /** Every batch-norm layer, encoder first; each sees one value per example. */
  batchNormSites(): BatchNormSite[] {
    return this.layers().flatMap((l) =>
      l.bn ? [{ name: l.name, bn: l.bn, valuesPerExample: 1 }] : []
    );
  }

  /** Every layer, in the order the data flows. */
  layers(): DenseBN[] {
    return [...this.encoder, this.muHead, this.sigmaHead, ...this.decoder];
  }

  trainable(): tf.Variable[] {
    return this.layers().flatMap((l) => l.trainable());
  }

  state(): tf.Variable[] {
    return this.layers().flatMap((l) => l.state());
  }
}
