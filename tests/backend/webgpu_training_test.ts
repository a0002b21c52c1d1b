/**
 * The first training steps of each week's model on "webgpu" against "cpu",
 * from the same initial weights and data, with the optimizer its notebook
 * uses: the losses, every trainable variable and the batch-norm population
 * statistics after the steps, within float32 tolerance. The models are the
 * weeks' architectures at tiny widths (the CI's software device is slow).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { BNConvNet } from "../../lib/models/bn_convnet.ts";
import { ConvVAE } from "../../lib/models/conv_vae.ts";
import { FFVAE } from "../../lib/models/ff_vae.ts";
import { M1 } from "../../lib/models/m1.ts";
import { M2 } from "../../lib/models/m2.ts";
import { MnistClassifier } from "../../lib/models/mnist_classifier.ts";
import { SSVAE } from "../../lib/models/ss_vae.ts";
import type { Module } from "../../lib/nn/module.ts";
import { makeOptimizer, type OptimizerSpec } from "../../lib/optim/mod.ts";
import { trainStep } from "../../lib/train.ts";
import {
  assertClose,
  randn,
  type TestBackend,
  webgpuTestGate,
} from "./test_util.ts";

const gate = await webgpuTestGate();

const STEPS = 2;

interface Case {
  /** Builds the model (weights from its seed: the same on every backend). */
  model: () => Module;
  /** One step's loss of a batch; `step` picks the batch and the noise. */
  loss: (model: Module, step: number) => tf.Scalar;
  optimizer: OptimizerSpec;
}

/** A batch of `shape` in [0, 1] (images), from `seed`. */
function images<T extends tf.Tensor = tf.Tensor>(
  shape: number[],
  seed: number,
): T {
  const v = randn(tf.util.sizeFromShape(shape), seed);
  for (let i = 0; i < v.length; i++) v[i] = 1 / (1 + Math.exp(-v[i]));
  return tf.tensor(v, shape) as T;
}

/** A Week 10 batch: `nl` labelled images (one-hot labels) and `nu` unlabelled. */
function semiBatch(nl: number, nu: number, seed: number) {
  return {
    labelled: {
      x: images<tf.Tensor2D>([nl, 784], seed),
      y: tf.oneHot(labels(nl, 10, seed + 1), 10).toFloat() as tf.Tensor2D,
    },
    unlabelled: images<tf.Tensor2D>([nu, 784], seed + 2),
  };
}

/**
 * Per-example weights of the labelled and unlabelled parts and of the
 * cross-entropy, of the order of Kingma's for a small set (any values that
 * weigh all three terms do: the test compares backends, not weightings).
 */
const WEEK10_WEIGHTS = {
  labelled: 0.025,
  unlabelled: 0.0225,
  classification: 1,
};

function labels(n: number, classes: number, seed: number): tf.Tensor1D {
  const v = randn(n, seed);
  return tf.tensor1d(
    Array.from(v, (x) => Math.floor(Math.abs(x * 997)) % classes),
    "int32",
  );
}

/** A small feed-forward VAE of the Week 11 race, on batches of 5 from `dataSeed`. */
function week11FFVAE(
  seed: number,
  dataSeed: number,
  optimizer: OptimizerSpec,
): Case {
  return {
    model: () =>
      new FFVAE({
        inputSize: 784,
        encSizes: [16],
        decSizes: [16],
        codeSize: 4,
        seed,
      }),
    loss: (m, step) =>
      (m as FFVAE).cost(
        images<tf.Tensor2D>([5, 784], dataSeed + step),
        "train",
        step,
      ).total,
    optimizer,
  };
}

