/**
 * The benchmark's workloads: one training step of the seed's models on a fixed
 * random batch, built on whichever tfjs backend is active, and the timing loop
 * shared by every measurement.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { BNConvNet } from "../lib/models/bn_convnet.ts";
import { ConvVAE } from "../lib/models/conv_vae.ts";
import { FFVAE } from "../lib/models/ff_vae.ts";
import { disposeModule, type Module } from "../lib/nn/module.ts";
import { NesterovMomentum } from "../lib/optim/nesterov.ts";
import { trainStep } from "../lib/train.ts";

/** The models the bench knows, by the name used in its output. */
export const MODEL_KINDS = ["ffvae", "convnet", "convvae"] as const;
/** A model kind: "ffvae", "convnet" or "convvae". */
export type ModelKind = typeof MODEL_KINDS[number];

/** One benchmark case: a model at a batch size, e.g. `ffvae_bs100`. */
export interface BenchCase {
  /** "ffvae", "convnet" or "convvae". */
  model: ModelKind;
  /** Minibatch size. */
  batch: number;
}

/**
 * The default cases: the VAE at 100 and 1000, the convnet at 10 and 100, the
 * convolutional VAE at the seed's 128.
 */
export const DEFAULT_CASES: readonly BenchCase[] = [
  { model: "ffvae", batch: 100 },
  { model: "ffvae", batch: 1000 },
  { model: "convnet", batch: 10 },
  { model: "convnet", batch: 100 },
  { model: "convvae", batch: 128 },
];

/** The case's name in the output, e.g. "convnet_bs100". */
export function caseName(c: BenchCase): string {
  return `${c.model}_bs${c.batch}`;
}

/** Parses a name like "ffvae_bs100" back into a case. */
export function parseCase(name: string): BenchCase {
  const m = /^(ffvae|convnet|convvae)_bs(\d+)$/.exec(name.trim());
  if (!m || Number(m[2]) < 1) {
    throw new Error(
      `Unknown model "${name}"; use ffvae_bs<N>, convnet_bs<N> or ` +
        `convvae_bs<N>, e.g. ` +
        DEFAULT_CASES.map(caseName).join(","),
    );
  }
  return { model: m[1] as ModelKind, batch: Number(m[2]) };
}

/** A ready-to-run training step; `dispose` frees its model, data and optimizer. */
export interface Workload {
  /** One optimizer step on the fixed batch; returns the loss. */
  step(): number;
  /** The loss and its gradients only (no update), for the profile's split. */
  gradients(): number;
  dispose(): void;
}

/**
 * Builds `c`'s model on the active backend, with the architecture the
 * notebooks train: the VAE is encoder 512-512-256, 384 code units, decoder
 * 256-512-512 on 784 inputs (the seed's learning rate 0.1 over the batch
 * size, as its cost is summed); the convnet takes 48x48x3 images (mean
 * cross-entropy, learning rate 0.01); the convolutional VAE is the seed's
 * (conv_vae.py: 28x28x1 images in [0, 1], convolutions 64-128, 512 hidden
 * and code units, decoder 128-64-1; learning rate 0.01 over the batch size,
 * summed cost). All use Nesterov momentum 0.9.
 */
export function buildWorkload(c: BenchCase, seed = 1): Workload {
  let model: Module;
  let optimizer: NesterovMomentum;
  let inputs: tf.Tensor[];
  let loss: () => tf.Scalar;
  let step = 0;
  if (c.model === "ffvae") {
    const vae = new FFVAE({
      inputSize: 784,
      encSizes: [512, 512, 256],
      decSizes: [256, 512, 512],
      codeSize: 384,
      seed,
    });
    const x = tf.randomUniform(
      [c.batch, 784],
      0,
      1,
      "float32",
      seed,
    ) as tf.Tensor2D;
    model = vae;
    inputs = [x];
    optimizer = new NesterovMomentum(0.1 / c.batch, 0.9);
    loss = () => vae.cost(x, "train", seed + step).total;
  } else if (c.model === "convvae") {
    const vae = new ConvVAE({ seed });
    const x = tf.randomUniform(
      [c.batch, 28, 28, 1],
      0,
      1,
      "float32",
      seed,
    ) as tf.Tensor4D;
    model = vae;
    inputs = [x];
    optimizer = new NesterovMomentum(0.01 / c.batch, 0.9);
    loss = () => vae.cost(x, "train", seed + step).total;
  } else {
    const net = new BNConvNet({ seed });
    const x = tf.randomNormal(
      [c.batch, 48, 48, 3],
      0,
      1,
      "float32",
      seed,
    ) as tf.Tensor4D;
    const labels = tf.tidy(() =>
      tf.cast(tf.randomUniform([c.batch], 0, 2, "float32", seed + 1), "int32")
        .toFloat()
    ) as tf.Tensor1D;
    model = net;
    inputs = [x, labels];
    optimizer = new NesterovMomentum(0.01, 0.9);
    loss = () => net.loss(x, labels, "train").loss;
  }
  const variables = model.trainable();
  return {
    step() {
      step++;
      return tf.tidy(() =>
        trainStep(optimizer, variables, () => ({ loss: loss() })).loss
      );
    },
    gradients() {
      step++;
      return tf.tidy(() =>
        tf.variableGrads(loss, variables).value.dataSync()[0]
      );
    },
    dispose() {
      optimizer.dispose();
      disposeModule(model);
      for (const t of inputs) t.dispose();
    },
  };
}

/** How long to time: a fixed step count, or at least `seconds` (and 3 steps). */
export interface TimingOptions {
  /** Untimed steps first. */
  warmup: number;
  /** Minimum timed seconds when `steps` is 0. */
  seconds: number;
  /** Exactly this many timed steps; 0 means "until `seconds` passed". */
  steps: number;
}

/** Steps timed and their wall-clock seconds. */
export interface Timing {
  steps: number;
  seconds: number;
}

/**
 * Warm-up lasts at least this long, so that the BLAS threads of the process
 * timed just before (PyTorch's, or ours) have stopped spinning.
 */
export const MIN_WARMUP_SECONDS = 0.25;

/** Runs `step` as `opts` say and returns the timed steps and seconds. */
export function timeSteps(step: () => unknown, opts: TimingOptions): Timing {
  const w0 = performance.now();
  for (let i = 0; i < opts.warmup; i++) step();
  while (
    opts.warmup > 0 && performance.now() - w0 < MIN_WARMUP_SECONDS * 1000
  ) {
    step();
  }
  let n = 0;
  const t0 = performance.now();
  while (true) {
    step();
    n++;
    const seconds = (performance.now() - t0) / 1000;
    const done = opts.steps > 0
      ? n >= opts.steps
      : n >= 3 && seconds >= opts.seconds;
    if (done) return { steps: n, seconds };
  }
}