const CASES: Record<string, Case> = {
  "Week 9 feed-forward VAE (nesterov)": {
    model: () =>
      new FFVAE({
        inputSize: 784,
        encSizes: [24, 16],
        decSizes: [16, 24],
        codeSize: 8,
        seed: 9,
      }),
    loss: (m, step) =>
      (m as FFVAE).cost(
        images<tf.Tensor2D>([6, 784], 100 + step),
        "train",
        7 + step,
      ).total,
    optimizer: { name: "nesterov", learningRate: 0.1 / 6, momentum: 0.9 },
  },
  "Week 11 convolutional VAE (rmsprop)": {
    model: () =>
      new ConvVAE({
        seed: 11,
        encChannels: [3, 4],
        hiddenSize: 16,
        codeSize: 8,
        decChannels: [4, 3],
      }),
    loss: (m, step) =>
      (m as ConvVAE).cost(
        images<tf.Tensor4D>([3, 28, 28, 1], 200 + step),
        "train",
        step,
      )
        .total,
    optimizer: { name: "rmsprop", learningRate: 1e-3 },
  },
  "Week 11 feed-forward VAE (adam)": week11FFVAE(12, 300, {
    name: "adam",
    learningRate: 1e-3,
  }),
  "Week 11 feed-forward VAE (the seed's rmsprop)": week11FFVAE(13, 400, {
    name: "rmsprop-rescaled",
    learningRate: 1e-3,
    momentum: 0.9,
  }),
  "Week 8 batch-norm convnet (nesterov)": {
    model: () => new BNConvNet({ seed: 8, width: 0.125, inputSize: 32 }),
    loss: (m, step) =>
      (m as BNConvNet).loss(
        images([4, 32, 32, 3], 500 + step) as tf.Tensor4D,
        labels(4, 2, 510 + step),
        "train",
      ).loss,
    optimizer: { name: "nesterov", learningRate: 0.01, momentum: 0.95 },
  },
  "Week 10 seed's semi-supervised VAE (adam)": {
    model: () =>
      new SSVAE({
        inputSize: 784,
        classes: 10,
        encSizes: [16, 12],
        decSizes: [12, 16],
        codeSize: 4,
        seed: 10,
      }),
    loss: (m, step) =>
      (m as SSVAE).cost(
        semiBatch(3, 4, 700 + 10 * step),
        "train",
        step,
        WEEK10_WEIGHTS,
      ).total,
    optimizer: { name: "adam", learningRate: 1e-3 },
  },
  "Week 10 M2, the sum over labels (adam)": {
    model: () =>
      new M2({
        inputSize: 784,
        classes: 10,
        codeSize: 4,
        classifierSizes: [12],
        encoderSizes: [12],
        decoderSizes: [12],
        seed: 20,
      }),
    loss: (m, step) =>
      (m as M2).cost(
        semiBatch(3, 4, 800 + 10 * step),
        "train",
        step,
        WEEK10_WEIGHTS,
      ).total,
    optimizer: { name: "adam", learningRate: 1e-3 },
  },
  "Week 10 M1, for M1+M2 (adam)": {
    model: () =>
      new M1({ inputSize: 784, hiddenSizes: [16, 12], codeSize: 4, seed: 30 }),
    loss: (m, step) =>
      (m as M1).cost(images<tf.Tensor2D>([5, 784], 900 + step), "train", step)
        .total,
    optimizer: { name: "adam", learningRate: 1e-3 },
  },
  "sample-score MNIST classifier (adam)": {
    model: () => new MnistClassifier({ seed: 6, filters: [3, 4], features: 8 }),
    loss: (m, step) =>
      (m as MnistClassifier).loss(
        images([4, 784], 600 + step) as tf.Tensor2D,
        labels(4, 10, 610 + step),
      ),
    optimizer: { name: "adam", learningRate: 2e-3 },
  },
};

/** Per variable: its name and values (a flat array). */
type Values = { name: string; values: number[] }[];

function read(vs: tf.Tensor[], names: string[]): Values {
  return vs.map((v, i) => ({
    name: names[i],
    values: Array.from(v.dataSync()),
  }));
}

/**
 * The first batch's loss and gradients; the trainable variables before and
 * after the first optimizer step; the losses of STEPS steps.
 */
async function train(backend: TestBackend, c: Case) {
  await initBackend({ backend });
  const model = c.model();
  const optimizer = makeOptimizer(c.optimizer);
  const vars = model.trainable();
  const names = vars.map((v) => v.name.replace(/_\d+$/, ""));
  try {
    const first = tf.variableGrads(() => c.loss(model, 0), vars);
    const grads = read(vars.map((v) => first.grads[v.name]), names);
    const firstLoss = first.value.dataSync()[0];
    tf.dispose([first.value, ...Object.values(first.grads)]);
    const before = read(vars, names);
    const losses: number[] = [];
    let stepped: Values = [];
    for (let s = 0; s < STEPS; s++) {
      losses.push(
        trainStep(optimizer, vars, () => ({ loss: c.loss(model, s) })).loss,
      );
      if (s === 0) stepped = read(vars, names);
    }
    return { firstLoss, grads, before, stepped, losses };
  } finally {
    optimizer.dispose();
    tf.dispose([...model.trainable(), ...model.state()]);
  }
}

function maxAbs(v: number[]): number {
  return v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

function maxDiff(a: number[], b: number[]): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

// Tolerances, relative to each variable's largest gradient and largest
// first update. Batch norm sums over the batch in another order on the GPU,
// which float32 rounding makes differ by up to ~1e-4 of the largest element
// (measured on the software device); the tolerances leave 5x of margin.
const GRAD_TOL = 5e-4;
const UPDATE_TOL = 5e-3;
// A gradient below this fraction of the model's largest is rounding noise
// of an exact zero: a bias before batch norm, whose shift the normalization
// removes. Normalizing optimizers (Adam, RMSProp) turn its sign into a full
// step, different on every backend, so such variables are checked for being
// noise on webgpu too rather than for their values. M2's first layer of
// q(z|x, y) sums each image's term over its ten enumerated labels, which puts
// its zero bias gradient at 1.5e-6 of the model's largest on cpu: 1e-5 is
// below every real gradient here (the smallest, the seed's semi-supervised
// VAE's mu_bn_b, is 8.8e-5 of its model's largest on cpu).
const NOISE = 1e-5;

for (const [name, c] of Object.entries(CASES)) {
  Deno.test({
    name: `webgpu: the first ${STEPS} training steps of the ${name} match cpu`,
    ignore: gate.ignore,
    async fn() {
      const expected = await train("cpu", c);
      const actual = await train("webgpu", c);
      assertClose([actual.firstLoss], [expected.firstLoss], 1e-5, "loss");
      assertClose(actual.losses, expected.losses, 1e-4, `${name} losses`);
      // The second loss differs from the first: the update was applied.
      assert.notEqual(expected.losses[0], expected.losses[1]);
      const top = Math.max(...expected.grads.map((g) => maxAbs(g.values)));
      let signals = 0;
      for (const [i, e] of expected.grads.entries()) {
        const a = actual.grads[i];
        assert.equal(a.name, e.name);
        if (maxAbs(e.values) <= NOISE * top) {
          assert.ok(
            maxAbs(a.values) <= 10 * NOISE * top,
            `${e.name}: the gradient is ${maxAbs(a.values)} on webgpu, ` +
              `noise (<= ${NOISE * top}) on cpu`,
          );
          continue;
        }
        signals++;
        const gradErr = maxDiff(a.values, e.values) / maxAbs(e.values);
        assert.ok(
          gradErr <= GRAD_TOL,
          `${e.name}: gradient off by ${gradErr} of its largest element ` +
            `(${maxAbs(e.values)} on cpu, the model's largest ${top})`,
        );
        const update = maxDiff(
          expected.stepped[i].values,
          expected.before[i].values,
        );
        const updateErr =
          maxDiff(actual.stepped[i].values, expected.stepped[i].values) /
          update;
        assert.ok(
          updateErr <= UPDATE_TOL,
          `${e.name}: first update off by ${updateErr} of its largest element`,
        );
      }
      assert.ok(
        signals >= expected.grads.length / 2,
        `${signals} signal variables`,
      );
    },
  });
}
